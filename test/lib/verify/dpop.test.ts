import middy from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { type DpopKey, generateDpopKey, signDpopProof } from '../../../lib/client/dpop.ts';
import { OAuthError } from '../../../lib/shared/errors.ts';
import { MemoryStore } from '../../../lib/stores/memory.ts';
import { proofReplayCache } from '../../../lib/verify/dpop.ts';
import { type AccessTokenContext, accessTokenAuth } from '../../../lib/verify/middleware.ts';
import { createAccessTokenVerifier, type VerifierOptions } from '../../../lib/verify/verifier.ts';
import { type FrozenClock, frozenClock } from '../../support/clock.ts';
import { API_AUDIENCE, buildConfig, STS_ISSUER } from '../../support/config.ts';
import { createFakeFetch, type FakeFetch, jsonResponse } from '../../support/fetch.ts';
import { testSigner } from '../../support/keys.ts';
import { issueSelfToken } from '../../support/self-token.ts';

/**
 * The downstream verifier and its middleware with DPoP-bound tokens (RFC 9449 §7): real tokens
 * minted as the STS mints them, real proofs signed by the client SDK's signer.
 */
const DISCOVERY = `${STS_ISSUER}/.well-known/openid-configuration`;
const JWKS = `${STS_ISSUER}/.well-known/jwks.json`;
const RESOURCE = 'https://api.test/things';
const config = buildConfig();

let signer: Awaited<ReturnType<typeof testSigner>>;
let clock: FrozenClock;
let fake: FakeFetch;
let holder: DpopKey;
let thief: DpopKey;

beforeAll(async () => {
  signer = await testSigner();
  holder = await generateDpopKey();
  thief = await generateDpopKey();
});
beforeEach(async () => {
  clock = frozenClock();
  fake = createFakeFetch();
  fake.on(DISCOVERY, jsonResponse({ issuer: STS_ISSUER, jwks_uri: JWKS }));
  fake.on(JWKS, jsonResponse({ keys: await signer.publicKeys() }));
});

const issue = async (jkt: string | null = holder.jkt) =>
  (
    await issueSelfToken(
      { config, signer, store: new MemoryStore(), clock },
      { aud: API_AUDIENCE, scope: 'read', sub: 'alice', jkt: jkt ?? undefined },
    )
  ).token;

const verifier = (options: Partial<VerifierOptions> = {}) =>
  createAccessTokenVerifier({
    issuer: STS_ISSUER,
    audience: API_AUDIENCE,
    clock,
    fetch: fake.fetch,
    ...options,
  });

const proofFor = (token: string, overrides: Record<string, unknown> = {}, key = holder) =>
  signDpopProof(key, { method: 'GET', url: RESOURCE, accessToken: token, now: clock(), ...overrides });

async function refusal(promise: Promise<unknown>): Promise<OAuthError> {
  const error = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(OAuthError);
  return error as OAuthError;
}

describe('verifyDpop', () => {
  it('accepts a bound token with a proof by its key for this request', async () => {
    const token = await issue();
    const claims = await verifier().verifyDpop(token, {
      proof: await proofFor(token),
      method: 'GET',
      url: RESOURCE,
    });
    expect(claims.cnf).toEqual({ jkt: holder.jkt });
  });

  it('refuses a bound token presented as Bearer', async () => {
    const error = await refusal(verifier().verify(await issue()));
    expect([error.code, error.reason]).toEqual(['invalid_token', 'bound_token_as_bearer']);
  });

  it('refuses an unbound token presented as DPoP', async () => {
    const token = await issue(null);
    const error = await refusal(
      verifier().verifyDpop(token, { proof: await proofFor(token), method: 'GET', url: RESOURCE }),
    );
    expect([error.code, error.reason]).toEqual(['invalid_token', 'dpop_unbound']);
  });

  const cases: Array<[string, (token: string) => Promise<string | undefined>, string]> = [
    ['no proof', async () => undefined, 'dpop.missing'],
    [
      'a proof by another key (a thief holding the token)',
      (t) => proofFor(t, {}, thief),
      'dpop.key_mismatch',
    ],
    ['an ath of another token', async () => proofFor(await issue()), 'dpop.ath_mismatch'],
    ['a proof for another URL', (t) => proofFor(t, { url: 'https://api.test/other' }), 'dpop.htu_mismatch'],
    ['a proof for another method', (t) => proofFor(t, { method: 'DELETE' }), 'dpop.htm_mismatch'],
    ['a stale proof', (t) => proofFor(t, { now: clock() - 120_000 }), 'dpop.iat_stale'],
    ['a proof from the future', (t) => proofFor(t, { now: clock() + 120_000 }), 'dpop.iat_future'],
  ];
  it.each(cases)('refuses %s with 401 invalid_dpop_proof', async (_name, make, reason) => {
    const token = await issue();
    const error = await refusal(
      verifier().verifyDpop(token, { proof: await make(token), method: 'GET', url: RESOURCE }),
    );
    expect([error.code, error.status, error.reason]).toEqual(['invalid_dpop_proof', 401, reason]);
  });

  it('refuses a replayed proof on the same instance', async () => {
    const v = verifier();
    const token = await issue();
    const proof = await proofFor(token);
    await v.verifyDpop(token, { proof, method: 'GET', url: RESOURCE });
    const error = await refusal(v.verifyDpop(token, { proof, method: 'GET', url: RESOURCE }));
    expect(error.reason).toBe('dpop.replayed');
  });

  it('asks for a nonce when configured, and accepts the proof that carries it', async () => {
    const v = verifier({ dpop: { nonceSecret: Buffer.alloc(32, 9) } });
    const token = await issue();
    const error = await refusal(
      v.verifyDpop(token, { proof: await proofFor(token), method: 'GET', url: RESOURCE }),
    );
    expect([error.code, error.status]).toEqual(['use_dpop_nonce', 401]);
    const nonce = error.headers['DPoP-Nonce'];
    expect(nonce).toBe(v.dpopNonce());
    await expect(
      v.verifyDpop(token, { proof: await proofFor(token, { nonce }), method: 'GET', url: RESOURCE }),
    ).resolves.toBeTruthy();
  });
});

describe('proofReplayCache', () => {
  it('forgets proofs once they are too old to pass, and stays bounded', async () => {
    const c = frozenClock();
    const seen = proofReplayCache(c, 2);
    const until = c.seconds() + 60;
    expect(await seen('a', until)).toBe(true);
    expect(await seen('a', until)).toBe(false);
    c.advance(61);
    expect(await seen('a', c.seconds() + 60)).toBe(true);
    expect(await seen('b', c.seconds() + 60)).toBe(true);
    expect(await seen('c', c.seconds() + 60)).toBe(true); // evicts the oldest ('a'): bounded
    expect(await seen('a', c.seconds() + 60)).toBe(true);
  });
});

describe('accessTokenAuth with DPoP', () => {
  const lambdaContext = { awsRequestId: 'r1' } as unknown as Context & AccessTokenContext;
  const event = (headers: Record<string, string>): APIGatewayProxyEventV2 =>
    ({
      version: '2.0',
      rawPath: '/things',
      rawQueryString: 'page=2',
      headers,
      requestContext: { domainName: 'api.test', http: { method: 'GET', path: '/things' } },
      isBase64Encoded: false,
    }) as unknown as APIGatewayProxyEventV2;
  const handler = (options: Partial<VerifierOptions> = {}) =>
    middy<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2>()
      .use(accessTokenAuth({ verifier: verifier(options), realm: 'things' }))
      .handler(async (_event, context) => ({ statusCode: 200, body: context.accessToken.cnf?.jkt ?? '' }));
  const call = async (headers: Record<string, string>, options: Partial<VerifierOptions> = {}) =>
    (await handler(options)(event(headers), lambdaContext)) as APIGatewayProxyStructuredResultV2;

  it('lets a DPoP request through, with the URL from the event', async () => {
    const token = await issue();
    const response = await call({ authorization: `DPoP ${token}`, dpop: await proofFor(token) });
    expect([response.statusCode, response.body]).toEqual([200, holder.jkt]);
  });

  it('answers a bound token sent as Bearer with a DPoP challenge', async () => {
    const response = await call({ authorization: `Bearer ${await issue()}` });
    expect(response.statusCode).toBe(401);
    expect(response.headers?.['WWW-Authenticate']).toMatch(
      /^DPoP realm="things", error="invalid_token", .*algs="ES256 /,
    );
  });

  it('answers a proof by another key with 401 invalid_dpop_proof (RFC 9449 §7.1)', async () => {
    const token = await issue();
    const response = await call({ authorization: `DPoP ${token}`, dpop: await proofFor(token, {}, thief) });
    expect(response.statusCode).toBe(401);
    expect(response.headers?.['WWW-Authenticate']).toMatch(
      /^DPoP realm="things", error="invalid_dpop_proof"/,
    );
    expect(JSON.parse(response.body!)).toMatchObject({ error: 'invalid_dpop_proof' });
  });

  it('answers use_dpop_nonce with DPoP-Nonce when nonces are required', async () => {
    const token = await issue();
    const options = { dpop: { nonceSecret: Buffer.alloc(32, 3) } };
    const response = await call({ authorization: `DPoP ${token}`, dpop: await proofFor(token) }, options);
    expect(response.statusCode).toBe(401);
    expect(response.headers?.['WWW-Authenticate']).toMatch(/^DPoP realm="things", error="use_dpop_nonce"/);
    expect(response.headers?.['DPoP-Nonce']).toMatch(/\./);
  });

  it('refuses two DPoP headers (joined by a comma)', async () => {
    const token = await issue();
    const proof = await proofFor(token);
    const response = await call({
      authorization: `DPoP ${token}`,
      dpop: `${proof}, ${await proofFor(token)}`,
    });
    expect(JSON.parse(response.body!)).toMatchObject({ error: 'invalid_dpop_proof' });
  });
});
