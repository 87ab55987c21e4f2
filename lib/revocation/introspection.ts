// RFC 7662 token introspection of this service's own tokens. A token is active only when its
// signature verifies against this service's signer keys, it is unexpired (our own `exp`, exactly,
// on every read, so lazy TTL deletion never matters), its jti was recorded, and neither the
// token, nor a token it was exchanged or delegated from, nor its subject or any actor in its
// `act` chain was revoked (strongly consistent reads, one decision: `readTokenState`). Anything
// else is exactly `{"active": false}`: the response never says why.

import type { JWTPayload } from 'jose';
import type { OwnTokenVerifier } from '../exchange/own-token.ts';
import { type Clock, epochSeconds } from '../shared/clock.ts';
import { OAuthError } from '../shared/errors.ts';
import { type Logger, tokenFingerprint } from '../shared/log.ts';
import type { Reason } from '../shared/reasons.ts';
import type { TokenStore } from '../stores/store.ts';
import { tokenState } from './revocation.ts';

export type IntrospectionResponse =
  | { readonly active: false }
  | (JWTPayload & { readonly active: true; readonly token_type: 'Bearer' | 'DPoP' });

export type Introspect = (token: string) => Promise<IntrospectionResponse>;

export interface IntrospectionDeps {
  readonly store: TokenStore;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly verifyOwnToken: OwnTokenVerifier;
}

const INACTIVE: IntrospectionResponse = Object.freeze({ active: false });

export function createIntrospection(deps: IntrospectionDeps): Introspect {
  const { store, clock, logger, verifyOwnToken } = deps;

  return async (token) => {
    const fields: Record<string, unknown> = { token: tokenFingerprint(token) };
    const inactive = (reason: Reason) => {
      logger.info('token.introspected', { ...fields, active: false, reason });
      return INACTIVE;
    };
    let claims: Awaited<ReturnType<OwnTokenVerifier>>;
    try {
      claims = await verifyOwnToken(token);
    } catch (error) {
      // An unavailable key source is not an inactive token: the resource server should retry.
      if (error instanceof OAuthError && error.status >= 500) throw error;
      return inactive(error instanceof OAuthError ? error.reason : 'invalid');
    }
    fields.jti = claims.jti;
    fields.sub = claims.sub;
    const state = await tokenState(store, claims.jti, epochSeconds(clock));
    if (state !== 'active') return inactive(state === 'unknown' ? 'unknown_jti' : state);
    logger.info('token.introspected', { ...fields, active: true });
    // RFC 7662 §2.2: the token's own claims (scope, client_id, sub, aud, iss, exp, iat, nbf, jti,
    // act, `cnf` of a DPoP-bound token (RFC 9449 §6.2), copied claims); `active` and `token_type`
    // are set last so no claim can shadow them.
    return { ...claims, active: true, token_type: claims.cnf === undefined ? 'Bearer' : 'DPoP' };
  };
}
