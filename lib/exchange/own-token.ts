// Verification of tokens this service minted (RFC 9068 access tokens), against its own signer's
// public keys: the one function behind chained exchange (subject-token.ts), introspection and
// revocation. Strict shape first, then the pinned algorithms, `typ: at+jwt`, a low-S ES256
// signature, `iss` = this service, the signature, `nbf`/`iat` with the configured skew and `exp`
// exactly (our own clock set it), and `sub` and `jti` present.

import { compactVerify, type JWTPayload } from 'jose';
import type { Config } from '../config/config.ts';
import { SIGNING_ALGORITHMS, type SigningAlgorithm } from '../shared/claims.ts';
import { type Clock, epochSeconds } from '../shared/clock.ts';
import { invalidToken } from '../shared/errors.ts';
import { type CompactJws, readCompactJws } from '../shared/jws.ts';
import { type KeyResolver, localKeySet } from '../shared/key-sets.ts';
import { isHighS } from '../shared/low-s.ts';
import { failure, verifyPinnedJwt } from '../shared/pinned-jwt.ts';
import type { TokenCheck } from '../shared/reasons.ts';
import type { Signer } from '../signers/signer.ts';

/** Header parameters that point at keys or change how the payload is read: always refused. */
export const FORBIDDEN_HEADERS = ['jku', 'x5u', 'x5c', 'jwk', 'crit', 'b64', 'zip', 'enc'] as const;

/** `typ` of an RFC 9068 JWT access token, with or without the `application/` prefix. */
export const AT_JWT = /^(application\/)?at\+jwt$/i;

/** The algorithms this service signs with, hence the only ones its own tokens may carry. */
export const OWN_ALGORITHMS: readonly SigningAlgorithm[] = SIGNING_ALGORITHMS;

export interface OwnTokenClaims extends JWTPayload {
  readonly iss: string;
  readonly sub: string;
  readonly exp: number;
  readonly jti: string;
}

export interface OwnTokenOptions {
  /** The `aud` the token must carry (a chained exchange: this service's issuer); default: any. */
  readonly audience?: string;
  /**
   * Accept a token whose time claims no longer hold (revocation by its holder): the shape,
   * header, issuer and signature are still checked, `exp`, `nbf` and `iat` are not.
   */
  readonly ignoreTime?: boolean;
  /** The token as `readCompactJws` already read it, to spare a second parse. */
  readonly jws?: CompactJws;
}

/** Resolves the verified claims, or throws `invalid_token` (401) with a private reason; 503s pass through. */
export type OwnTokenVerifier = (token: string, options?: OwnTokenOptions) => Promise<OwnTokenClaims>;

export interface OwnTokenDeps {
  readonly config: Config;
  readonly signer: Signer;
  readonly clock: Clock;
  /** The key set to verify with; default: the signer's published keys. */
  readonly keys?: KeyResolver;
}

export function createOwnTokenVerifier(deps: OwnTokenDeps): OwnTokenVerifier {
  const { config, clock } = deps;
  const keys = deps.keys ?? localKeySet(() => deps.signer.publicKeys());
  const algorithms: string[] = [...OWN_ALGORITHMS];
  const refuse = (reason: TokenCheck, cause?: unknown) =>
    invalidToken('the token could not be verified', { reason, cause });

  return async (token, options = {}) => {
    if (Buffer.byteLength(token) > config.maxTokenBytes) throw refuse('too_large');
    let jws = options.jws;
    if (!jws) {
      try {
        jws = readCompactJws(token);
      } catch (error) {
        throw refuse('malformed', error);
      }
    }
    const { header, payload } = jws;
    const forbidden = FORBIDDEN_HEADERS.find((name) => name in header);
    if (forbidden) throw refuse(`header_${forbidden}`);
    if ('cty' in header) throw refuse('nested_jwt');
    if (payload.iss !== config.issuer) throw refuse('not_own_issuer');
    if (typeof header.alg !== 'string' || !algorithms.includes(header.alg)) throw refuse('alg_not_allowed');
    if (typeof header.typ !== 'string' || !AT_JWT.test(header.typ)) throw refuse('self_not_at_jwt');
    // We sign low-S only: the high-S spelling of one of our tokens is a copy under another fingerprint.
    if (header.alg === 'ES256' && isHighS(Buffer.from(token.slice(token.lastIndexOf('.') + 1), 'base64url')))
      throw refuse('high_s');

    let claims: JWTPayload;
    if (options.ignoreTime) {
      try {
        await compactVerify(token, (protectedHeader) => keys(protectedHeader), { algorithms });
      } catch (error) {
        throw failure(error, refuse);
      }
      claims = payload as JWTPayload; // authentic now: the signature covers these very bytes
    } else {
      const pins = {
        issuer: config.issuer,
        audience: options.audience,
        algorithms,
        keys,
        clockSkew: config.clockSkew,
        clock,
      };
      claims = await verifyPinnedJwt(token, pins, refuse);
      // The skew tolerates other issuers' clocks; our own `exp` was set by our clock and is exact.
      if (typeof claims.exp === 'number' && claims.exp <= epochSeconds(clock)) throw refuse('expired');
    }
    if (typeof claims.sub !== 'string' || claims.sub.length === 0) throw refuse('missing_sub');
    if (typeof claims.jti !== 'string') throw refuse('missing_jti');
    if (typeof claims.exp !== 'number') throw refuse('claim_exp');
    return claims as OwnTokenClaims;
  };
}
