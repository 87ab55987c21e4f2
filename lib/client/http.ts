// The client SDK's HTTP layer: form POSTs to the service with a per-attempt timeout, bounded
// retries of 429/502/503/504 and network failures (exponential backoff with full jitter, or the
// server's `Retry-After` plus a little jitter), and every failure translated into one typed
// `TokenExchangeError`. Nothing here ever puts a token into an error message.

import { type Clock, systemClock } from '../shared/clock.ts';
import type { OAuthErrorCode } from '../shared/errors.ts';

export type StsErrorCode =
  | OAuthErrorCode
  /** No HTTP response: connection refused or reset, DNS failure, timeout. */
  | 'network_error'
  /** A response the client cannot read (not JSON, missing fields, unexpected status). */
  | 'invalid_response'
  | 'access_denied'
  | (string & {});

export interface TokenExchangeErrorOptions {
  /** Seconds the server asked to wait (`Retry-After`), when it did. */
  readonly retryAfter?: number | undefined;
  /** Attempts made before giving up. */
  readonly attempts?: number;
  /** The server's `DPoP-Nonce` (RFC 9449 §8), with `use_dpop_nonce`. */
  readonly dpopNonce?: string | undefined;
  readonly cause?: unknown;
}

/** An answer of the service other than success, or a failure to get one. */
export class TokenExchangeError extends Error {
  override readonly name = 'TokenExchangeError';
  readonly retryAfter: number | undefined;
  readonly attempts: number;
  /** The nonce the server asks DPoP proofs to carry (`DPoP-Nonce`), when it sent one. */
  readonly dpopNonce: string | undefined;

  constructor(
    /** The RFC 6749 §5.2 `error` code, or `network_error` / `invalid_response`. */
    readonly code: StsErrorCode,
    /** HTTP status; 0 when no response arrived. */
    readonly status: number,
    /** The server's `error_description` (generic by design), or the client's own words. */
    readonly description: string,
    options: TokenExchangeErrorOptions = {},
  ) {
    super(description ? `${code}: ${description}` : code, { cause: options.cause });
    this.retryAfter = options.retryAfter;
    this.attempts = options.attempts ?? 1;
    this.dpopNonce = options.dpopNonce;
  }

  /**
   * The service understood the request and said no (an OAuth error, 401 or 403): asking again
   * will not help. Otherwise the service was unavailable or answered something unreadable.
   */
  get refused(): boolean {
    if (this.status < 400 || this.status >= 500 || this.status === 408 || this.status === 429) return false;
    return this.code !== 'invalid_response';
  }
}

export interface RetryOptions {
  /** Attempts in total, the first included (default 3; 1 disables retries). */
  readonly maxAttempts?: number;
  /** No attempt starts later than this after the first one (default 10 000 ms). */
  readonly maxElapsedMs?: number;
  /** First backoff step (default 250 ms); doubles per attempt, with full jitter. */
  readonly baseDelayMs?: number;
  /** Cap of a computed backoff step (default 4 000 ms); `Retry-After` is honoured beyond it. */
  readonly maxDelayMs?: number;
}

export interface HttpOptions {
  readonly fetch?: typeof fetch;
  readonly clock?: Clock;
  /** Waits between attempts (tests inject one that records and returns at once). */
  readonly sleep?: (ms: number) => Promise<void>;
  /** In [0, 1): the jitter source. */
  readonly random?: () => number;
  /** Per attempt (default 10 000 ms). */
  readonly timeoutMs?: number;
  readonly retry?: RetryOptions | false;
}

export interface HttpResponse {
  readonly status: number;
  readonly headers: Headers;
  readonly body: string;
}

export type FormFields = Readonly<Record<string, string | undefined>>;
export type HeadersInput = Readonly<Record<string, string>>;

export interface Http {
  /**
   * POSTs a form; resolves with a 2xx response, or throws TokenExchangeError after retries.
   * `headers` may be a function, called before each attempt (a DPoP proof is made per attempt).
   */
  postForm(
    url: string,
    fields: FormFields,
    headers?: HeadersInput | (() => Promise<HeadersInput>),
  ): Promise<HttpResponse>;
  readonly clock: Clock;
}

const RETRYABLE_STATUS = new Set([429, 502, 503, 504]);
const MAX_DESCRIPTION = 300;

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** `Retry-After` in seconds: delta-seconds or an HTTP-date (RFC 9110 §10.2.3). */
export function parseRetryAfter(value: string | null, now: number): number | undefined {
  if (!value) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text);
  const date = Date.parse(text);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, Math.ceil((date - now) / 1000));
}

/** A JOSE header (`eyJ...`) or two long base64url runs joined by a dot: token-shaped text. */
const TOKEN_LIKE =
  /eyJ[A-Za-z0-9_-]{8,}[A-Za-z0-9_.-]*|[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}[A-Za-z0-9_.-]*/g;

/** Server-provided text, made safe for one log or terminal line and never carrying a token. */
const clean = (text: string): string =>
  text
    .replace(/\p{Cc}+/gu, ' ')
    .replace(TOKEN_LIKE, '[redacted]')
    .trim()
    .slice(0, MAX_DESCRIPTION);

function codeForStatus(status: number): StsErrorCode {
  if (status === 429 || status === 503) return 'temporarily_unavailable';
  if (status === 400) return 'invalid_request';
  if (status === 401) return 'invalid_client';
  if (status === 403) return 'access_denied';
  if (status >= 500) return 'server_error';
  return 'invalid_response';
}

/** The typed error for a non-2xx response: the RFC 6749 §5.2 body when there is one. */
export function errorFromResponse(response: HttpResponse, now: number, attempts = 1): TokenExchangeError {
  const { status, headers, body } = response;
  let code: StsErrorCode = codeForStatus(status);
  let description = '';
  try {
    const parsed = JSON.parse(body) as unknown;
    if (parsed && typeof parsed === 'object' && typeof (parsed as { error?: unknown }).error === 'string') {
      const { error, error_description: text } = parsed as { error: string; error_description?: unknown };
      code = clean(error) || code;
      if (typeof text === 'string') description = clean(text);
    }
  } catch {
    // not JSON: keep the code the status implies
  }
  return new TokenExchangeError(code, status, description || `HTTP ${status}`, {
    retryAfter: parseRetryAfter(headers.get('retry-after'), now),
    attempts,
    dpopNonce: headers.get('dpop-nonce') ?? undefined,
  });
}

function networkError(error: unknown, timeoutMs: number, attempts: number): TokenExchangeError {
  const name = (error as { name?: string } | undefined)?.name;
  if (name === 'TimeoutError' || name === 'AbortError') {
    return new TokenExchangeError('network_error', 0, `no response within ${timeoutMs} ms`, {
      attempts,
      cause: error,
    });
  }
  const code = (error as { cause?: { code?: unknown } } | undefined)?.cause?.code;
  const detail = typeof code === 'string' ? ` (${code})` : '';
  return new TokenExchangeError('network_error', 0, `could not reach the service${detail}`, {
    attempts,
    cause: error,
  });
}

export function createHttp(options: HttpOptions = {}): Http {
  const doFetch = options.fetch ?? globalThis.fetch;
  const clock = options.clock ?? systemClock;
  const sleep = options.sleep ?? defaultSleep;
  const random = options.random ?? Math.random;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const retry = options.retry === false ? { maxAttempts: 1 } : (options.retry ?? {});
  const maxAttempts = Math.max(1, retry.maxAttempts ?? 3);
  const maxElapsedMs = retry.maxElapsedMs ?? 10_000;
  const baseDelayMs = retry.baseDelayMs ?? 250;
  const maxDelayMs = retry.maxDelayMs ?? 4_000;

  async function attempt(url: string, body: string, headers: Record<string, string>, n: number) {
    let response: Response;
    try {
      response = await doFetch(url, {
        method: 'POST',
        headers,
        body,
        redirect: 'error',
        signal: AbortSignal.timeout(timeoutMs),
      });
      return { status: response.status, headers: response.headers, body: await response.text() };
    } catch (error) {
      return networkError(error, timeoutMs, n);
    }
  }

  /** How long to wait before attempt `n + 1`, or undefined to give up. */
  function delayBefore(n: number, error: TokenExchangeError, started: number): number | undefined {
    if (n >= maxAttempts) return undefined;
    const backoff = random() * Math.min(maxDelayMs, baseDelayMs * 2 ** (n - 1));
    const delay = error.retryAfter === undefined ? backoff : error.retryAfter * 1000 + random() * baseDelayMs;
    return clock() + delay - started > maxElapsedMs ? undefined : Math.round(delay);
  }

  async function postForm(
    url: string,
    fields: FormFields,
    extraHeaders: HeadersInput | (() => Promise<HeadersInput>) = {},
  ) {
    const form = new URLSearchParams();
    for (const [name, value] of Object.entries(fields)) if (value !== undefined) form.set(name, value);
    const body = form.toString();
    const headers = {
      'Content-Type': 'application/x-www-form-urlencoded',
      Accept: 'application/json',
    };
    const started = clock();
    for (let n = 1; ; n++) {
      const extra = typeof extraHeaders === 'function' ? await extraHeaders() : extraHeaders;
      const outcome = await attempt(url, body, { ...headers, ...extra }, n);
      if (!(outcome instanceof TokenExchangeError) && outcome.status >= 200 && outcome.status < 300) {
        return outcome;
      }
      const error = outcome instanceof TokenExchangeError ? outcome : errorFromResponse(outcome, clock(), n);
      const retryable = outcome instanceof TokenExchangeError || RETRYABLE_STATUS.has(outcome.status);
      const delay = retryable ? delayBefore(n, error, started) : undefined;
      if (delay === undefined) throw error;
      await sleep(delay);
    }
  }

  return { postForm, clock };
}

/** Parses a JSON object body, or throws `invalid_response`. */
export function jsonObject(response: HttpResponse): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(response.body);
  } catch {
    value = undefined;
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    throw new TokenExchangeError('invalid_response', response.status, 'the response is not a JSON object');
  }
  return value as Record<string, unknown>;
}
