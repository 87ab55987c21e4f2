// The one jose call that verifies a presented JWT: signature by a key found only in the given
// key set, pinned issuer, audience and algorithms, `exp`/`nbf` with the skew, `exp` and `sub`
// required, and `iat` not in the future. Used for external subject/actor tokens and for this
// service's own tokens. A dependency failure (5xx) passes through; every other failure becomes
// the caller's own refusal with a precise reason.

import { type JWTPayload, jwtVerify } from 'jose';
import { type Clock, epochSeconds } from './clock.ts';
import { OAuthError } from './errors.ts';
import { joseReason } from './jose-errors.ts';
import type { KeyResolver } from './key-sets.ts';
import type { TokenCheck } from './reasons.ts';

export interface Pins {
  readonly issuer: string;
  /** Omitted only where the caller checks audience itself (own tokens at introspection). */
  readonly audience?: string | string[] | undefined;
  readonly algorithms: string[];
  readonly keys: KeyResolver;
  /** Seconds. */
  readonly clockSkew: number;
  readonly clock: Clock;
}

/** Builds the caller's own refusal for a failed check. */
export type Refuse = (check: TokenCheck, cause?: unknown) => OAuthError;

export async function verifyPinnedJwt(token: string, pins: Pins, refuse: Refuse): Promise<JWTPayload> {
  let claims: JWTPayload;
  try {
    ({ payload: claims } = await jwtVerify(token, (protectedHeader) => pins.keys(protectedHeader), {
      issuer: pins.issuer,
      ...(pins.audience === undefined ? {} : { audience: pins.audience }),
      algorithms: pins.algorithms,
      clockTolerance: pins.clockSkew,
      currentDate: new Date(pins.clock()),
      requiredClaims: ['exp', 'sub'],
    }));
  } catch (error) {
    throw failure(error, refuse);
  }
  if (typeof claims.iat === 'number' && claims.iat > epochSeconds(pins.clock) + pins.clockSkew) {
    throw refuse('iat_in_future');
  }
  return claims;
}

/** A 5xx from the key source passes through; anything else is the caller's refusal. */
export function failure(error: unknown, refuse: Refuse): OAuthError {
  if (error instanceof OAuthError && error.status >= 500) return error;
  return refuse(joseReason(error), error);
}
