import { createHmac } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { calculateJwkThumbprint, decodeJwt, exportJWK, generateKeyPair, SignJWT } from 'jose';
import * as oauth from 'oauth4webapi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StsClient } from '../../lib/client/client.ts';
import { generateDpopKey, signDpopProof } from '../../lib/client/dpop.ts';
import { parseConfig } from '../../lib/config/config.ts';
import { loadSettings } from '../../lib/config/settings.ts';
import { MemoryStore } from '../../lib/stores/memory.ts';
import { createAccessTokenVerifier } from '../../lib/verify/verifier.ts';
import { type LocalServer, startLocalServer } from '../../local/server.ts';
import { startTestIssuer, type TestIssuer } from '../support/oidc-issuer.ts';
import { type ResourceServer, startResourceServer } from '../support/resource-server.ts';

/**
 * DPoP (RFC 9449) end to end: the local server (same handlers as Lambda, embedded dynalite),
 * a standard client's DPoP support (oauth4webapi), the SDK, and a downstream API built on the
 * verifier middleware. Then every attack of issue 16, each refused.
 */
const EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const JWT = 'urn:ietf:params:oauth:token-type:jwt';
const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';
const SECURE = 'https://secure.acme.internal';
const RESOURCE = 'https://resource.acme.internal';
const ADMIN = 'dpop-test-admin-token';
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

let ext: TestIssuer;
let sts: LocalServer;
let strict: LocalServer;
let resource: ResourceServer;
let dataDir: string;
let as: oauth.AuthorizationServer;
const client: oauth.Client = { client_id: 'dpop-test' };
const insecure = { [oauth.allowInsecureRequests]: true };

interface Holder {
  readonly pair: Awaited<ReturnType<typeof oauth.generateKeyPair>>;
  readonly jkt: string;
  readonly handle: oauth.DPoPHandle;
}

async function holder(): Promise<Holder> {
  const pair = await oauth.generateKeyPair('ES256');
  const jkt = await calculateJwkThumbprint(await exportJWK(pair.publicKey));
  return { pair, jkt, handle: oauth.DPoP(client, pair) };
}

function configFor(base: string, dpop: Record<string, unknown> = {}) {
  const actors = [{ issuer: 'ext', subject: 'service:*' }];
  return parseConfig({
    issuer: base,
    dpop,
    trustedIssuers: [{ name: 'ext', issuer: ext.issuer, audiences: [base], algorithms: ['ES256', 'RS256'] }],
    policies: [
      { name: 'users', issuer: 'ext', subject: 'user:*', audiences: [base, 'https://api.test'], actors },
      { name: 'bound-only', issuer: 'ext', subject: 'user:*', audiences: [SECURE], requireDpop: true },
      { name: 'chained', issuer: 'self', subject: 'user:*', audiences: [base, RESOURCE], actors },
    ],
  });
}

const userToken = (claims: Record<string, unknown> = {}) =>
  ext.mint({ sub: 'user:alice', aud: sts.url, ...claims }, { alg: 'ES256' });

/** A token request through oauth4webapi, with its DPoP handle when given; retries once on use_dpop_nonce. */
async function exchange(params: Record<string, string>, dpop?: oauth.DPoPHandle, server = as) {
  const request = () =>
    oauth.genericTokenEndpointRequest(server, client, oauth.None(), EXCHANGE, params, {
      ...insecure,
      DPoP: dpop,
    });
  try {
    return await oauth.processGenericTokenEndpointResponse(server, client, await request());
  } catch (error) {
    if (!oauth.isDPoPNonceError(error)) throw error;
    return oauth.processGenericTokenEndpointResponse(server, client, await request());
  }
}

/** A raw token request: the attacks craft their own DPoP header. */
async function post(
  params: Record<string, string>,
  headers: Record<string, string> = {},
  url = `${sts.url}/token`,
) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams({ grant_type: EXCHANGE, subject_token_type: JWT, ...params }),
  });
  return {
    status: response.status,
    headers: response.headers,
    body: (await response.json()) as Record<string, unknown>,
  };
}

async function refusedWith(promise: Promise<unknown>): Promise<string | undefined> {
  try {
    await promise;
  } catch (error) {
    return (error as oauth.ResponseBodyError).error;
  }
  return undefined;
}

beforeAll(async () => {
  ext = await startTestIssuer();
  dataDir = mkdtempSync(join(tmpdir(), 'sts-dpop-'));
  sts = await startLocalServer({
    settings: loadSettings({
      PORT: '0',
      STS_DATA_DIR: dataDir,
      STS_LOG_LEVEL: 'silent',
      STS_ADMIN_TOKEN: ADMIN,
    }),
    config: (base) => configFor(base),
  });
  // The downstream API, whose audience the `chained` policy lists.
  resource = await startResourceServer(() =>
    createAccessTokenVerifier({ issuer: sts.url, audience: RESOURCE }),
  );
  strict = await startLocalServer({
    settings: loadSettings({ PORT: '0', STS_DATA_DIR: dataDir, STS_LOG_LEVEL: 'silent' }),
    config: (base) => configFor(base, { requireNonce: true }),
    store: new MemoryStore(),
  });
  as = await oauth.processDiscoveryResponse(
    new URL(sts.url),
    await oauth.discoveryRequest(new URL(sts.url), { algorithm: 'oauth2', ...insecure }),
  );
}, 60_000);

afterAll(async () => {
  await Promise.all([sts?.close(), strict?.close(), resource?.close(), ext?.close()]);
  rmSync(dataDir, { recursive: true, force: true });
});

describe('DPoP with a standard client (oauth4webapi)', () => {
  it('advertises the proof algorithms in the metadata', () => {
    expect(as.dpop_signing_alg_values_supported).toContain('ES256');
    expect(as.dpop_signing_alg_values_supported).not.toContain('HS256');
  });

  it('binds the exchanged token to the proof key: token_type DPoP, cnf.jkt, TOKEN# jkt, introspection cnf', async () => {
    const alice = await holder();
    const result = await exchange(
      { subject_token: await userToken(), subject_token_type: JWT, audience: sts.url },
      alice.handle,
    );
    expect(result.token_type).toBe('dpop');
    const claims = decodeJwt(result.access_token);
    expect(claims.cnf).toEqual({ jkt: alice.jkt });
    expect((await sts.runtime.store.getToken(claims.jti!))?.jkt).toBe(alice.jkt);
    const introspected = await fetch(`${sts.url}/introspect`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ token: result.access_token }),
    });
    expect(await introspected.json()).toMatchObject({
      active: true,
      token_type: 'DPoP',
      cnf: { jkt: alice.jkt },
    });
  });

  it('keeps the binding through a chained exchange, and refuses the bound token without its proof', async () => {
    const alice = await holder();
    const first = await exchange(
      { subject_token: await userToken(), subject_token_type: JWT, audience: sts.url },
      alice.handle,
    );
    const chained = await exchange(
      { subject_token: first.access_token, subject_token_type: ACCESS_TOKEN, audience: sts.url },
      alice.handle,
    );
    expect(chained.token_type).toBe('dpop');
    expect(decodeJwt(chained.access_token).cnf).toEqual({ jkt: alice.jkt });
    // The same bound token without a proof, or with a thief's proof.
    const bare = { subject_token: first.access_token, subject_token_type: ACCESS_TOKEN, audience: sts.url };
    expect(await refusedWith(exchange(bare))).toBe('invalid_dpop_proof');
    expect(await refusedWith(exchange(bare, (await holder()).handle))).toBe('invalid_dpop_proof');
  });

  it('rebinds a delegated token to the actor, who proves possession', async () => {
    const alice = await holder();
    const service = await holder();
    const subject = await exchange(
      { subject_token: await userToken(), subject_token_type: JWT, audience: sts.url },
      alice.handle,
    );
    const actorToken = await ext.mint(
      { sub: 'service:reports', aud: sts.url, cnf: { jkt: service.jkt } },
      { alg: 'ES256' },
    );
    const params = {
      subject_token: subject.access_token,
      subject_token_type: ACCESS_TOKEN,
      actor_token: actorToken,
      actor_token_type: JWT,
      audience: sts.url,
    };
    const delegated = await exchange(params, service.handle);
    const claims = decodeJwt(delegated.access_token);
    expect(claims.cnf).toEqual({ jkt: service.jkt });
    expect(claims.act).toMatchObject({ sub: 'service:reports' });
    // The subject's key cannot stand in for the actor's bound token.
    expect(await refusedWith(exchange(params, alice.handle))).toBe('invalid_dpop_proof');
  });

  it('calls a protected resource through the verifier middleware with the bound token', async () => {
    const alice = await holder();
    const first = await exchange(
      { subject_token: await userToken(), subject_token_type: JWT, audience: sts.url },
      alice.handle,
    );
    const forResource = await exchange(
      { subject_token: first.access_token, subject_token_type: ACCESS_TOKEN, audience: RESOURCE },
      alice.handle,
    );
    const url = new URL(`${resource.url}/things?page=1`);
    const response = await oauth.protectedResourceRequest(
      forResource.access_token,
      'GET',
      url,
      undefined,
      undefined,
      {
        ...insecure,
        DPoP: alice.handle,
      },
    );
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ sub: 'user:alice', jkt: alice.jkt });
    // The same token in other hands: as Bearer, and with a thief's proof.
    const bearer = await fetch(url, { headers: { authorization: `Bearer ${forResource.access_token}` } });
    expect(bearer.status).toBe(401);
    expect(bearer.headers.get('www-authenticate')).toMatch(/^DPoP .*error="invalid_token"/);
    const thief = await generateDpopKey();
    const stolen = await fetch(url, {
      headers: {
        authorization: `DPoP ${forResource.access_token}`,
        dpop: await signDpopProof(thief, {
          method: 'GET',
          url: url.href,
          accessToken: forResource.access_token,
        }),
      },
    });
    expect(stolen.status).toBe(401);
    expect(stolen.headers.get('www-authenticate')).toMatch(/^DPoP .*error="invalid_dpop_proof"/);
  });

  it('gets and uses a server nonce when the config requires one (one retry)', async () => {
    const server = await oauth.processDiscoveryResponse(
      new URL(strict.url),
      await oauth.discoveryRequest(new URL(strict.url), { algorithm: 'oauth2', ...insecure }),
    );
    const subject = await ext.mint({ sub: 'user:alice', aud: strict.url }, { alg: 'ES256' });
    const alice = await holder();
    const result = await exchange(
      { subject_token: subject, subject_token_type: JWT, audience: strict.url },
      alice.handle,
      server,
    );
    expect(result.token_type).toBe('dpop');
  });
});

describe('DPoP with the SDK', () => {
  it('exchanges with a non-extractable key, retries once for a nonce, and presents the token downstream', async () => {
    const key = await generateDpopKey();
    const sdk = new StsClient({ endpoint: strict.url, dpop: key, retry: false });
    const subject = await ext.mint({ sub: 'user:bob', aud: strict.url }, { alg: 'ES256' });
    const token = await sdk.exchange({ subjectToken: subject, audience: strict.url });
    expect(token.tokenType).toBe('DPoP');
    expect(decodeJwt(token.accessToken).cnf).toEqual({ jkt: key.jkt });
    expect(key.privateKey.extractable).toBe(false);

    const local = new StsClient({ endpoint: sts.url, dpop: key });
    const first = await local.exchange({
      subjectToken: await userToken({ sub: 'user:bob' }),
      audience: sts.url,
    });
    const forResource = await local.exchange({
      subjectToken: first.accessToken,
      subjectTokenType: ACCESS_TOKEN,
      audience: RESOURCE,
    });
    const url = `${resource.url}/orders`;
    const response = await fetch(url, {
      headers: await local.requestHeaders(forResource, { method: 'GET', url }),
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ sub: 'user:bob', jkt: key.jkt });
  });
});

describe('DPoP attacks at the token endpoint, each refused', () => {
  const params = async () => ({ subject_token: await userToken(), audience: sts.url });
  const proof = async (overrides: { method?: string; url?: string; now?: number } = {}) =>
    signDpopProof(await generateDpopKey(), { method: 'POST', url: `${sts.url}/token`, ...overrides });
  const claims = () => ({
    jti: `j-${Math.random()}`,
    htm: 'POST',
    htu: `${sts.url}/token`,
    iat: Math.floor(Date.now() / 1000),
  });

  const cases: Array<[string, () => Promise<string>]> = [
    ['a proof for another URL', () => proof({ url: `${sts.url}/revoke` })],
    [
      'a proof for another host (an internal hostname)',
      () => proof({ url: 'https://internal.lambda-url.aws/token' }),
    ],
    ['a proof for another method', () => proof({ method: 'GET' })],
    ['a stale iat', () => proof({ now: Date.now() - 10 * 60_000 })],
    ['a future iat', () => proof({ now: Date.now() + 10 * 60_000 })],
    [
      'alg none',
      async () =>
        `${b64({ typ: 'dpop+jwt', alg: 'none', jwk: (await generateDpopKey()).publicJwk })}.${b64(claims())}.`,
    ],
    [
      'an HS256 proof',
      async () => {
        const secret = Buffer.alloc(32, 1);
        const input = `${b64({ typ: 'dpop+jwt', alg: 'HS256', jwk: { kty: 'oct', k: secret.toString('base64url') } })}.${b64(claims())}`;
        return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
      },
    ],
    [
      'a private key in the header',
      async () => {
        const { privateKey } = await generateKeyPair('ES256', { extractable: true });
        const jwk = await exportJWK(privateKey);
        return new SignJWT(claims())
          .setProtectedHeader({ typ: 'dpop+jwt', alg: 'ES256', jwk })
          .sign(privateKey);
      },
    ],
    ['two proofs', async () => `${await proof()}, ${await proof()}`],
  ];
  it.each(cases)('refuses %s with 400 invalid_dpop_proof', async (_name, make) => {
    const answer = await post(await params(), { dpop: await make() });
    expect([answer.status, answer.body.error]).toEqual([400, 'invalid_dpop_proof']);
    expect(answer.headers.get('cache-control')).toBe('no-store');
  });

  it('refuses a replayed proof (the jti is spent in the table)', async () => {
    const replayed = await proof();
    expect((await post(await params(), { dpop: replayed })).status).toBe(200);
    const again = await post(await params(), { dpop: replayed });
    expect([again.status, again.body.error]).toEqual([400, 'invalid_dpop_proof']);
  });

  it('refuses a bound subject token without a proof', async () => {
    const key = await generateDpopKey();
    const answer = await post({
      subject_token: await userToken({ cnf: { jkt: key.jkt } }),
      audience: sts.url,
    });
    expect([answer.status, answer.body.error]).toEqual([400, 'invalid_dpop_proof']);
    const proved = await post(
      { subject_token: await userToken({ cnf: { jkt: key.jkt } }), audience: sts.url },
      { dpop: await signDpopProof(key, { method: 'POST', url: `${sts.url}/token` }) },
    );
    expect([proved.status, proved.body.token_type]).toEqual([200, 'DPoP']);
  });

  it('refuses a token bound by another method (mTLS x5t#S256) with a clear reason', async () => {
    const answer = await post({
      subject_token: await userToken({ cnf: { 'x5t#S256': 'A'.repeat(43) } }),
      audience: sts.url,
    });
    expect([answer.status, answer.body.error]).toEqual([400, 'invalid_request']);
  });

  it('refuses a requireDpop audience without a proof, and binds it with one', async () => {
    const answer = await post({ subject_token: await userToken(), audience: SECURE });
    expect([answer.status, answer.body.error]).toEqual([400, 'invalid_dpop_proof']);
    const bound = await post({ subject_token: await userToken(), audience: SECURE }, { dpop: await proof() });
    expect(bound.body.token_type).toBe('DPoP');
  });

  it('answers use_dpop_nonce with a DPoP-Nonce header when nonces are required', async () => {
    const subject = await ext.mint({ sub: 'user:alice', aud: strict.url }, { alg: 'ES256' });
    const key = await generateDpopKey();
    const answer = await post(
      { subject_token: subject, audience: strict.url },
      { dpop: await signDpopProof(key, { method: 'POST', url: `${strict.url}/token` }) },
      `${strict.url}/token`,
    );
    expect([answer.status, answer.body.error]).toEqual([400, 'use_dpop_nonce']);
    const nonce = answer.headers.get('dpop-nonce')!;
    const retried = await post(
      { subject_token: subject, audience: strict.url },
      { dpop: await signDpopProof(key, { method: 'POST', url: `${strict.url}/token`, nonce }) },
      `${strict.url}/token`,
    );
    expect([retried.status, retried.body.token_type]).toEqual([200, 'DPoP']);
    expect(retried.headers.get('dpop-nonce')).toBeTruthy();
  });
});
