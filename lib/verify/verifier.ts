// The verifier downstream services use for this STS's access tokens (RFC 9068 `at+jwt`): keys
// from the STS's discovery document and JWKS, fetched once and imported once; pinned algorithms,
// issuer, audience, `typ`, required claims and scopes; and, optionally, a revocation check
// (introspection endpoint, a direct table read, or your own) behind a bounded LRU cache whose
// staleness you choose. The hot path is jose's `jwtVerify` with a prebuilt options object and a
// synchronous key lookup by `kid`: no allocation of its own beyond what jose does.

import {
  type CryptoKey,
  importJWK,
  type JWK,
  type JWSHeaderParameters,
  type JWTPayload,
  type JWTVerifyOptions,
  jwtVerify,
} from 'jose';
import { type Clock, epochSeconds } from '../shared/clock.ts';
import { insufficientScope, invalidToken, OAuthError, temporarilyUnavailable } from '../shared/errors.ts';
import { joseReason } from '../shared/jose-errors.ts';
import { isCanonicalBase64url } from '../shared/jws.ts';
import { isHighSToken } from '../shared/low-s.ts';
import type { Reason, TokenCheck } from '../shared/reasons.ts';
import { fetchJson, KeySetUnavailable, remoteJwks } from '../shared/remote-jwks.ts';
import { readTokenState, type TokenRecordReader } from '../shared/token-record.ts';
import { isAllowedUrl } from '../shared/urls.ts';
import { createDpopCheck, type DpopRequest, type DpopVerifierOptions } from './dpop.ts';

export type VerifierAlgorithm = 'ES256' | 'RS256' | 'PS256';

/** RFC 8693 §4.1 actor claim: who acts for the subject, prior actors nested inside. */
export interface ActClaim {
  readonly sub: string;
  readonly iss?: string;
  readonly act?: ActClaim;
}

/** The claims of a verified access token (RFC 9068 §2.2), plus any claims a policy copies. */
export interface VerifiedAccessTokenClaims extends JWTPayload {
  readonly iss: string;
  readonly sub: string;
  readonly aud: string | string[];
  readonly exp: number;
  readonly iat: number;
  readonly jti: string;
  readonly client_id: string;
  readonly scope?: string;
  readonly act?: ActClaim;
  /** RFC 9449 §6: the key a DPoP-bound token is bound to. */
  readonly cnf?: { readonly jkt: string };
}

/** Answers whether a token is still active (not revoked); throw to fail closed (503). */
export type RevocationLookup = (token: string, claims: VerifiedAccessTokenClaims) => Promise<boolean>;

export type HeadersInput = Readonly<Record<string, string>>;

export interface RevocationCheckOptions {
  /**
   * Where revocation is read. `'introspection'`: POST the token to the STS introspection
   * endpoint (taken from discovery unless `introspectionEndpoint` is set; authorize it with
   * `headers` or a signing `fetch`). A function: a lookup, such as `dynamoRevocationLookup` from
   * `serverless-sts/verifier/dynamodb` (a strongly consistent read of the STS table) or your own.
   * A `TokenRecordReader` (the service's own token stores are readers): the same liveness decision
   * the STS makes, over that reader.
   */
  readonly via: 'introspection' | TokenRecordReader | RevocationLookup;
  readonly introspectionEndpoint?: string;
  /** Headers of each introspection request, e.g. its credential. */
  readonly headers?: HeadersInput | (() => HeadersInput | Promise<HeadersInput>);
  /**
   * Milliseconds a "still active" answer is reused: the longest a revoked token keeps being
   * accepted (default 5000; 0 asks every time). "Revoked" answers are kept until the token expires.
   */
  readonly maxStaleMs?: number;
  /** Bound of the LRU cache, in tokens (default 10 000). */
  readonly maxEntries?: number;
}

export interface VerifierOptions {
  /** The STS issuer, exactly as in its tokens' `iss`; its discovery document is read from here. */
  readonly issuer: string;
  /** This service's audience: the token's `aud` must contain one of these. */
  readonly audience: string | readonly string[];
  /** Accepted `alg` values (default ES256, RS256, PS256: what the STS can sign with). */
  readonly algorithms?: readonly VerifierAlgorithm[];
  /** Scopes every token must carry; `verify` can ask for more per call. */
  readonly requiredScopes?: readonly string[];
  /** Claims that must be present (default RFC 9068's: iss, sub, aud, exp, iat, jti, client_id). */
  readonly requiredClaims?: readonly string[];
  /** Seconds of tolerance for `exp` and `nbf` (default 30). */
  readonly clockTolerance?: number;
  /** Longest accepted token, in characters (default 16 384). */
  readonly maxTokenLength?: number;
  /** The JWKS URL, to skip discovery. */
  readonly jwksUri?: string;
  readonly revocation?: RevocationCheckOptions;
  readonly clock?: Clock;
  readonly fetch?: typeof fetch;
  /** Deadline of one HTTP request to the STS, in milliseconds (default 3000). */
  readonly timeoutMs?: number;
  /** Milliseconds before the key set is refreshed in the background (default 10 min). */
  readonly jwksMaxAgeMs?: number;
  /** Milliseconds after a fetch before an unknown `kid` may trigger another (default 30 s). */
  readonly jwksCooldownMs?: number;
  /**
   * Milliseconds a key set keeps serving while the JWKS cannot be refetched (default 24 h); past
   * it, verification answers 503 instead of trusting keys the STS may have withdrawn.
   */
  readonly jwksStaleIfErrorMs?: number;
  /** DPoP (RFC 9449) proofs: algorithms, proof age, replay cache, nonces. Always on. */
  readonly dpop?: DpopVerifierOptions;
}

export interface AccessTokenVerifier {
  /**
   * Verifies a token and returns its claims; throws `invalid_token` (401), `insufficient_scope`
   * (403), or `temporarily_unavailable` (503) when the STS cannot be reached to decide.
   */
  verify(token: string, requiredScopes?: readonly string[]): Promise<VerifiedAccessTokenClaims>;
  /**
   * Verifies a token presented as `Authorization: DPoP <token>` with the request's `DPoP` proof
   * (RFC 9449 §7): the token must be bound and the proof made by its key for this request. Throws
   * as `verify` does, and `invalid_dpop_proof` / `use_dpop_nonce` (401) for the proof.
   */
  verifyDpop(
    token: string,
    request: DpopRequest,
    requiredScopes?: readonly string[],
  ): Promise<VerifiedAccessTokenClaims>;
  /** The proof algorithms accepted (for the `algs` of a `WWW-Authenticate: DPoP` challenge). */
  readonly dpopAlgorithms: readonly string[];
  /** The nonce a client must put in its next proof, when nonces are required. */
  dpopNonce(): string | undefined;
  /** Fetches discovery and keys now (say, at cold start) rather than on the first `verify`. */
  ready(): Promise<void>;
  /** The scopes every token must carry. */
  readonly requiredScopes: readonly string[];
}

const DEFAULT_ALGORITHMS: readonly VerifierAlgorithm[] = ['ES256', 'RS256', 'PS256'];
const RFC9068_CLAIMS = ['iss', 'sub', 'aud', 'exp', 'iat', 'jti', 'client_id'];

interface KeyEntry {
  readonly alg: string;
  readonly key: CryptoKey;
}
/** The STS's signing keys by `kid`, imported once per fetch. */
type KeyRing = ReadonlyMap<string, KeyEntry>;

const invalid = (reason: TokenCheck, cause?: unknown) =>
  invalidToken('the access token is invalid', { reason, cause });
const unavailable = (reason: Reason, cause?: unknown) => temporarilyUnavailable(reason, { cause });

/** Whether the space-separated `scope` contains `wanted` as a whole token (no allocation). */
export function hasScope(scope: unknown, wanted: string): boolean {
  if (typeof scope !== 'string' || wanted.length === 0) return false;
  for (let at = scope.indexOf(wanted); at >= 0; at = scope.indexOf(wanted, at + 1)) {
    const end = at + wanted.length;
    if (
      (at === 0 || scope.charCodeAt(at - 1) === 32) &&
      (end === scope.length || scope.charCodeAt(end) === 32)
    ) {
      return true;
    }
  }
  return false;
}

export function createAccessTokenVerifier(options: VerifierOptions): AccessTokenVerifier {
  const { issuer } = options;
  if (!isAllowedUrl(issuer)) throw new TypeError('issuer: expected an https URL (http only on loopback)');
  if (options.jwksUri !== undefined && !isAllowedUrl(options.jwksUri)) {
    throw new TypeError('jwksUri: expected an https URL (http only on loopback)');
  }
  const audience = typeof options.audience === 'string' ? [options.audience] : [...options.audience];
  if (audience.length === 0 || audience.some((aud) => !aud)) throw new TypeError('audience: required');
  const algorithms: string[] = [...(options.algorithms ?? DEFAULT_ALGORITHMS)];
  if (algorithms.length === 0 || algorithms.some((alg) => !DEFAULT_ALGORITHMS.includes(alg as never))) {
    throw new TypeError(`algorithms: expected some of ${DEFAULT_ALGORITHMS.join(', ')}`);
  }
  const requiredScopes = Object.freeze([...(options.requiredScopes ?? [])]);
  const clock = options.clock ?? Date.now;
  const fetchFn = options.fetch ?? fetch;
  const timeoutMs = options.timeoutMs ?? 3000;
  const maxTokenLength = options.maxTokenLength ?? 16_384;
  const clockTolerance = options.clockTolerance ?? 30;

  // Built once, reused by every call: jose reads it, never writes it.
  const joseOptions: JWTVerifyOptions = {
    issuer,
    audience,
    algorithms,
    typ: 'at+jwt',
    requiredClaims: [...(options.requiredClaims ?? RFC9068_CLAIMS)],
    clockTolerance,
  };
  if (options.clock) {
    Object.defineProperty(joseOptions, 'currentDate', { enumerable: true, get: () => new Date(clock()) });
  }

  const keys = remoteJwks<KeyRing>({
    issuer,
    jwksUri: options.jwksUri,
    clock,
    fetch: fetchFn,
    timeoutMs,
    maxAgeMs: options.jwksMaxAgeMs ?? 600_000,
    cooldownMs: options.jwksCooldownMs ?? 30_000,
    staleIfErrorMs: options.jwksStaleIfErrorMs ?? 86_400_000,
    build: importKeys,
  });

  /** Only public signing keys with a kid and a pinned alg, imported once. */
  async function importKeys(jwks: readonly JWK[]): Promise<KeyRing> {
    const ring = new Map<string, KeyEntry>();
    for (const jwk of jwks) {
      if (typeof jwk.kid !== 'string' || typeof jwk.alg !== 'string' || !algorithms.includes(jwk.alg))
        continue;
      if (jwk.use !== undefined && jwk.use !== 'sig') continue;
      try {
        ring.set(jwk.kid, { alg: jwk.alg, key: (await importJWK(jwk, jwk.alg)) as CryptoKey });
      } catch {
        // A key that does not import is as good as absent.
      }
    }
    return ring;
  }

  const keysUnavailable = (error: unknown): never => {
    const stale = error instanceof KeySetUnavailable && error.stale;
    throw unavailable(stale ? 'verifier.jwks_stale' : 'verifier.jwks_unavailable', error);
  };

  /** The hot path: a synchronous map lookup while the key set is held. */
  const getKey = (header: JWSHeaderParameters): CryptoKey | Promise<CryptoKey> => {
    if (typeof header.kid !== 'string') throw invalid('missing_kid');
    const ring = keys.current();
    if (ring instanceof Promise) return ring.then((fetched) => keyIn(fetched, header), keysUnavailable);
    const entry = ring.get(header.kid);
    if (entry !== undefined && entry.alg === header.alg) return entry.key;
    return keyIn(ring, header);
  };

  function keyIn(ring: KeyRing, header: JWSHeaderParameters): CryptoKey | Promise<CryptoKey> {
    const entry = ring.get(header.kid!);
    // An unknown kid may be a freshly rotated key: refetch, at most once per cooldown.
    if (entry === undefined) return keys.refetch().then((again) => knownKey(again, header), keysUnavailable);
    return knownKey(ring, header);
  }

  function knownKey(ring: KeyRing, header: JWSHeaderParameters): CryptoKey {
    const entry = ring.get(header.kid!);
    if (entry === undefined) throw invalid('unknown_kid');
    if (entry.alg !== header.alg) throw invalid('alg_mismatch');
    return entry.key;
  }

  const checkRevocation = options.revocation
    ? revocationCheck(options.revocation, {
        clock,
        toleranceMs: clockTolerance * 1000,
        introspect: (token) => introspect(token),
      })
    : undefined;

  async function introspect(token: string): Promise<boolean> {
    const settings = options.revocation!;
    let endpoint = settings.introspectionEndpoint;
    try {
      endpoint ??= introspectionEndpoint((await keys.discovery()).document);
    } catch (error) {
      throw unavailable('verifier.discovery_unavailable', error);
    }
    if (!endpoint) throw unavailable('verifier.no_introspection_endpoint');
    const extra = typeof settings.headers === 'function' ? await settings.headers() : settings.headers;
    let document: unknown;
    try {
      document = await fetchJson(fetchFn, endpoint, {
        timeoutMs,
        method: 'POST',
        headers: { ...extra, 'content-type': 'application/x-www-form-urlencoded' },
        body: `token=${encodeURIComponent(token)}`,
      });
    } catch (error) {
      throw unavailable('verifier.introspection_unavailable', error);
    }
    return (document as { active?: unknown } | null)?.active === true;
  }

  const dpop = createDpopCheck(options.dpop ?? {}, clock, clockTolerance);

  /** A bound token is useless without its key: as a bearer token it is refused (RFC 9449 §7.2). */
  async function verify(token: string, scopes?: readonly string[]): Promise<VerifiedAccessTokenClaims> {
    return check(token, scopes, undefined);
  }

  async function verifyDpop(
    token: string,
    request: DpopRequest,
    scopes?: readonly string[],
  ): Promise<VerifiedAccessTokenClaims> {
    return check(token, scopes, request);
  }

  async function check(
    token: string,
    scopes: readonly string[] | undefined,
    proof: DpopRequest | undefined,
  ): Promise<VerifiedAccessTokenClaims> {
    if (typeof token !== 'string') throw invalid('malformed');
    if (token.length > maxTokenLength) throw invalid('too_large');
    // One token, one spelling: jose reads the signature leniently (stray bits, white space), and
    // another spelling of a genuine token would verify here while the STS calls it inactive.
    const signature = token.slice(token.lastIndexOf('.') + 1);
    if (signature.length === 0 || !isCanonicalBase64url(signature)) throw invalid('malformed');
    let claims: VerifiedAccessTokenClaims;
    let alg: string | undefined;
    try {
      const verified = await jwtVerify<VerifiedAccessTokenClaims>(token, getKey, joseOptions);
      claims = verified.payload;
      alg = verified.protectedHeader.alg;
    } catch (error) {
      throw error instanceof OAuthError ? error : invalid(joseReason(error), error);
    }
    // The STS signs ES256 low-S and calls the other spelling of its signature inactive: so here.
    if (isHighSToken(token, alg)) throw invalid('high_s');
    if (typeof claims.jti !== 'string' || typeof claims.sub !== 'string') throw invalid('claim_types');
    if (proof !== undefined) await dpop(token, claims.cnf, proof);
    else if (claims.cnf !== undefined) throw invalid('bound_token_as_bearer');
    if (checkRevocation !== undefined) await checkRevocation(token, claims);
    for (let i = 0; i < requiredScopes.length; i++) {
      if (!hasScope(claims.scope, requiredScopes[i]!)) throw insufficient();
    }
    if (scopes !== undefined) {
      for (let i = 0; i < scopes.length; i++) {
        if (!hasScope(claims.scope, scopes[i]!)) throw insufficient();
      }
    }
    return claims;
  }

  async function ready(): Promise<void> {
    try {
      await keys.current();
      if (options.revocation?.via === 'introspection' && !options.revocation.introspectionEndpoint) {
        await keys.discovery();
      }
    } catch (error) {
      throw unavailable('verifier.jwks_unavailable', error);
    }
  }

  return {
    verify,
    verifyDpop,
    ready,
    requiredScopes,
    dpopAlgorithms: dpop.algorithms,
    dpopNonce: () => dpop.nonces?.current(),
  };
}

/** The discovery document's introspection endpoint, when it names an allowed one. */
function introspectionEndpoint(document: Readonly<Record<string, unknown>>): string | undefined {
  const endpoint = document.introspection_endpoint;
  return isAllowedUrl(endpoint) ? endpoint : undefined;
}

const insufficient = () =>
  insufficientScope('the access token lacks a required scope', { reason: 'insufficient_scope' });

interface CacheEntry {
  readonly active: boolean;
  /** Clock milliseconds until which the answer is reused. */
  readonly until: number;
}

interface RevocationCheckContext {
  readonly clock: Clock;
  readonly toleranceMs: number;
  readonly introspect: (token: string) => Promise<boolean>;
}

/**
 * The revocation check behind a bounded LRU cache keyed by `jti` (authentic: the signature was
 * verified first). Concurrent checks of one token share a lookup. Fails closed: when the
 * source cannot answer, the request fails with 503 rather than passing unchecked.
 */
function revocationCheck(
  settings: RevocationCheckOptions,
  context: RevocationCheckContext,
): (token: string, claims: VerifiedAccessTokenClaims) => Promise<void> {
  const { clock } = context;
  const maxStale = settings.maxStaleMs ?? 5000;
  const maxEntries = Math.max(1, settings.maxEntries ?? 10_000);
  const cache = new Map<string, CacheEntry>(); // insertion order is recency: first = least recent
  const pending = new Map<string, Promise<boolean>>();
  const { via } = settings;
  const lookup: RevocationLookup =
    via === 'introspection'
      ? (token) => context.introspect(token)
      : typeof via === 'function'
        ? via
        : async (_token, claims) =>
            (await readTokenState(via, claims.jti, epochSeconds(clock))).state === 'active';

  async function ask(token: string, claims: VerifiedAccessTokenClaims): Promise<boolean> {
    try {
      return await lookup(token, claims);
    } catch (error) {
      if (error instanceof OAuthError && error.status === 503) throw error;
      throw unavailable('verifier.revocation_unavailable', error);
    }
  }

  function remember(jti: string, entry: CacheEntry): void {
    cache.delete(jti);
    if (cache.size >= maxEntries) cache.delete(cache.keys().next().value!);
    cache.set(jti, entry);
  }

  return async (token, claims) => {
    const { jti } = claims;
    const now = clock();
    const hit = cache.get(jti);
    if (hit !== undefined && hit.until > now) {
      cache.delete(jti);
      cache.set(jti, hit);
      if (!hit.active) throw invalid('revoked');
      return;
    }
    let answer = pending.get(jti);
    if (answer === undefined) {
      answer = ask(token, claims).finally(() => pending.delete(jti));
      pending.set(jti, answer);
    }
    const active = await answer;
    if (active) {
      if (maxStale > 0) remember(jti, { active, until: now + maxStale });
      else if (hit !== undefined) cache.delete(jti);
      return;
    }
    // Revocation is final: remember it for as long as the token could otherwise pass.
    remember(jti, { active, until: claims.exp * 1000 + context.toleranceMs });
    throw invalid('revoked');
  };
}
