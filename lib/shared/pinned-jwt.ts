// The one verification of a presented JWT that was already read strictly (lib/shared/jws.ts):
// jose checks the signature by a key found only in the given key set, under the pinned algorithms
// (`compactVerify`); the claims are then checked on the payload as it was read, so the token is
// parsed once: pinned issuer and audience, `exp` and `sub` required, `nbf`/`exp` with the skew,
// and `iat` a number not in the future. The claim checks and their order are jose's `jwtVerify`
// ones, so each failure keeps the reason it had when jose parsed the payload a second time. A
// dependency failure (5xx) passes through; every other failure becomes the caller's own refusal.

import { compactVerify, type JWTPayload } from 'jose';
import { type Clock, epochSeconds } from './clock.ts';
import { OAuthError } from './errors.ts';
import { joseReason } from './jose-errors.ts';
import type { ReadJws } from './jws.ts';
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

/** Checks the signature of `jws` (a token read by `readCompactJws`), then its claims; returns them. */
export async function verifyPinnedJwt(jws: ReadJws, pins: Pins, refuse: Refuse): Promise<JWTPayload> {
  await verifySignature(jws, pins, refuse);
  return checkClaims(jws.payload, pins, refuse);
}

/** Checks only the signature and the algorithm of `jws`, not its claims (revocation by the holder). */
export async function verifySignature(
  jws: ReadJws,
  pins: Pick<Pins, 'algorithms' | 'keys'>,
  refuse: Refuse,
): Promise<void> {
  try {
    await compactVerify(jws.token, (protectedHeader) => pins.keys(protectedHeader), {
      algorithms: pins.algorithms,
    });
  } catch (error) {
    throw failure(error, refuse);
  }
}

/** Whether an `aud` claim names one of the audiences (jose's rule: a string, or an array of them). */
function audiencePresent(aud: unknown, wanted: readonly string[]): boolean {
  if (typeof aud === 'string') return wanted.includes(aud);
  if (Array.isArray(aud)) return wanted.some((one) => aud.includes(one));
  return false;
}

/** jose's claim checks, in jose's order, on a payload that was already parsed. */
function checkClaims(payload: Readonly<Record<string, unknown>>, pins: Pins, refuse: Refuse): JWTPayload {
  const required: ('iss' | 'aud' | 'sub' | 'exp')[] =
    pins.audience === undefined ? ['iss', 'sub', 'exp'] : ['iss', 'aud', 'sub', 'exp'];
  for (const claim of required) if (!Object.hasOwn(payload, claim)) throw refuse(`claim_${claim}`);
  if (payload.iss !== pins.issuer) throw refuse('claim_iss');
  if (pins.audience !== undefined) {
    const wanted = typeof pins.audience === 'string' ? [pins.audience] : pins.audience;
    if (!audiencePresent(payload.aud, wanted)) throw refuse('claim_aud');
  }
  const now = epochSeconds(pins.clock);
  const { iat, nbf, exp } = payload;
  if (iat !== undefined && typeof iat !== 'number') throw refuse('claim_iat');
  if (nbf !== undefined && (typeof nbf !== 'number' || nbf > now + pins.clockSkew)) throw refuse('claim_nbf');
  if (typeof exp !== 'number') throw refuse('claim_exp');
  if (exp <= now - pins.clockSkew) throw refuse('expired');
  if (typeof iat === 'number' && iat > now + pins.clockSkew) throw refuse('iat_in_future');
  return payload as JWTPayload;
}

/** A 5xx from the key source passes through; anything else is the caller's refusal. */
export function failure(error: unknown, refuse: Refuse): OAuthError {
  if (error instanceof OAuthError && error.status >= 500) return error;
  return refuse(joseReason(error), error);
}
