// The pinned verification (lib/shared/pinned-jwt.ts) reads the payload once: jose checks the
// signature, our code the claims. Each case is also run through jose's own `jwtVerify` (what the
// module did before, with the same pins): both must admit the same tokens and refuse the others
// with the same reason, so parsing once kept every check and its order.

import { importJWK, jwtVerify } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { invalidRequest, OAuthError, temporarilyUnavailable } from '../../../lib/shared/errors.ts';
import { joseReason } from '../../../lib/shared/jose-errors.ts';
import { readCompactJws } from '../../../lib/shared/jws.ts';
import type { KeyResolver } from '../../../lib/shared/key-sets.ts';
import { type Pins, type Refuse, verifyPinnedJwt, verifySignature } from '../../../lib/shared/pinned-jwt.ts';
import type { TokenCheck } from '../../../lib/shared/reasons.ts';
import { frozenClock } from '../../support/clock.ts';
import { generateTestKey, signCompact, type TestKey } from '../../support/keys.ts';

const ISSUER = 'https://issuer.test';
const AUDIENCE = 'https://sts.test';
const clock = frozenClock();
const now = clock.seconds();
const SKEW = 30;

let key: TestKey;
let other: TestKey;
let keys: KeyResolver;
beforeAll(async () => {
  [key, other] = await Promise.all([generateTestKey('ES256'), generateTestKey('ES256')]);
  const imported = await importJWK(key.jwk, 'ES256');
  keys = async () => imported;
});

const pins = (overrides: Partial<Pins> = {}): Pins => ({
  issuer: ISSUER,
  audience: [AUDIENCE],
  algorithms: ['ES256'],
  keys,
  clockSkew: SKEW,
  clock,
  ...overrides,
});
const refuse: Refuse = (check, cause) => invalidRequest('refused', { reason: check, cause });
const token = (payload: Record<string, unknown>, signer: TestKey = key) =>
  signCompact({ alg: 'ES256', kid: signer.kid }, payload, signer.privateKey);
const base = { iss: ISSUER, aud: AUDIENCE, sub: 'alice', exp: now + 600, iat: now, nbf: now };
const without = (name: string) => Object.fromEntries(Object.entries(base).filter(([key]) => key !== name));

/** The reason of our verification, or `admitted`. */
async function ours(jwt: string, p: Pins): Promise<TokenCheck | 'admitted'> {
  try {
    await verifyPinnedJwt({ token: jwt, ...readCompactJws(jwt) }, p, refuse);
    return 'admitted';
  } catch (error) {
    return (error as OAuthError).reason as TokenCheck;
  }
}

/** The reason jose's `jwtVerify` (parsing the payload a second time) gives with the same pins. */
async function jose(jwt: string, p: Pins): Promise<TokenCheck | 'admitted'> {
  try {
    const { payload } = await jwtVerify(jwt, (header) => p.keys(header), {
      issuer: p.issuer,
      ...(p.audience === undefined ? {} : { audience: p.audience }),
      algorithms: p.algorithms,
      clockTolerance: p.clockSkew,
      currentDate: new Date(p.clock()),
      requiredClaims: ['exp', 'sub'],
    });
    if (typeof payload.iat === 'number' && payload.iat > now + p.clockSkew) return 'iat_in_future';
    return 'admitted';
  } catch (error) {
    return joseReason(error);
  }
}

const CASES: [string, Record<string, unknown>, TokenCheck | 'admitted', Partial<Pins>?][] = [
  ['a valid token', base, 'admitted'],
  ['aud as an array holding the audience', { ...base, aud: ['x', AUDIENCE] }, 'admitted'],
  ['exp within the skew', { ...base, exp: now - SKEW + 1 }, 'admitted'],
  ['nbf within the skew', { ...base, nbf: now + SKEW }, 'admitted'],
  ['no iat, no nbf', without('iat'), 'admitted'],
  ['no audience pinned (any aud)', { ...base, aud: 'elsewhere' }, 'admitted', { audience: undefined }],
  ['no iss', without('iss'), 'claim_iss'],
  ['no aud', without('aud'), 'claim_aud'],
  ['no sub', without('sub'), 'claim_sub'],
  ['no exp', without('exp'), 'claim_exp'],
  ['neither iss nor exp (iss is checked first)', { sub: 'alice', aud: AUDIENCE }, 'claim_iss'],
  ['another iss', { ...base, iss: 'https://other.test' }, 'claim_iss'],
  ['iss as an array', { ...base, iss: [ISSUER] }, 'claim_iss'],
  ['another aud', { ...base, aud: 'https://other.test' }, 'claim_aud'],
  ['aud as an array without the audience', { ...base, aud: ['a', 'b'] }, 'claim_aud'],
  ['aud as a number', { ...base, aud: 7 }, 'claim_aud'],
  ['exp passed beyond the skew', { ...base, exp: now - SKEW }, 'expired'],
  ['exp as a string', { ...base, exp: String(now + 600) }, 'claim_exp'],
  ['exp null', { ...base, exp: null }, 'claim_exp'],
  ['nbf beyond the skew', { ...base, nbf: now + SKEW + 1 }, 'claim_nbf'],
  ['nbf as a string', { ...base, nbf: 'soon' }, 'claim_nbf'],
  ['iat as a string', { ...base, iat: 'now' }, 'claim_iat'],
  ['iat as a string and exp passed (iat first)', { ...base, iat: 'now', exp: 1 }, 'claim_iat'],
  ['nbf in the future and exp passed (nbf first)', { ...base, nbf: now + 999, exp: 1 }, 'claim_nbf'],
  ['iat in the future', { ...base, iat: now + SKEW + 1 }, 'iat_in_future'],
  ['expired and iat in the future (exp first)', { ...base, exp: 1, iat: now + 999 }, 'expired'],
  ['sub present but empty (left to the caller)', { ...base, sub: '' }, 'admitted'],
];

describe('verifyPinnedJwt', () => {
  it.each(CASES)('%s: %s', async (_what, payload, expected, overrides) => {
    const jwt = token(payload);
    const p = pins(overrides);
    expect(await ours(jwt, p)).toBe(expected);
    expect(await jose(jwt, p)).toBe(expected);
  });

  it('checks the signature before any claim', async () => {
    const forged = token({ ...base, exp: 1 }, other);
    expect(await ours(forged, pins())).toBe('bad_signature');
    expect(await jose(forged, pins())).toBe('bad_signature');
  });

  it('refuses an algorithm outside the pins', async () => {
    const jwt = token(base);
    expect(await ours(jwt, pins({ algorithms: ['RS256'] }))).toBe('alg_not_allowed');
  });

  it('passes a 5xx of the key source through unchanged', async () => {
    const down = temporarilyUnavailable('jwks.unavailable');
    const jwt = token(base);
    const read = { token: jwt, ...readCompactJws(jwt) };
    await expect(verifyPinnedJwt(read, pins({ keys: () => Promise.reject(down) }), refuse)).rejects.toBe(
      down,
    );
    await expect(
      verifySignature(read, { algorithms: ['ES256'], keys: () => Promise.reject(down) }, refuse),
    ).rejects.toBe(down);
  });

  it('verifySignature ignores the claims but not the signature', async () => {
    const expired = token({ ...base, exp: 1 });
    await verifySignature({ token: expired, ...readCompactJws(expired) }, pins(), refuse);
    const forged = token(base, other);
    const error = await verifySignature({ token: forged, ...readCompactJws(forged) }, pins(), refuse).catch(
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(OAuthError);
    expect((error as OAuthError).reason).toBe('bad_signature');
  });
});
