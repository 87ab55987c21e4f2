// The CLI's input and output: exit codes, usage errors, secrets read from an argument, a file,
// stdin or the environment, and a stderr that redacts every secret it has seen. Tokens go to
// stdout only; stderr carries diagnostics and never a token.

import { readFileSync } from 'node:fs';

export const EXIT = {
  ok: 0,
  /** A bug: an unexpected exception. */
  internal: 1,
  /** Bad usage: unknown command or option, missing or unreadable input. */
  usage: 2,
  /** The answer is no: exchange refused, token inactive, no policy admits, invalid config. */
  refused: 3,
  /** The service failed: unreachable, 5xx, throttled after retries, unreadable answer. */
  unavailable: 4,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/**
 * Loads code that needs an optional peer dependency (the AWS SDK), turning "package not found"
 * into a usage error that says what to install; any other failure is left as it is.
 */
export async function withPeers<T>(
  what: string,
  packages: readonly string[],
  load: () => Promise<T>,
): Promise<T> {
  try {
    return await load();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND') {
      throw new UsageError(`${what}: install ${packages.join(' ')} (optional peer dependencies)`, {
        cause: error,
      });
    }
    throw error;
  }
}

export type Env = Readonly<Record<string, string | undefined>>;

/** Parsed options of one command, and the command itself. */
export type Values = Record<string, string | boolean | string[] | undefined>;
export type Command = (values: Values, positionals: string[], io: Io) => Promise<ExitCode>;

export const str = (values: Values, name: string) => values[name] as string | undefined;
export const list = (values: Values, name: string) => values[name] as string[] | undefined;
export const json = (value: unknown, compact: boolean) => `${JSON.stringify(value, null, compact ? 0 : 2)}\n`;

export interface Io {
  readonly env: Env;
  out(text: string): void;
  /** Diagnostics; every known secret is replaced by `[redacted]`. */
  err(text: string): void;
  /** Registers a value that must never reach stderr. */
  secret(value: string): string;
  readStdin(): Promise<string>;
}

/** Compact JWS or JWE: what a token looks like (so it is never read as a file name). */
const TOKEN_SHAPE = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]*){2,4}$/;
export const looksLikeToken = (text: string): boolean => TOKEN_SHAPE.test(text);

/**
 * Token-shaped text anywhere in a diagnostic, even cut short: a JOSE header (`eyJ...`) or two
 * long base64url runs joined by a dot. Redacted as well as every secret the CLI knows of.
 */
const TOKEN_FRAGMENT =
  /eyJ[A-Za-z0-9_-]{8,}[A-Za-z0-9_.-]*|[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}[A-Za-z0-9_.-]*/g;

export interface Streams {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly stdin: () => Promise<string>;
}

async function readProcessStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const processStreams: Streams = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  stdin: readProcessStdin,
};

export function createIo(
  env: Env = process.env,
  argv: readonly string[] = process.argv,
  streams: Streams = processStreams,
): Io {
  const secrets = new Set<string>();
  const secret = (value: string) => {
    if (value.length >= 4) secrets.add(value);
    return value;
  };
  // Anything token-shaped on the command line or in a token variable is a secret from the start.
  for (const arg of argv) if (looksLikeToken(arg)) secret(arg);
  for (const name of ['STS_SUBJECT_TOKEN', 'STS_ACTOR_TOKEN', 'STS_ADMIN_TOKEN', 'STS_TOKEN']) {
    const value = env[name];
    if (value) secret(value.trim());
  }
  const redact = (text: string) => {
    let result = text;
    for (const value of [...secrets].sort((a, b) => b.length - a.length)) {
      result = result.split(value).join('[redacted]');
    }
    return result.replace(TOKEN_FRAGMENT, '[redacted]');
  };
  let stdinRead = false;
  return {
    env,
    out: (text) => streams.stdout(text),
    err: (text) => streams.stderr(redact(text)),
    secret,
    readStdin() {
      if (stdinRead) throw new UsageError('stdin ("-") can be read only once');
      stdinRead = true;
      return streams.stdin();
    },
  };
}

function readFile(path: string, option: string, kind = 'a token'): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'error';
    // The value is not echoed: it may be a mistyped token rather than a path.
    throw new UsageError(`${option}: not ${kind} and not a readable file (${code})`);
  }
}

/**
 * A token given as `<token|file|->`: `-` reads stdin, a token-shaped value is the token, anything
 * else names a file. The result is registered as a secret.
 */
export async function readTokenArg(io: Io, value: string, option: string): Promise<string> {
  const text = value === '-' ? await io.readStdin() : looksLikeToken(value) ? value : readFile(value, option);
  const token = io.secret(text.trim());
  if (!token) throw new UsageError(`${option}: empty`);
  return token;
}

/** `--option` or the environment variable, read as a token argument; undefined when neither. */
export async function tokenOption(
  io: Io,
  value: string | undefined,
  option: string,
  envName: string,
): Promise<string | undefined> {
  if (value !== undefined) return readTokenArg(io, value, option);
  const fromEnv = io.env[envName]?.trim();
  return fromEnv ? io.secret(fromEnv) : undefined;
}

/** Inline JSON (starting with `{`) or a file of JSON; must be an object. */
export function readJsonObject(value: string, option: string): Record<string, unknown> {
  const text = value.trimStart().startsWith('{') ? value : readFile(value, option, 'inline JSON');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${option}: not valid JSON (${(error as Error).message})`);
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new UsageError(`${option}: expected a JSON object`);
  }
  return parsed as Record<string, unknown>;
}

/** Scopes given as repeated `--scope` options, each possibly space-separated. */
export const scopesOf = (values: readonly string[] | undefined): string[] => [
  ...new Set((values ?? []).flatMap((value) => value.split(/\s+/)).filter(Boolean)),
];
