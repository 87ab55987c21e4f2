// Structured audit and operational logging. One JSON object per line; never a raw token: tokens
// appear only as `tokenFingerprint` (a SHA-256 prefix) beside their `jti`, `sub` and policy.

import { AsyncLocalStorage } from 'node:async_hooks';
import { createHash } from 'node:crypto';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
}

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

/**
 * Fields every line written inside `run` carries, e.g. the Lambda request id and API Gateway's
 * request id as `correlation_id` (lambdas/define-handler.ts): one request's lines can be found
 * together across the handler, the exchange and the error handler without passing a logger down.
 * Only identifiers go here, never a token.
 */
const context = new AsyncLocalStorage<LogFields>();

/** Runs `fn` with `fields` added to every log line written during it (and its async work). */
export function withLogContext<T>(fields: LogFields, fn: () => T): T {
  return context.run(fields, fn);
}

/** First 16 hex digits of the token's SHA-256: enough to correlate, useless to replay. */
export const tokenFingerprint = (token: string): string =>
  createHash('sha256').update(token).digest('hex').slice(0, 16);

export function createLogger(
  level: LogLevel = 'info',
  write: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
): Logger {
  const emit =
    (at: Exclude<LogLevel, 'silent'>) =>
    (message: string, fields: LogFields = {}) => {
      if (RANK[at] < RANK[level]) return;
      const scoped = context.getStore();
      const record = scoped
        ? { level: at, time: new Date().toISOString(), message, ...scoped, ...fields }
        : { level: at, time: new Date().toISOString(), message, ...fields };
      // The replacer only changes Errors; with only primitive fields there is none to change, and
      // JSON.stringify is faster without one (every token exchange logs a line).
      write(primitivesOnly(fields) ? JSON.stringify(record) : JSON.stringify(record, errorReplacer));
    };
  return { debug: emit('debug'), info: emit('info'), warn: emit('warn'), error: emit('error') };
}

function primitivesOnly(fields: LogFields): boolean {
  for (const key in fields) {
    const value = fields[key];
    if (typeof value === 'object' && value !== null) return false;
  }
  return true;
}

/** Errors are logged by name and message only (SDK errors never carry tokens; stacks stay out). */
function errorReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message };
  return value;
}

export const silentLogger: Logger = createLogger('silent');

const attached = new WeakMap<object, LogFields>();

/**
 * Attaches audit fields to a thrown error for the one place that logs it: the exchange attaches
 * its audit record to a 5xx, and the handler's error middleware writes it into `request.failed`.
 */
export function attachLogFields(error: unknown, fields: LogFields): void {
  if (typeof error === 'object' && error !== null) attached.set(error, fields);
}

/** The fields attached to `error` by `attachLogFields`, or none. */
export function logFieldsOf(error: unknown): LogFields {
  return (typeof error === 'object' && error !== null && attached.get(error)) || {};
}
