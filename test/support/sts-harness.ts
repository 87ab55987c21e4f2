import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { type Config, parseConfig } from '../../lib/config/config.ts';
import { loadSettings } from '../../lib/config/settings.ts';
import type { Clock } from '../../lib/shared/clock.ts';
import type { Logger } from '../../lib/shared/log.ts';
import { createLocalSigner, generateSigningKey } from '../../lib/signers/local.ts';
import type { Signer } from '../../lib/signers/signer.ts';
import { MemoryStore } from '../../lib/stores/memory.ts';
import type { TokenStore } from '../../lib/stores/store.ts';
import { type LocalServer, startLocalServer } from '../../local/server.ts';
import type { HostileIssuer } from './hostile-issuer.ts';

/**
 * The STS as an attacker meets it: the local server (same handlers as Lambda) on loopback, a
 * config trusting one external issuer, raw HTTP requests, and the checks every refusal must pass.
 */
export const EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const JWT = 'urn:ietf:params:oauth:token-type:jwt';
export const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';
export const ID_TOKEN = 'urn:ietf:params:oauth:token-type:id_token';
export const FORM = 'application/x-www-form-urlencoded';
/** Downstream audiences the security config allows. */
export const API = 'https://api.acme.internal';
export const REPORTS = 'https://reports.acme.internal';

/** Real time plus an offset the test moves (cooldowns, cache ages, expiry). */
export interface AdjustableClock extends Clock {
  advance(seconds: number): void;
}

export function adjustableClock(): AdjustableClock {
  let offset = 0;
  return Object.assign(() => Date.now() + offset, {
    advance: (seconds: number) => {
      offset += seconds * 1000;
    },
  });
}

/**
 * The security tests' policy file: the external issuer `ext` (RS256 and ES256 only), users get
 * API or the STS itself (for chaining) with read/write, `narrow:*` subjects get API with read only,
 * `service:*` subjects of `ext` may act for users, and this service's own tokens chain to REPORTS.
 */
export function securityConfig(ext: HostileIssuer, overrides: Record<string, unknown> = {}) {
  return (base: string): Config => {
    ext.audience = base;
    const actors = [{ issuer: 'ext', subject: 'service:*' }];
    return parseConfig({
      issuer: base,
      tokenLifetime: { default: '5m', max: '15m' },
      clockSkew: '30s',
      trustedIssuers: [
        { name: 'ext', issuer: ext.issuer, algorithms: ['RS256', 'ES256'], audiences: [base] },
      ],
      policies: [
        {
          name: 'users',
          issuer: 'ext',
          subject: 'user:*',
          audiences: [API, base],
          scopes: ['read', 'write'],
          actors,
          copyClaims: ['email'],
        },
        { name: 'narrow', issuer: 'ext', subject: 'narrow:*', audiences: [API], scopes: ['read'] },
        {
          name: 'chained',
          issuer: 'self',
          subject: 'user:*',
          audiences: [REPORTS, base],
          scopes: ['read', 'write'],
          actors,
        },
      ],
      ...overrides,
    });
  };
}

export interface HttpAnswer {
  readonly status: number;
  readonly headers: Headers;
  readonly text: string;
  /** The JSON body, when it is JSON. */
  readonly body: Record<string, unknown> | undefined;
}

export interface RequestOptions {
  readonly method?: string;
  readonly path?: string;
  /** `null`: no Content-Type header at all. */
  readonly contentType?: string | null;
  readonly headers?: Record<string, string>;
}

export interface Harness {
  readonly sts: LocalServer;
  readonly clock: AdjustableClock;
  /** The TokenStore the server writes to. */
  readonly store: TokenStore;
  /** Sends a raw request to the STS (default: POST /token, form content type). */
  request(body: string | Uint8Array | undefined, options?: RequestOptions): Promise<HttpAnswer>;
  /** POST /token with grant_type=token-exchange plus `params`. */
  exchange(params: Record<string, string>): Promise<HttpAnswer>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  readonly config: (base: string) => Config;
  readonly store?: TokenStore;
  readonly signer?: Signer;
  readonly clock?: AdjustableClock;
  readonly adminToken?: string;
  /** Receives the audit log (default: silent). */
  readonly logger?: Logger;
  /** More environment for the server's settings (e.g. `AWS_ENDPOINT_URL_STS`). */
  readonly env?: Record<string, string>;
}

export const form = (params: Record<string, string>): string => new URLSearchParams(params).toString();

export async function send(url: string, body: string | Uint8Array | undefined, options: RequestOptions = {}) {
  const headers: Record<string, string> = { ...options.headers };
  const contentType = options.contentType === undefined ? FORM : options.contentType;
  if (contentType !== null) headers['content-type'] = contentType;
  const response = await fetch(url, { method: options.method ?? 'POST', headers, body });
  const text = await response.text();
  let json: Record<string, unknown> | undefined;
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, body: json };
}

export async function startHarness(options: HarnessOptions): Promise<Harness> {
  const dataDir = mkdtempSync(join(tmpdir(), 'sts-security-'));
  const clock = options.clock ?? adjustableClock();
  const store = options.store ?? new MemoryStore();
  const env: Record<string, string> = {
    PORT: '0',
    STS_DATA_DIR: dataDir,
    STS_LOG_LEVEL: 'silent',
    ...options.env,
  };
  if (options.adminToken) env.STS_ADMIN_TOKEN = options.adminToken;
  const sts = await startLocalServer({
    settings: loadSettings(env),
    config: options.config,
    signer: options.signer ?? (await createLocalSigner(generateSigningKey('ES256'), 'ES256')),
    store,
    clock,
    ...(options.logger ? { logger: options.logger } : {}),
  });
  const request = (body: string | Uint8Array | undefined, requestOptions: RequestOptions = {}) =>
    send(`${sts.url}${requestOptions.path ?? '/token'}`, body, requestOptions);
  return {
    sts,
    clock,
    store,
    request,
    exchange: (params) => request(form({ grant_type: EXCHANGE, ...params })),
    close: async () => {
      await sts.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Generic words only: no quotes, colons or braces, so no echo of what the caller sent. */
const GENERIC = /^[a-zA-Z0-9_ ./,+-]{1,100}$/;

/**
 * An RFC 6749 §5.2 refusal: the status and `error`, `Cache-Control: no-store`, JSON with nothing
 * but `error` and a generic `error_description`, no token, no stack, no SDK text.
 */
export function expectOAuthError(answer: HttpAnswer, status: number, error: string): void {
  expect({ status: answer.status, error: answer.body?.error }).toEqual({ status, error });
  expect(answer.headers.get('cache-control')).toBe('no-store');
  expect(answer.headers.get('content-type')).toBe('application/json');
  expectNothingInternal(answer);
  if (error === 'server_error') {
    expect(answer.body).toEqual({ error });
  } else {
    expect(Object.keys(answer.body ?? {}).sort()).toEqual(['error', 'error_description']);
    expect(answer.body?.error_description).toMatch(GENERIC);
  }
}

/** No token, JWT segment, stack frame or AWS SDK wording anywhere in the response. */
export function expectNothingInternal(answer: HttpAnswer): void {
  expect(answer.text).not.toMatch(/eyJ|access_token|\bat [\w.]+ \(|Exception|\$metadata|amazonaws|arn:aws/);
  for (const name of answer.headers.keys()) expect(name).not.toMatch(/^x-amz/);
}
