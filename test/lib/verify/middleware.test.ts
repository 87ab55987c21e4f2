import middy from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../../lib/shared/log.ts';
import { MemoryStore } from '../../../lib/stores/memory.ts';
import { type AccessTokenContext, accessTokenAuth } from '../../../lib/verify/middleware.ts';
import { createAccessTokenVerifier, type VerifierOptions } from '../../../lib/verify/verifier.ts';
import { type FrozenClock, frozenClock } from '../../support/clock.ts';
import { API_AUDIENCE, buildConfig, STS_ISSUER } from '../../support/config.ts';
import { createFakeFetch, type FakeFetch, jsonResponse, unreachable } from '../../support/fetch.ts';
import { testSigner } from '../../support/keys.ts';
import { issueSelfToken } from '../../support/self-token.ts';

const DISCOVERY = `${STS_ISSUER}/.well-known/openid-configuration`;
const JWKS = `${STS_ISSUER}/.well-known/jwks.json`;
const config = buildConfig();
const ALGS = 'algs="ES256 ES384 ES512 PS256 PS384 PS512 RS256 RS384 RS512 EdDSA"';

let signer: Awaited<ReturnType<typeof testSigner>>;
let clock: FrozenClock;
let store: MemoryStore;
let fake: FakeFetch;

beforeAll(async () => {
  signer = await testSigner();
});
beforeEach(async () => {
  clock = frozenClock();
  store = new MemoryStore();
  fake = createFakeFetch();
  fake.on(DISCOVERY, jsonResponse({ issuer: STS_ISSUER, jwks_uri: JWKS }));
  fake.on(JWKS, jsonResponse({ keys: await signer.publicKeys() }));
});

const issue = async (scope = 'read') =>
  (await issueSelfToken({ config, signer, store, clock }, { aud: API_AUDIENCE, scope, sub: 'alice' })).token;

const event = (headers: Record<string, string> = {}): APIGatewayProxyEventV2 =>
  ({
    version: '2.0',
    routeKey: 'GET /things',
    rawPath: '/things',
    rawQueryString: '',
    headers,
    requestContext: { http: { method: 'GET', path: '/things' } },
    isBase64Encoded: false,
  }) as unknown as APIGatewayProxyEventV2;

// What Lambda passes; the middleware adds `accessToken` before the handler runs.
const lambdaContext = { awsRequestId: 'r1', getRemainingTimeInMillis: () => 30_000 } as unknown as Context &
  AccessTokenContext;

/** A consumer Lambda: the handler echoes who called it. */
function consumer(options: { scopes?: string[]; realm?: string; verifier?: Partial<VerifierOptions> } = {}) {
  const lines: string[] = [];
  const verifier = createAccessTokenVerifier({
    issuer: STS_ISSUER,
    audience: API_AUDIENCE,
    clock,
    fetch: fake.fetch,
    ...options.verifier,
  });
  const handler = middy<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2>()
    .use(
      accessTokenAuth({
        verifier,
        scopes: options.scopes,
        realm: options.realm,
        logger: createLogger('info', (line) => lines.push(line)),
      }),
    )
    .handler(async (_event, context) => ({
      statusCode: 200,
      body: JSON.stringify({ sub: context.accessToken.sub, scope: context.accessToken.scope }),
    }));
  const call = async (headers: Record<string, string> = {}) =>
    (await handler(event(headers), lambdaContext)) as APIGatewayProxyStructuredResultV2;
  return { call, lines };
}

describe('accessTokenAuth', () => {
  it('passes a valid token to the handler as context.accessToken', async () => {
    const { call } = consumer();
    const response = await call({ authorization: `Bearer ${await issue()}` });
    expect(response.statusCode).toBe(200);
    expect(JSON.parse(response.body!)).toEqual({ sub: 'alice', scope: 'read' });
  });

  it('accepts the scheme in any case and a header name in any case', async () => {
    const { call } = consumer();
    expect((await call({ Authorization: `bearer ${await issue()}` })).statusCode).toBe(200);
  });

  it.each([
    ['no Authorization header', {}],
    ['another scheme', { authorization: 'Basic dXNlcjpwYXNz' }],
    ['a scheme that only starts with Bearer', { authorization: 'Bearerish abc' }],
  ])('answers 401 with a bare challenge for %s (RFC 6750 §3.1: no error code)', async (_name, headers) => {
    const { call } = consumer({ realm: 'things' });
    const response = await call(headers);
    expect(response.statusCode).toBe(401);
    // Both schemes are offered (RFC 9449 §7.1), DPoP with the proof algorithms it accepts.
    expect(response.headers?.['WWW-Authenticate']).toBe(
      `Bearer realm="things", DPoP realm="things", ${ALGS}`,
    );
    expect(response.body).toBe('');
  });

  it('omits the realm when none is configured', async () => {
    const { call } = consumer();
    expect((await call()).headers?.['WWW-Authenticate']).toBe(`Bearer, DPoP ${ALGS}`);
  });

  it.each([
    ['an empty bearer token', 'Bearer '],
    ['Bearer alone', 'Bearer'],
    ['two credentials', 'Bearer abc def'],
  ])('answers 400 invalid_request for %s', async (_name, authorization) => {
    const { call } = consumer({ realm: 'things' });
    const response = await call({ authorization });
    expect(response.statusCode).toBe(400);
    expect(response.headers?.['WWW-Authenticate']).toMatch(/^Bearer realm="things", error="invalid_request"/);
  });

  it('answers 401 invalid_token for a bad token, with the challenge and a JSON body', async () => {
    const { call, lines } = consumer({ realm: 'things' });
    const response = await call({ authorization: 'Bearer not.a.token' });
    expect(response.statusCode).toBe(401);
    expect(response.headers?.['WWW-Authenticate']).toBe(
      'Bearer realm="things", error="invalid_token", error_description="the access token is invalid"',
    );
    expect(JSON.parse(response.body!)).toMatchObject({ error: 'invalid_token' });
    expect(JSON.parse(lines[0]!)).toMatchObject({ message: 'access_token.refused', status: 401 });
  });

  it('answers 401 invalid_token for an expired token', async () => {
    const { call } = consumer();
    const token = await issue();
    clock.advance(3600);
    expect((await call({ authorization: `Bearer ${token}` })).statusCode).toBe(401);
  });

  it('answers 403 insufficient_scope naming every scope the route needs', async () => {
    const { call } = consumer({ scopes: ['write'], verifier: { requiredScopes: ['read'] } });
    const response = await call({ authorization: `Bearer ${await issue('read')}` });
    expect(response.statusCode).toBe(403);
    expect(response.headers?.['WWW-Authenticate']).toBe(
      'Bearer error="insufficient_scope", error_description="the access token lacks a required scope", scope="read write"',
    );
    expect((await call({ authorization: `Bearer ${await issue('read write')}` })).statusCode).toBe(200);
  });

  it('answers 503 with Retry-After when the STS keys cannot be fetched (fails closed)', async () => {
    fake.on(DISCOVERY, unreachable);
    const { call } = consumer();
    const response = await call({ authorization: `Bearer ${await issue()}` });
    expect(response.statusCode).toBe(503);
    expect(response.headers?.['Retry-After']).toBe('1');
    expect(response.headers?.['WWW-Authenticate']).toBeUndefined();
  });

  it('answers 401 invalid_token for a revoked token when revocation is checked, and 200 without the check', async () => {
    const token = await issue();
    const { jti } = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as { jti: string };
    await store.revokeToken(jti, clock.seconds());
    const checked = consumer({ verifier: { revocation: { via: store } } });
    const response = await checked.call({ authorization: `Bearer ${token}` });
    expect(response.statusCode).toBe(401);
    expect(response.headers?.['WWW-Authenticate']).toContain('error="invalid_token"');
    const unchecked = consumer();
    expect((await unchecked.call({ authorization: `Bearer ${token}` })).statusCode).toBe(200);
  });

  it('quotes the realm safely', async () => {
    const { call } = consumer({ realm: 'a "quoted" \\ realm' });
    const realm = 'realm="a \\"quoted\\" \\\\ realm"';
    expect((await call()).headers?.['WWW-Authenticate']).toBe(`Bearer ${realm}, DPoP ${realm}, ${ALGS}`);
  });
});
