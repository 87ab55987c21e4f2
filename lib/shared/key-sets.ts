// Where verification keys come from. Keys are found only by `kid`/`alg` in a key set this
// service fetched itself from a configured URL; header `jku`, `x5u`, `x5c` and `jwk` are never
// followed (the subject-token verifier refuses them before this point).

import {
  createLocalJWKSet,
  type CryptoKey as JoseCryptoKey,
  type JWK,
  type JWSHeaderParameters,
  errors as joseErrors,
} from 'jose';
import type { Clock } from './clock.ts';
import { callTimeout } from './deadline.ts';
import { invalidRequest, OAuthError, temporarilyUnavailable } from './errors.ts';
import { remoteJwks } from './remote-jwks.ts';

export type KeyResolver = (header: JWSHeaderParameters) => Promise<JoseCryptoKey | Uint8Array>;

export interface RemoteKeySetOptions {
  /** The issuer, for discovery (`<issuer>/.well-known/openid-configuration`) when no jwksUri is set. */
  readonly issuer: string;
  readonly jwksUri?: string | undefined;
  readonly clock: Clock;
  readonly fetch?: typeof fetch;
  /** Milliseconds a fetched key set is used before it is refreshed (default 10 min). */
  readonly maxAgeMs?: number;
  /** Milliseconds after a fetch attempt before an unknown `kid` or an old set may trigger another (default 30 s). */
  readonly cooldownMs?: number;
  /** Milliseconds a stale key set keeps serving while the issuer is unreachable (default 24 h). */
  readonly staleIfErrorMs?: number;
  /** Deadline of one HTTP fetch, in milliseconds (default 3000). */
  readonly timeoutMs?: number;
}

/**
 * A trusted issuer's remote JWK Set (through `remote-jwks.ts`: fetched lazily, cached, refreshed
 * after `maxAgeMs`, refetched for an unknown `kid` at most once per cooldown, served stale while
 * the issuer is down), as a jose key resolver. No usable key set is a 503 with `Retry-After`.
 */
export function remoteKeySet(options: RemoteKeySetOptions): KeyResolver {
  const keys = remoteJwks({
    ...options,
    callTimeout,
    build: (jwks) => createLocalJWKSet({ keys: jwks }),
  });
  const retryAfter = Math.ceil(keys.cooldownMs / 1000);
  return async (header) => {
    let resolve: ReturnType<typeof createLocalJWKSet>;
    try {
      resolve = await keys.current();
    } catch (error) {
      throw temporarilyUnavailable('jwks.unavailable', { cause: error, retryAfter });
    }
    try {
      return await resolve(header);
    } catch (error) {
      if (!(error instanceof joseErrors.JWKSNoMatchingKey)) throw keyError(error);
    }
    try {
      resolve = await keys.refetch();
    } catch (error) {
      throw keyError(new joseErrors.JWKSNoMatchingKey(), error);
    }
    try {
      return await resolve(header);
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
