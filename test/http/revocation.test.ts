import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccessTokenVerifier } from '../../lib/verify/verifier.ts';
import { ADMIN_TOKEN, startTestSts, type TestSts } from '../support/local-sts.ts';

/**
 * Revocation, introspection and the downstream verifier from the outside: the local server
 * (the Lambda handlers behind API Gateway v2 events, embedded dynalite, local signer, the
 * development config and issuer), with `auth: 'iam'` routes behind STS_ADMIN_TOKEN.
 */
const EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const JWT = 'urn:ietf:params:oauth:token-type:jwt';
const API = 'https://api.example.local';
const ADMIN = { authorization: `Bearer ${ADMIN_TOKEN}` };

let sts: TestSts;

beforeAll(async () => {
  sts = await startTestSts();
});
afterAll(() => sts?.close());

const post = (path: string, form: Record<string, string>, headers: Record<string, string> = {}) =>
  fetch(`${sts.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(form).toString(),
  });

async function accessToken(sub = 'alice', audience = API, subjectToken?: string): Promise<string> {
  const response = await post('/token', {
    grant_type: EXCHANGE,
    subject_token: subjectToken ?? (await sts.subjectToken(sub)),
    subject_token_type: JWT,
    audience,
    scope: 'read',
  });
  expect(response.status).toBe(200);
  return ((await response.json()) as { access_token: string }).access_token;
}

const introspect = async (token: string) => {
  const response = await post('/introspect', { token }, ADMIN);
  expect(response.status).toBe(200);
  expect(response.headers.get('cache-control')).toBe('no-store');
  return (await response.json()) as Record<string, unknown>;
};

const claimsOf = (token: string) =>
  JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { jti: string; sub: string };

describe('admin routes without the admin credential', () => {
  it.each([
    ['no Authorization header', {}],
    ['a wrong bearer secret', { authorization: 'Bearer wrong-secret' }],
    ['the secret under another scheme', { authorization: `Basic ${ADMIN_TOKEN}` }],
    ['the secret with a suffix', { authorization: `Bearer ${ADMIN_TOKEN}x` }],
  ])('answer 401 invalid_client for %s', async (_name, headers) => {
    for (const [path, form] of [
      ['/introspect', { token: 'x' }],
      ['/admin/revoke', { jti: 'x' }],
    ] as const) {
      const response = await post(path, form, headers);
      expect(response.status).toBe(401);
      expect(((await response.json()) as { error: string }).error).toBe('invalid_client');
    }
  });

  it('leave /revoke open: the token is its own credential', async () => {
    expect((await post('/revoke', { token: 'x' })).status).toBe(200);
  });
});

describe('POST /introspect', () => {
  it('answers active with the token claims for a token just issued', async () => {
    const token = await accessToken('alice');
    const { jti } = claimsOf(token);
    expect(await introspect(token)).toMatchObject({
      active: true,
      token_type: 'Bearer',
      iss: sts.url,
      sub: 'alice',
      aud: API,
      scope: 'read',
      client_id: 'dev',
      jti,
    });
  });

  it('answers exactly {"active":false} for a dev-issuer token (not ours) and for garbage', async () => {
    expect(await introspect(await sts.subjectToken('alice'))).toEqual({ active: false });
    expect(await introspect('garbage')).toEqual({ active: false });
  });

  it('answers 400 invalid_request without a token', async () => {
    const response = await post('/introspect', {}, ADMIN);
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: string }).error).toBe('invalid_request');
  });
});

describe('POST /revoke (RFC 7009)', () => {
  it('revokes the presented token: introspection and chained exchange then refuse it', async () => {
    const token = await accessToken('bob', sts.url); // aud = the STS, so it can be exchanged again
    await expect(accessToken('bob', API, token)).resolves.toBeTruthy();
    const response = await post('/revoke', { token, token_type_hint: 'access_token' });
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('');
    expect(await introspect(token)).toEqual({ active: false });
    const chained = await post('/token', {
      grant_type: EXCHANGE,
      subject_token: token,
      subject_token_type: JWT,
      audience: API,
    });
    expect(chained.status).toBe(400);
    expect(((await chained.json()) as { error: string }).error).toBe('invalid_request');
  });

  it('answers 200 for tokens that are not ours or invalid, and revokes nothing', async () => {
    const token = await accessToken('carol');
    for (const other of [await sts.subjectToken('carol'), 'garbage', `${token}x`]) {
      expect((await post('/revoke', { token: other })).status).toBe(200);
    }
    expect((await introspect(token)).active).toBe(true);
  });

  it('answers 400 invalid_request without a token or with a wrong content type', async () => {
    expect((await post('/revoke', {})).status).toBe(400);
    const json = await fetch(`${sts.url}/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"token":"x"}',
    });
    expect(json.status).toBe(400);
    expect(((await json.json()) as { error: string }).error).toBe('invalid_request');
  });
});

describe('POST /admin/revoke', () => {
  it('revokes one token by jti', async () => {
    const token = await accessToken('dave');
    const { jti } = claimsOf(token);
    const response = await post('/admin/revoke', { jti }, ADMIN);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await response.json()).toEqual({ jti, revoked: true });
    expect(await introspect(token)).toEqual({ active: false });
  });

  it('reports an unknown jti', async () => {
    const response = await post('/admin/revoke', { jti: 'no-such-jti' }, ADMIN);
    expect(await response.json()).toEqual({ jti: 'no-such-jti', revoked: false });
  });

  it('revokes every token of a subject issued up to now, and none issued later', async () => {
    const [first, second, other] = await Promise.all([
      accessToken('erin'),
      accessToken('erin'),
      accessToken('frank'),
    ]);
    const response = await post('/admin/revoke', { sub: 'erin' }, ADMIN);
    expect(response.status).toBe(200);
    const body = (await response.json()) as { sub: string; revoked_before: number };
    expect(body.sub).toBe('erin');
    expect(body.revoked_before).toBeGreaterThan(Math.floor(Date.now() / 1000) - 5);
    expect(await introspect(first!)).toEqual({ active: false });
    expect(await introspect(second!)).toEqual({ active: false });
    expect((await introspect(other!)).active).toBe(true);
    // A token minted after the revocation second is live.
    await new Promise((resolve) => setTimeout(resolve, (body.revoked_before * 1000 - Date.now() + 20) | 0));
    expect((await introspect(await accessToken('erin'))).active).toBe(true);
  });

  it('answers 400 invalid_request for both jti and sub, or neither', async () => {
    expect((await post('/admin/revoke', { jti: 'a', sub: 'b' }, ADMIN)).status).toBe(400);
    expect((await post('/admin/revoke', {}, ADMIN)).status).toBe(400);
  });
});

describe('the downstream verifier against the local server', () => {
  it('verifies through discovery and JWKS, and refuses once the token is revoked (via introspection)', async () => {
    const verifier = createAccessTokenVerifier({
      issuer: sts.url,
      audience: API,
      requiredScopes: ['read'],
      revocation: { via: 'introspection', headers: ADMIN, maxStaleMs: 0 },
    });
    const token = await accessToken('grace');
    await expect(verifier.verify(token)).resolves.toMatchObject({ sub: 'grace', scope: 'read' });
    await expect(verifier.verify(token, ['write'])).rejects.toMatchObject({ code: 'insufficient_scope' });
    expect((await post('/revoke', { token })).status).toBe(200);
    await expect(verifier.verify(token)).rejects.toMatchObject({ code: 'invalid_token', reason: 'revoked' });
  });

  it('fails closed (503) when its introspection credential is wrong', async () => {
    const verifier = createAccessTokenVerifier({
      issuer: sts.url,
      audience: API,
      revocation: { via: 'introspection', headers: { authorization: 'Bearer wrong' } },
    });
    await expect(verifier.verify(await accessToken('heidi'))).rejects.toMatchObject({ status: 503 });
  });

  it('refuses a token for another audience without asking introspection', async () => {
    const verifier = createAccessTokenVerifier({ issuer: sts.url, audience: 'https://deploy.example.local' });
    await expect(verifier.verify(await accessToken('ivan'))).rejects.toMatchObject({ code: 'invalid_token' });
  });
});
