// Verification of tokens this service minted (RFC 9068 access tokens), against its own signer's
// public keys: the one check behind chained exchange (subject-token.ts), introspection and
// revocation. The pre-check (presented-token.ts) runs once, by whichever of them read the token;
// then `iss` = this service, the pinned algorithms, `typ: at+jwt`, a low-S ES256 signature, the
// signature, `nbf`/`iat` with the configured skew and `exp` exactly (our own clock set it), and
// `sub` and `jti` present.

import type { JWTPayload } from 'jose';
import type { Config } from '../config/config.ts';
import { SIGNING_ALGORITHMS, type SigningAlgorithm } from '../shared/claims.ts';
import { type Clock, epochSeconds } from '../shared/clock.ts';
import { invalidToken } from '../shared/errors.ts';
import type { ReadJws } from '../shared/jws.ts';
import { type KeyResolver, localKeySet } from '../shared/key-sets.ts';
import { isHighSToken } from '../shared/low-s.ts';
import { type Refuse, verifyPinnedJwt, verifySignature } from '../shared/pinned-jwt.ts';
import type { Signer } from '../signers/signer.ts';
import { AT_JWT, precheckToken } from './presented-token.ts';

export { AT_JWT, FORBIDDEN_HEADERS } from './presented-token.ts';

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
}

/** Resolves the verified claims, or throws `invalid_token` (401) with a private reason; 503s pass through. */
export type OwnTokenVerifier = (token: string, options?: OwnTokenOptions) => Promise<OwnTokenClaims>;

/**
 * Checks a token that already passed the pre-check (presented-token.ts), refusing with the
 * caller's `refuse`: the subject-token verifier hands over the token it read, so a chained
 * exchange reads it once.
 */
export type OwnTokenCheck = (
  read: ReadJws,
  options: OwnTokenOptions,
  refuse: Refuse,
) => Promise<OwnTokenClaims>;

export interface OwnTokenDeps {
  readonly config: Config;
  readonly signer: Signer;
  readonly clock: Clock;
  /** The key set to verify with; default: the signer's published keys. */
  readonly keys?: KeyResolver;
}

/** The check of a pre-checked token of this service (for the subject-token verifier). */
export function createOwnTokenCheck(deps: OwnTokenDeps): OwnTokenCheck {
  const { config, clock } = deps;
  const keys = deps.keys ?? localKeySet(() => deps.signer.publicKeys());
  const algorithms: string[] = [...OWN_ALGORITHMS];

  return async (read, options, refuse) => {
    const { token, header, payload } = read;
    if (payload.iss !== config.issuer) throw refuse('not_own_issuer');
    if (typeof header.alg !== 'string' || !algorithms.includes(header.alg)) throw refuse('alg_not_allowed');
    if (typeof header.typ !== 'string' || !AT_JWT.test(header.typ)) throw refuse('self_not_at_jwt');
    // We sign low-S only: the high-S spelling of one of our tokens is a copy under another fingerprint.
    if (isHighSToken(token, header.alg)) throw refuse('high_s');

    let claims: JWTPayload;
    if (options.ignoreTime) {
      await verifySignature(read, { algorithms, keys }, refuse);
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
      claims = await verifyPinnedJwt(read, pins, refuse);
      // The skew tolerates other issuers' clocks; our own `exp` was set by our clock and is exact.
      if (typeof claims.exp === 'number' && claims.exp <= epochSeconds(clock)) throw refuse('expired');
    }
    if (typeof claims.sub !== 'string' || claims.sub.length === 0) throw refuse('missing_sub');
    if (typeof claims.jti !== 'string') throw refuse('missing_jti');
    if (typeof claims.exp !== 'number') throw refuse('claim_exp');
    return claims as OwnTokenClaims;
  };
}

/** The verifier of this service's own tokens for introspection and revocation (`invalid_token`). */
export function createOwnTokenVerifier(deps: OwnTokenDeps): OwnTokenVerifier {
  const check = createOwnTokenCheck(deps);
  const refuse: Refuse = (reason, cause) =>
    invalidToken('the token could not be verified', { reason, cause });
  return async (token, options = {}) =>
    check(precheckToken(token, deps.config.maxTokenBytes, refuse), options, refuse);
}
