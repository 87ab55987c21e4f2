import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isHighS, P256_ORDER } from '../../lib/shared/low-s.ts';
import { type HostileIssuer, startHostileIssuer } from '../support/hostile-issuer.ts';
import {
  API,
  expectOAuthError,
  form,
  type Harness,
  JWT,
  securityConfig,
  startHarness,
} from '../support/sts-harness.ts';

/**
 * Issue 12 items 7 and 9, from outside (HTTP against the local server, ES256 local signer):
 * every token is signed low-S and the high-S spelling of one of ours is refused everywhere; our
 * own `exp` is exact on introspection and chained exchange, with no clock skew after it.
 */
const ADMIN = { authorization: 'Bearer admin-secret-exactness' };
let ext: HostileIssuer;
let harness: Harness;

beforeAll(async () => {
  ext = await startHostileIssuer();
  harness = await startHarness({ config: securityConfig(ext), adminToken: ADMIN.authorization.slice(7) });
});

afterAll(async () => {
  await harness?.close();
  await ext?.close();
});

async function mint(audience = API): Promise<string> {
  const answer = await harness.exchange({
    subject_token: ext.token({ claims: { sub: 'user:alice' } }),
    subject_token_type: JWT,
    audience,
    scope: 'read',
  });
  expect(answer.status, answer.text).toBe(200);
  return String(answer.body?.access_token);
}

const signatureOf = (token: string) => Buffer.from(token.split('.')[2]!, 'base64url');

/** The same token with s replaced by n - s: a second valid ECDSA signature of the same bytes. */
function flipS(token: string): string {
  const signature = signatureOf(token);
  const s = BigInt(`0x${signature.subarray(32).toString('hex')}`);
  const flipped = Buffer.concat([
    signature.subarray(0, 32),
    Buffer.from((P256_ORDER - s).toString(16).padStart(64, '0'), 'hex'),
  ]);
  return `${token.slice(0, token.lastIndexOf('.'))}.${flipped.toString('base64url')}`;
}

const introspect = async (token: string) => {
  const answer = await harness.request(form({ token }), { path: '/introspect', headers: ADMIN });
  expect(answer.status).toBe(200);
  return answer.body;
};

describe('own ECDSA tokens are not malleable (issue 12 item 7)', () => {
  it('every token the service signs is low-S', async () => {
    const tokens = await Promise.all(Array.from({ length: 24 }, () => mint()));
    for (const token of tokens) expect(isHighS(signatureOf(token))).toBe(false);
  });

  it('the high-S spelling of a live token is inactive, cannot be exchanged, and revokes nothing', async () => {
    const token = await mint(harness.sts.url);
    const twin = flipS(token);
    expect(twin).not.toBe(token);
    expect(isHighS(signatureOf(twin))).toBe(true);
    expect(await introspect(twin)).toEqual({ active: false });
    expectOAuthError(
      await harness.exchange({ subject_token: twin, subject_token_type: JWT, audience: API, scope: 'read' }),
      400,
      'invalid_request',
    );
    const revoke = await harness.request(form({ token: twin }), { path: '/revoke' });
    expect(revoke.status).toBe(200);
    expect(await introspect(token)).toMatchObject({ active: true, jti: decodeJwt(token).jti });
  });
});

describe('our own exp is exact (issue 12 item 9)', () => {
  it('introspection: active in the last second before exp, inactive at exp (no skew)', async () => {
    const token = await mint();
    const { exp } = decodeJwt(token);
    // The harness clock runs: land on the very start of the last second, so the request has the
    // whole second (a whole-second step from mid-second crossed exp under load).
    const step = (exp! - 1) * 1000 - harness.clock();
    harness.clock.advance(step / 1000);
    expect(await introspect(token)).toMatchObject({ active: true });
    harness.clock.advance(1);
    expect(await introspect(token)).toEqual({ active: false });
    harness.clock.advance(-(step / 1000 + 1));
  });

  it('chained exchange: a subject token of ours is refused at its exp', async () => {
    const token = await mint(harness.sts.url);
    const { exp } = decodeJwt(token);
    const now = Math.floor(harness.clock() / 1000);
    harness.clock.advance(exp! - now);
    expectOAuthError(
      await harness.exchange({ subject_token: token, subject_token_type: JWT, audience: API, scope: 'read' }),
      400,
      'invalid_request',
    );
    harness.clock.advance(-(exp! - now));
  });
});
