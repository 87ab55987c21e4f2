import { createPublicKey } from 'node:crypto';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLocalSigner, generateSigningKey } from '../../lib/signers/local.ts';
import type { Signer } from '../../lib/signers/signer.ts';
import { MemoryStore } from '../../lib/stores/memory.ts';
import { b64url, type HostileIssuer, startHostileIssuer } from '../support/hostile-issuer.ts';
import {
  API,
  expectNothingInternal,
  expectOAuthError,
  form,
  type Harness,
  type HttpAnswer,
  JWT,
  securityConfig,
  startHarness,
} from '../support/sts-harness.ts';

/**
 * POST /revoke, POST /introspect and POST /admin/revoke against hostile callers, over real HTTP:
 * the admin routes refuse anyone without the credential (401 invalid_client) and stay closed when
 * none is configured; introspection says exactly {"active":false} for anything not a live token of
 * ours; revocation answers 200 to garbage and forgeries and revokes nothing for them.
 */
const ADMIN_TOKEN = 'admin-secret-5d1c9a7e4b2f';
const store = new MemoryStore();
let ext: HostileIssuer;
let signer: Signer;
let harness: Harness;
let closed: Harness;

beforeAll(async () => {
  ext = await startHostileIssuer();
  signer = await createLocalSigner(generateSigningKey('ES256'), 'ES256');
  // `closed` first: securityConfig points the issuer's default audience at the last server started.
  closed = await startHarness({ config: securityConfig(ext) });
  harness = await startHarness({ config: securityConfig(ext), store, signer, adminToken: ADMIN_TOKEN });
});

afterAll(async () => {
  await Promise.all([harness?.close(), closed?.close()]);
  await ext?.close();
});

const ADMIN = { authorization: `Bearer ${ADMIN_TOKEN}` };
const post = (
  path: string,
  params: Record<string, string>,
  headers: Record<string, string> = {},
  on = harness,
) => on.request(form(params), { path, headers });

/** A live access token minted here (aud API, scope read). */
async function liveToken(sub = 'user:alice'): Promise<string> {
  const answer = await harness.exchange({
    subject_token: ext.token({ claims: { sub } }),
    subject_token_type: JWT,
    audience: API,
    scope: 'read',
  });
  expect(answer.status, answer.text).toBe(200);
  return String(answer.body?.access_token);
}

async function introspect(token: string): Promise<HttpAnswer> {
  const answer = await post('/introspect', { token }, ADMIN);
  expect(answer.status).toBe(200);
  expect(answer.headers.get('cache-control')).toBe('no-store');
  return answer;
}

const isActive = async (token: string) => (await introspect(token)).body?.active === true;

/** Our issuer, `typ: at+jwt` and a live token's jti, signed with whatever the attack calls for. */
async function forgeries(live: string): Promise<ReadonlyArray<readonly [string, string]>> {
  const claims = decodeJwt(live);
  const { kid } = await signer.activeKey();
  const payload = b64url(JSON.stringify(claims));
  const header = (value: Record<string, unknown>) => b64url(JSON.stringify(value));
  const [h, , s] = live.split('.') as [string, string, string];
  const signedByUs = async (value: Record<string, unknown>) => {
    const input = `${header(value)}.${payload}`;
    return `${input}.${Buffer.from(await signer.sign(Buffer.from(input))).toString('base64url')}`;
  };
  const publicPem = createPublicKey({ key: (await signer.publicKeys())[0]! as never, format: 'jwk' }).export({
    type: 'spki',
    format: 'pem',
  });
  return [
    ['alg none, no signature', `${header({ alg: 'none', typ: 'at+jwt' })}.${payload}.`],
    [
      'alg none, our kid, a copied signature',
      `${header({ alg: 'none', kid, typ: 'at+jwt' })}.${payload}.${s}`,
    ],
    [
      'our header, another payload, our signature',
      `${h}.${b64url(JSON.stringify({ ...claims, sub: 'user:mallory' }))}.${s}`,
    ],
    [
      'r = s = 0 under our kid (psychic signature)',
      `${h}.${payload}.${Buffer.alloc(64).toString('base64url')}`,
    ],
    [
      'HS256 keyed with our public key',
      ext.token({
        headerText: JSON.stringify({ alg: 'HS256', kid, typ: 'at+jwt' }),
        payload: JSON.stringify(claims),
        key: Buffer.from(publicPem),
        signAs: 'HS256',
      }),
    ],
    [
      'an attacker key under our kid',
      ext.token({ header: { kid, typ: 'at+jwt' }, payload: JSON.stringify(claims), key: 'attacker' }),
    ],
    [
      'an attacker key embedded as jwk',
      ext.token({
        header: { kid: ext.keys.attacker.kid, typ: 'at+jwt', jwk: ext.keys.attacker.jwk },
        payload: JSON.stringify(claims),
        key: 'attacker',
      }),
    ],
    ['our key with typ JWT', await signedByUs({ alg: 'ES256', kid, typ: 'JWT' })],
    [
      'our key with a jku header',
      await signedByUs({ alg: 'ES256', kid, typ: 'at+jwt', jku: `${ext.issuer}/jwks` }),
    ],
    ['the live token with an extra segment', `${live}.AAAA`],
    ['the live token with a trailing character', `${live}x`],
  ];
}

describe('admin routes refuse callers without the admin credential: 401 invalid_client', () => {
  const CREDENTIALS: ReadonlyArray<readonly [string, (live: string) => Record<string, string>]> = [
    ['no Authorization header', () => ({})],
    ['a wrong bearer secret', () => ({ authorization: 'Bearer wrong-secret' })],
    ['an empty bearer credential', () => ({ authorization: 'Bearer ' })],
    ['"Bearer" alone', () => ({ authorization: 'Bearer' })],
    [
      'the secret under Basic',
      () => ({ authorization: `Basic ${Buffer.from(`admin:${ADMIN_TOKEN}`).toString('base64')}` }),
    ],
    ['the secret with a suffix', () => ({ authorization: `Bearer ${ADMIN_TOKEN}x` })],
    ['a prefix of the secret', () => ({ authorization: `Bearer ${ADMIN_TOKEN.slice(0, -1)}` })],
    ['the secret after two spaces', () => ({ authorization: `Bearer  ${ADMIN_TOKEN}` })],
    ['a wrong secret then the right one', () => ({ authorization: `Bearer wrong, Bearer ${ADMIN_TOKEN}` })],
    ['the secret in another header', () => ({ 'x-admin-token': ADMIN_TOKEN, 'x-api-key': ADMIN_TOKEN })],
    ['a valid access token of ours as the bearer', (live) => ({ authorization: `Bearer ${live}` })],
  ];

  it.each(CREDENTIALS)('%s', async (_name, headers) => {
    const live = await liveToken();
    const { jti } = decodeJwt(live);
    const credential = headers(live);
    for (const [path, params] of [
      ['/introspect', { token: live }],
      ['/admin/revoke', { jti: String(jti) }],
      ['/admin/revoke', { sub: 'user:alice' }],
    ] as const) {
      const answer = await post(path, params, credential);
      expect(answer.status).toBe(401);
      expect(answer.body).toEqual({ error: 'invalid_client', error_description: expect.any(String) });
      expect(answer.headers.get('www-authenticate')).toMatch(/^Bearer /);
      expect(answer.headers.get('cache-control')).toBe('no-store');
      expectNothingInternal(answer);
    }
    expect(await isActive(live)).toBe(true); // nothing was revoked
  });

  it('the secret as a form parameter or in the query string is not a credential', async () => {
    const live = await liveToken();
    for (const answer of [
      await post('/introspect', { token: live, access_token: ADMIN_TOKEN }),
      await harness.request(form({ token: live }), { path: `/introspect?access_token=${ADMIN_TOKEN}` }),
    ]) {
      expect(answer.status).toBe(401);
      expect(answer.body?.error).toBe('invalid_client');
    }
  });

  it('with STS_ADMIN_TOKEN unset the admin routes stay closed to every bearer', async () => {
    for (const authorization of [
      'Bearer ',
      'Bearer undefined',
      'Bearer null',
      `Bearer ${ADMIN_TOKEN}`,
      'Bearer x',
    ]) {
      for (const path of ['/introspect', '/admin/revoke']) {
        const answer = await post(path, { token: 'x', jti: 'x' }, { authorization }, closed);
        expect(answer.status).toBe(401);
        expect(answer.body?.error).toBe('invalid_client');
      }
    }
  });

  it('POST /revoke needs no credential: the token is its own (control)', async () => {
    const answer = await post('/revoke', { token: 'x' });
    expect(answer.status).toBe(200);
    expect(answer.text).toBe('');
  });
});

describe('POST /introspect: exactly {"active":false} for anything but a live token of ours', () => {
  it('a live token of ours is active (control)', async () => {
    const live = await liveToken();
    expect((await introspect(live)).body).toMatchObject({
      active: true,
      sub: 'user:alice',
      jti: decodeJwt(live).jti,
    });
  });

  it.each([
    ['garbage', 'x'],
    ['not a JWT', 'not-a-jwt'],
    ['a JSON document', '{"active":true}'],
    ['a five-part JWE', 'a.b.c.d.e'],
    ['64 KB of dots', '.'.repeat(60_000)],
    ['invalid UTF-8 after decoding', `${b64url(Buffer.from([0xff]))}.${b64url(Buffer.from([0xfe]))}.AAAA`],
  ])('%s', async (_name, token) => {
    const answer = await introspect(token);
    expect(answer.body).toEqual({ active: false });
    expect(answer.text).toBe('{"active":false}');
  });

  it("a foreign token: the external issuer's valid token, and one claiming our issuer", async () => {
    expect((await introspect(ext.token())).body).toEqual({ active: false });
    const claimsOurs = ext.token({ claims: { iss: harness.sts.url }, header: { typ: 'at+jwt' } });
    expect((await introspect(claimsOurs)).body).toEqual({ active: false });
  });

  it("forgeries carrying a live token's claims", async () => {
    const live = await liveToken();
    for (const [name, forged] of await forgeries(live)) {
      expect({ name, body: (await introspect(forged)).body }).toEqual({ name, body: { active: false } });
    }
  });

  it('a token signed with our key but never recorded, an expired one, and a revoked one', async () => {
    const { kid } = await signer.activeKey();
    const now = Math.floor(Date.now() / 1000);
    const sign = async (claims: Record<string, unknown>) => {
      const input = `${b64url(JSON.stringify({ alg: 'ES256', kid, typ: 'at+jwt' }))}.${b64url(JSON.stringify(claims))}`;
      return `${input}.${Buffer.from(await signer.sign(Buffer.from(input))).toString('base64url')}`;
    };
    const base = { iss: harness.sts.url, sub: 'user:alice', aud: API, iat: now, nbf: now, exp: now + 300 };
    expect((await introspect(await sign({ ...base, jti: 'never-recorded' }))).body).toEqual({
      active: false,
    });
    const live = await liveToken();
    const expired = await sign({ ...decodeJwt(live), iat: now - 900, nbf: now - 900, exp: now - 600 });
    expect((await introspect(expired)).body).toEqual({ active: false });
    expect((await post('/revoke', { token: live })).status).toBe(200);
    expect((await introspect(live)).body).toEqual({ active: false });
  });

  it('no token, a repeated token, or a JSON body: 400 invalid_request', async () => {
    expectOAuthError(await post('/introspect', {}, ADMIN), 400, 'invalid_request');
    expectOAuthError(
      await harness.request('token=a&token=b', { path: '/introspect', headers: ADMIN }),
      400,
      'invalid_request',
    );
    const json = await harness.request('{"token":"x"}', {
      path: '/introspect',
      headers: ADMIN,
      contentType: 'application/json',
    });
    expectOAuthError(json, 400, 'invalid_request');
  });
});

describe('POST /revoke: 200 to garbage and forgeries, and nothing revoked for them', () => {
  it.each([
    ['garbage', 'x'],
    ['not a JWT', 'not-a-jwt'],
    ['a five-part JWE', 'a.b.c.d.e'],
    ['an empty-looking token', '..'],
  ])('%s: 200 with an empty body', async (_name, token) => {
    const answer = await post('/revoke', { token });
    expect(answer.status).toBe(200);
    expect(answer.text).toBe('');
  });

  it("a foreign token: 200, and the external issuer's token stays exchangeable", async () => {
    const foreign = ext.token();
    expect((await post('/revoke', { token: foreign })).status).toBe(200);
    const answer = await harness.exchange({ subject_token: foreign, subject_token_type: JWT, audience: API });
    expect(answer.status).toBe(200);
  });

  it("forgeries carrying a live token's jti revoke nothing: nobody revokes another's token by its jti", async () => {
    const live = await liveToken();
    for (const [name, forged] of await forgeries(live)) {
      const answer = await post('/revoke', { token: forged });
      expect({ name, status: answer.status, text: answer.text }).toEqual({ name, status: 200, text: '' });
      expect({ name, active: await isActive(live) }).toEqual({ name, active: true });
    }
    expect(store.tokens.get(String(decodeJwt(live).jti))?.revokedAt).toBeUndefined();
  });

  it('the holder revokes a live token (control)', async () => {
    const live = await liveToken();
    expect((await post('/revoke', { token: live })).status).toBe(200);
    expect(await isActive(live)).toBe(false);
  });

  it('no token, a repeated token, or a wrong content type: 400 invalid_request', async () => {
    expectOAuthError(await post('/revoke', {}), 400, 'invalid_request');
    expectOAuthError(await harness.request('token=a&token=b', { path: '/revoke' }), 400, 'invalid_request');
    const json = await harness.request('{"token":"x"}', { path: '/revoke', contentType: 'application/json' });
    expectOAuthError(json, 400, 'invalid_request');
  });
});

describe('POST /admin/revoke with hostile input (authenticated)', () => {
  it('an unknown or hostile jti: 200 {revoked:false} and no record created', async () => {
    for (const jti of ['no-such-jti', '../../etc/passwd', '*', "' OR 1=1 --", 'x'.repeat(2000)]) {
      const before = store.tokens.size;
      const answer = await post('/admin/revoke', { jti }, ADMIN);
      expect(answer.status).toBe(200);
      expect(answer.body).toEqual({ jti, revoked: false });
      expect(store.tokens.size).toBe(before);
    }
  });

  it('sub "*" or a glob revokes that literal subject only, never every subject', async () => {
    const live = await liveToken('user:bob');
    for (const sub of ['*', 'user:*', '.*']) {
      expect((await post('/admin/revoke', { sub }, ADMIN)).status).toBe(200);
    }
    expect(await isActive(live)).toBe(true);
  });

  it('both jti and sub, neither, or a repeated one: 400 invalid_request', async () => {
    expectOAuthError(await post('/admin/revoke', { jti: 'a', sub: 'b' }, ADMIN), 400, 'invalid_request');
    expectOAuthError(await post('/admin/revoke', {}, ADMIN), 400, 'invalid_request');
    const repeated = await harness.request('jti=a&jti=b', { path: '/admin/revoke', headers: ADMIN });
    expectOAuthError(repeated, 400, 'invalid_request');
  });
});
