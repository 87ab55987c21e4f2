// The one cache of a remote party's discovery document and JWK Set. Both sides that trust keys
// fetched over HTTP use it: the service, for its trusted issuers (`key-sets.ts`), and downstream
// services, for this STS (`lib/verify/verifier.ts`). Each side keeps its own key form (a jose
// resolver; a map of imported keys) and its own refusal reasons; the rules live here, once:
//
// - a fetch has a deadline, refuses redirects, wants HTTP 200 and JSON, and stops reading (and
//   cancels the stream) past 256 KiB, whatever the declared length;
// - discovery (`<issuer>/.well-known/openid-configuration`) must name exactly this issuer and an
//   https `jwks_uri` (http only on loopback); it is read once, and again after a failure;
// - only public keys are kept: a JWK with private (`d`) or symmetric (`k`) members is dropped;
// - one fetch at a time: concurrent callers share it;
// - a held key set is served as it is while younger than `maxAgeMs`, then still served while a
//   background refresh runs; an unknown `kid` may trigger a refetch at most once per `cooldownMs`;
//   while the party is down the held set keeps serving until it is `staleIfErrorMs` old (retried
//   once per cooldown after each failure), and past that only a fresh fetch may vouch for a key.

import type { JWK } from 'jose';
import { readBoundedText } from './bounded-body.ts';
import type { Clock } from './clock.ts';
import { isAllowedUrl } from './urls.ts';

/** The largest discovery document, JWK Set or introspection answer read, in bytes. */
export const MAX_DOCUMENT_BYTES = 256 * 1024;

/** A remote document could not be fetched or is not what it must be. */
export class RemoteFetchError extends Error {
  override readonly name = 'RemoteFetchError';
}

/** No key set can be used: none could be fetched, or the held one is past `staleIfErrorMs`. */
export class KeySetUnavailable extends Error {
  override readonly name = 'KeySetUnavailable';
  constructor(
    /** True when a key set is held but too old to trust. */
    readonly stale: boolean,
    options?: ErrorOptions,
  ) {
    super(stale ? 'the key set is older than staleIfError' : 'no key set could be fetched', options);
  }
}

export interface FetchJsonOptions {
  /** Deadline of the request, in milliseconds. */
  readonly timeoutMs: number;
  readonly method?: 'GET' | 'POST';
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
}

/**
 * Fetches a JSON document from a remote party: a deadline, no redirects, HTTP 200 only, at most
 * 256 KiB read. Throws `RemoteFetchError` naming the URL and what went wrong.
 */
export async function fetchJson(
  fetchFn: typeof fetch,
  url: string,
  options: FetchJsonOptions,
): Promise<unknown> {
  const method = options.method ?? 'GET';
  const what = `${method} ${url}`;
  let response: Response;
  try {
    response = await fetchFn(url, {
      method,
      headers: { accept: 'application/json', ...options.headers },
      ...(options.body === undefined ? {} : { body: options.body }),
      redirect: 'error',
      signal: AbortSignal.timeout(options.timeoutMs),
    });
  } catch (error) {
    throw new RemoteFetchError(`${what}: ${(error as Error).name}`, { cause: error });
  }
  if (response.status !== 200) {
    await response.body?.cancel().catch(() => undefined);
    throw new RemoteFetchError(`${what}: HTTP ${response.status}`);
  }
  let text: string | undefined;
  try {
    text = await readBoundedText(response, MAX_DOCUMENT_BYTES);
  } catch (error) {
    throw new RemoteFetchError(`${what}: ${(error as Error).name}`, { cause: error });
  }
  if (text === undefined) throw new RemoteFetchError(`${what}: document too large`);
  try {
    return JSON.parse(text);
  } catch {
    throw new RemoteFetchError(`${what}: not JSON`);
  }
}

/** Keeps only well-formed public keys: a JWK with private or symmetric members is dropped, not trusted. */
export function publicKeySet(document: unknown): { keys: JWK[] } {
  const keys = (document as { keys?: unknown } | null)?.keys;
  if (!Array.isArray(keys)) throw new RemoteFetchError('not a JWK Set');
  return {
    keys: keys.filter(
      (key): key is JWK =>
        typeof key === 'object' &&
        key !== null &&
        typeof (key as JWK).kty === 'string' &&
        !('d' in key) &&
        !('k' in key),
    ),
  };
}

/** A discovery document that names this issuer and an allowed `jwks_uri`. */
export interface Discovery {
  readonly jwksUri: string;
  /** The whole document, for other endpoints (read each through `isAllowedUrl`). */
  readonly document: Readonly<Record<string, unknown>>;
}

export interface RemoteJwksOptions<T> {
  /** The party's issuer, exactly as in its tokens and its discovery document. */
  readonly issuer: string;
  /** The JWKS URL, to skip discovery for keys. */
  readonly jwksUri?: string | undefined;
  readonly clock: Clock;
  readonly fetch?: typeof fetch;
  /** Deadline of one HTTP fetch, in milliseconds (default 3000). */
  readonly timeoutMs?: number;
  /** Cuts a fetch's deadline further (say, to the invocation's remaining time). */
  readonly callTimeout?: (limitMs: number) => number;
  /** Milliseconds a fetched key set is used before it is refreshed (default 10 min). */
  readonly maxAgeMs?: number;
  /**
   * Milliseconds after a fetch attempt before an unknown `kid` may trigger another, and after a
   * failed one before the next (default 30 s).
   */
  readonly cooldownMs?: number;
  /** Milliseconds a held key set keeps serving while the party is unreachable (default 24 h). */
  readonly staleIfErrorMs?: number;
  /** Turns the fetched public keys into the form the caller looks keys up in. */
  readonly build: (keys: JWK[]) => T | Promise<T>;
}

export interface RemoteJwks<T> {
  /**
   * The key set to look in now: the held one, synchronously, while it is younger than
   * `staleIfErrorMs` (past `maxAgeMs` a background refresh starts, a cooldown after any failed
   * one); otherwise a fresh fetch, rejected with `KeySetUnavailable` when there is nothing to trust.
   */
  current(): T | Promise<T>;
  /**
   * After a `kid` was not found: the set to look in again. It waits for a fetch in flight, or
   * starts one unless one was attempted within the cooldown; a failed refetch leaves the held set.
   */
  refetch(): Promise<T>;
  /** The party's discovery document (read once; read again after a failure). */
  discovery(): Promise<Discovery>;
  /** The cooldown, in milliseconds (how long a caller may be asked to wait before retrying). */
  readonly cooldownMs: number;
}

const noop = () => {};

/** A remote party's key set, fetched lazily and cached under the rules above. */
export function remoteJwks<T>(options: RemoteJwksOptions<T>): RemoteJwks<T> {
  const { issuer, clock } = options;
  const fetchFn = options.fetch ?? fetch;
  const limit = options.timeoutMs ?? 3000;
  const timeout = options.callTimeout ? () => options.callTimeout!(limit) : () => limit;
  const maxAge = options.maxAgeMs ?? 600_000;
  const cooldown = options.cooldownMs ?? 30_000;
  const staleIfError = options.staleIfErrorMs ?? 86_400_000;
  // staleIfError is the oldest a set may ever be: a maxAge above it does not extend it.
  const freshFor = Math.min(maxAge, staleIfError);

  let discovered: Promise<Discovery> | undefined;
  let jwksUri = options.jwksUri;
  let held: { value: T; fetchedAt: number } | undefined;
  let lastAttempt = Number.NEGATIVE_INFINITY;
  let lastFailure = Number.NEGATIVE_INFINITY;
  let inflight: Promise<T> | undefined;

  async function discover(): Promise<Discovery> {
    const url = `${issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
    const document = (await fetchJson(fetchFn, url, { timeoutMs: timeout() })) as Record<
      string,
      unknown
    > | null;
    if (document?.issuer !== issuer) throw new RemoteFetchError(`${url}: issuer does not match`);
    if (typeof document.jwks_uri !== 'string' || !isAllowedUrl(document.jwks_uri)) {
      throw new RemoteFetchError(`${url}: jwks_uri missing or not https`);
    }
    return { jwksUri: document.jwks_uri, document };
  }

  function discovery(): Promise<Discovery> {
    discovered ??= discover().catch((error: unknown) => {
      discovered = undefined;
      throw error;
    });
    return discovered;
  }

  async function load(): Promise<T> {
    lastAttempt = clock();
    try {
      jwksUri ??= (await discovery()).jwksUri;
      const { keys } = publicKeySet(await fetchJson(fetchFn, jwksUri, { timeoutMs: timeout() }));
      const value = await options.build(keys);
      held = { value, fetchedAt: clock() };
      return value;
    } catch (error) {
      lastFailure = lastAttempt;
      throw error;
    }
  }

  function refresh(): Promise<T> {
    inflight ??= load().finally(() => {
      inflight = undefined;
    });
    return inflight;
  }

  const unavailable = (stale: boolean) => (error: unknown) => {
    throw new KeySetUnavailable(stale, { cause: error });
  };

  function current(): T | Promise<T> {
    if (held === undefined) return refresh().catch(unavailable(false));
    const now = clock();
    const age = now - held.fetchedAt;
    if (age < freshFor) return held.value;
    // After a failed refresh the held set keeps serving, and the next attempt waits a cooldown.
    const mayFetch = inflight === undefined && now - lastFailure >= cooldown;
    if (age < staleIfError) {
      if (mayFetch) refresh().catch(noop);
      return held.value;
    }
    // Too old to trust: only a fresh fetch may vouch for a key, tried at most once per cooldown.
    if (inflight !== undefined) return inflight.catch(unavailable(true));
    if (!mayFetch) return Promise.reject(new KeySetUnavailable(true));
    return refresh().catch(unavailable(true));
  }

  async function refetch(): Promise<T> {
    if (inflight === undefined && held !== undefined && clock() - lastAttempt < cooldown) {
      return held.value;
    }
    try {
      return await refresh();
    } catch (error) {
      if (held === undefined) throw new KeySetUnavailable(false, { cause: error });
      if (clock() - held.fetchedAt >= staleIfError) throw new KeySetUnavailable(true, { cause: error });
      return held.value;
    }
  }

  return { current, refetch, discovery, cooldownMs: cooldown };
}
