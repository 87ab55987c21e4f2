// Where verification keys come from. Keys are found only by `kid`/`alg` in a key set this
// service fetched itself from a configured URL; header `jku`, `x5u`, `x5c` and `jwk` are never
// followed (the subject-token verifier refuses them before this point).

import {
  createLocalJWKSet,
  type CryptoKey as JoseCryptoKey,
  type JSONWebKeySet,
  type JWK,
  type JWSHeaderParameters,
  errors as joseErrors,
} from 'jose';
import type { Clock } from './clock.ts';
import { callTimeout } from './deadline.ts';
import { invalidRequest, OAuthError, temporarilyUnavailable } from './errors.ts';
import { isAllowedUrl } from './urls.ts';

export type KeyResolver = (header: JWSHeaderParameters) => Promise<JoseCryptoKey | Uint8Array>;

export interface RemoteKeySetOptions {
  /** The issuer, for discovery (`<issuer>/.well-known/openid-configuration`) when no jwksUri is set. */
  readonly issuer: string;
  readonly jwksUri?: string | undefined;
  readonly clock: Clock;
  readonly fetch?: typeof fetch;
  /** Milliseconds a fetched key set is used before it is refreshed (default 10 min). */
  readonly maxAgeMs?: number;
  /** Milliseconds after a fetch before an unknown `kid` may trigger another (default 30 s). */
  readonly cooldownMs?: number;
  /** Milliseconds a stale key set keeps serving while the issuer is unreachable (default 24 h). */
  readonly staleIfErrorMs?: number;
  /** Deadline of one HTTP fetch, in milliseconds (default 3000). */
  readonly timeoutMs?: number;
}

const MAX_DOCUMENT_BYTES = 256 * 1024;

class FetchFailed extends Error {
  override readonly name = 'FetchFailed';
}

/** Reads a body as text, stopping (and cancelling the stream) past `limit` bytes. */
async function readLimited(response: Response, limit: number): Promise<string> {
  if (!response.body) return '';
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    size += chunk.byteLength;
    if (size > limit) {
      await response.body.cancel().catch(() => undefined);
      throw new FetchFailed('document too large');
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

async function fetchJson(fetchFn: typeof fetch, url: string, timeoutMs: number): Promise<unknown> {
  let response: Response;
  try {
    response = await fetchFn(url, {
      headers: { accept: 'application/json' },
      redirect: 'error',
      signal: AbortSignal.timeout(callTimeout(timeoutMs)),
    });
  } catch (error) {
    throw new FetchFailed(`GET ${url}: ${(error as Error).name}`, { cause: error });
  }
  if (response.status !== 200) {
    await response.body?.cancel();
    throw new FetchFailed(`GET ${url}: HTTP ${response.status}`);
  }
  const declared = Number(response.headers.get('content-length') ?? 0);
  if (declared > MAX_DOCUMENT_BYTES) {
    await response.body?.cancel();
    throw new FetchFailed(`GET ${url}: document too large`);
  }
  let text: string;
  try {
    text = await readLimited(response, MAX_DOCUMENT_BYTES);
  } catch (error) {
    if (error instanceof FetchFailed) throw new FetchFailed(`GET ${url}: ${error.message}`);
    throw new FetchFailed(`GET ${url}: ${(error as Error).name}`, { cause: error });
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new FetchFailed(`GET ${url}: not JSON`);
  }
}

/** Keeps only well-formed public keys: a JWK with private members is dropped, not trusted. */
export function publicKeySet(document: unknown): JSONWebKeySet {
  const keys = (document as { keys?: unknown })?.keys;
  if (!Array.isArray(keys)) throw new FetchFailed('not a JWK Set');
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

/**
 * A remote JWK Set fetched lazily, cached, refreshed after `maxAgeMs`, refetched for an unknown
 * `kid` at most once per cooldown, and served stale while the issuer is down.
 */
export function remoteKeySet(options: RemoteKeySetOptions): KeyResolver {
  const fetchFn = options.fetch ?? fetch;
  const maxAge = options.maxAgeMs ?? 600_000;
  const cooldown = options.cooldownMs ?? 30_000;
  const staleIfError = options.staleIfErrorMs ?? 86_400_000;
  const timeout = options.timeoutMs ?? 3000;
  let jwksUri = options.jwksUri;
  let current: { resolve: ReturnType<typeof createLocalJWKSet>; fetchedAt: number } | undefined;
  let lastAttempt = Number.NEGATIVE_INFINITY;
  let lastFailure = Number.NEGATIVE_INFINITY;
  let inflight: Promise<void> | undefined;

  async function discover(): Promise<string> {
    const url = `${options.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
    const metadata = (await fetchJson(fetchFn, url, timeout)) as { issuer?: unknown; jwks_uri?: unknown };
    if (metadata?.issuer !== options.issuer) throw new FetchFailed(`${url}: issuer does not match`);
    if (typeof metadata.jwks_uri !== 'string' || !isAllowedUrl(metadata.jwks_uri)) {
      throw new FetchFailed(`${url}: jwks_uri missing or not https`);
    }
    return metadata.jwks_uri;
  }

  async function refresh(): Promise<void> {
    lastAttempt = options.clock();
    try {
      jwksUri ??= await discover();
      const set = publicKeySet(await fetchJson(fetchFn, jwksUri, timeout));
      current = { resolve: createLocalJWKSet(set), fetchedAt: options.clock() };
    } catch (error) {
      lastFailure = lastAttempt;
      throw error;
    }
  }

  function refreshOnce(): Promise<void> {
    inflight ??= refresh().finally(() => {
      inflight = undefined;
    });
    return inflight;
  }

  const unavailable = (error: unknown) =>
    temporarilyUnavailable('jwks.unavailable', { cause: error, retryAfter: Math.ceil(cooldown / 1000) });

  return async (header) => {
    const now = options.clock();
    // After a failed refresh, a stale set is retried only once the cooldown has passed: while the
    // issuer is down, requests keep using it (within staleIfError) instead of each waiting for
    // another failing fetch.
    if (!current || (now - current.fetchedAt >= maxAge && now - lastFailure >= cooldown)) {
      try {
        await refreshOnce();
      } catch (error) {
        if (!current || now - current.fetchedAt >= staleIfError) throw unavailable(error);
      }
    } else if (now - current.fetchedAt >= staleIfError) {
      throw unavailable(new FetchFailed('the key set is older than staleIfError'));
    }
    try {
      return await current!.resolve(header);
    } catch (error) {
      if (!(error instanceof joseErrors.JWKSNoMatchingKey) || now - lastAttempt < cooldown)
        throw keyError(error);
    }
    try {
      await refreshOnce();
    } catch (error) {
      throw keyError(new joseErrors.JWKSNoMatchingKey(), error);
    }
    try {
      return await current!.resolve(header);
    } catch (error) {
      throw keyError(error);
    }
  };
}

function keyError(error: unknown, cause: unknown = error): OAuthError {
  if (error instanceof OAuthError) return error;
  if (error instanceof joseErrors.JWKSMultipleMatchingKeys)
    return invalidRequest('', { reason: 'ambiguous_kid', cause });
  return invalidRequest('', { reason: 'unknown_kid', cause });
}

/** The key set of this service's own signer, for chained exchanges and introspection. */
export function localKeySet(keys: () => Promise<readonly JWK[]>): KeyResolver {
  let cached: { source: readonly JWK[]; resolve: ReturnType<typeof createLocalJWKSet> } | undefined;
  return async (header) => {
    const source = await keys();
    if (cached?.source !== source) cached = { source, resolve: createLocalJWKSet({ keys: [...source] }) };
    try {
      return await cached.resolve(header);
    } catch (error) {
      throw keyError(error);
    }
  };
}
