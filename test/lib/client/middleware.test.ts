import middy from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StsClient } from '../../../lib/client/client.ts';
import {
  bearerToken,
  type ExchangedTokenContext,
  type TokenExchangeMiddlewareOptions,
  tokenExchangeMiddleware,
} from '../../../lib/client/middleware.ts';
import { createLogger } from '../../../lib/shared/log.ts';
import { type StandIn, startStandIn, startTestSts, type TestSts } from '../../support/local-sts.ts';
import { freePort } from '../../support/ports.ts';

type Event = APIGatewayProxyEventV2;
type Result = APIGatewayProxyStructuredResultV2;

const API = 'https://api.example.local';

/** An API Gateway HTTP API (payload v2) event for `GET /orders`. */
function apiEvent(headers: Record<string, string> = {}): Event {
  const now = Date.now();
  return {
    version: '2.0',
    routeKey: 'GET /orders',
    rawPath: '/orders',
    rawQueryString: '',
    headers: { host: 'orders.example.com', 'user-agent': 'vitest', ...headers },
    requestContext: {
      accountId: '123456789012',
      apiId: 'api',
      domainName: 'orders.example.com',
      domainPrefix: 'orders',
      http: {
        method: 'GET',
        path: '/orders',
        protocol: 'HTTP/1.1',
        sourceIp: '127.0.0.1',
        userAgent: 'vitest',
      },
      requestId: 'req-1',
      routeKey: 'GET /orders',
      stage: '$default',
      time: new Date(now).toUTCString(),
      timeEpoch: now,
    },
    isBase64Encoded: false,
  };
}

const lambdaContext = (): Context =>
  ({ awsRequestId: 'req-1', functionName: 'orders', getRemainingTimeInMillis: () => 30_000 }) as Context;

/** A handler behind the middleware that echoes the claims of the token it was given. */
function build(options: TokenExchangeMiddlewareOptions) {
  const calls: string[] = [];
  const handler = middy<Event, Result, Error, ExchangedTokenContext>()
    .use(tokenExchangeMiddleware(options))
    .handler(async (_event, context) => {
      calls.push(context.exchangedToken.accessToken);
      return { statusCode: 200, body: JSON.stringify(decodeJwt(context.exchangedToken.accessToken)) };
    });
  const invoke = (headers?: Record<string, string>) =>
    handler(apiEvent(headers), lambdaContext() as ExchangedTokenContext) as Promise<Result>;
  return { invoke, calls };
}

describe('tokenExchangeMiddleware', () => {
  let sts: TestSts;
  let standIn: StandIn;
  let client: StsClient;
  beforeAll(async () => {
    [sts, standIn] = await Promise.all([startTestSts(), startStandIn()]);
    client = new StsClient({ endpoint: sts.url });
  });
  afterAll(() => Promise.all([sts.close(), standIn.close()]));

  it('gives the handler a token for the downstream audience, acting for the caller', async () => {
    const actor = await sts.subjectToken('service:orders');
    const { invoke } = build({
      client,
      audience: API,
      scope: 'read',
      actorToken: async () => actor,
      realm: 'orders',
    });
    const response = await invoke({ authorization: `Bearer ${await sts.subjectToken('alice')}` });
    expect(response.statusCode).toBe(200);
    expect(JSON.parse(response.body!)).toMatchObject({
      iss: sts.url,
      sub: 'alice',
      aud: API,
      scope: 'read',
      act: { sub: 'service:orders' },
    });
  });

  it('reads the header case-insensitively and can use another context key', async () => {
    const middleware = tokenExchangeMiddleware({ client, audience: API, contextKey: 'ordersApiToken' });
    const handler = middy<Event, Result>()
      .use(middleware)
      .handler(async (_event, context) => ({
        statusCode: 200,
        body: (context as unknown as { ordersApiToken: { accessToken: string } }).ordersApiToken.accessToken,
      }));
    const token = await sts.subjectToken('bob');
    const response = (await handler(
      apiEvent({ Authorization: `bearer ${token}` }),
      lambdaContext(),
    )) as Result;
    expect(response.statusCode).toBe(200);
    expect(decodeJwt(response.body!)).toMatchObject({ sub: 'bob', aud: API });
  });

  it('answers 401 with a challenge when there is no bearer token, 400 when it is malformed', async () => {
    const { invoke, calls } = build({ client, audience: API, realm: 'orders' });
    const missing = await invoke();
    expect(missing).toMatchObject({
      statusCode: 401,
      headers: { 'WWW-Authenticate': 'Bearer realm="orders"', 'Cache-Control': 'no-store' },
    });
    expect(await invoke({ authorization: 'Basic dXNlcjpwdw==' })).toMatchObject({
      statusCode: 400,
      headers: { 'WWW-Authenticate': 'Bearer realm="orders", error="invalid_request"' },
    });
    expect(calls).toEqual([]);
    expect(bearerToken({ headers: { authorization: 'Bearer a.b.c' } })).toBe('a.b.c');
    expect(bearerToken({ headers: { authorization: 'Bearer a b' } })).toBe(false);
    expect(bearerToken({ headers: {} })).toBeNull();
  });

  it('answers 401 invalid_token when the service refuses the caller token, without echoing it', async () => {
    const lines: string[] = [];
    const logger = createLogger('debug', (line) => lines.push(line));
    const { invoke, calls } = build({ client, audience: API, logger });
    const forged = `${(await sts.subjectToken('mallory')).slice(0, -4)}AAAA`;
    const response = await invoke({ authorization: `Bearer ${forged}` });
    expect(response).toMatchObject({
      statusCode: 401,
      headers: { 'WWW-Authenticate': 'Bearer realm="api", error="invalid_token"' },
    });
    expect(JSON.stringify(response)).not.toContain(forged);
    expect(calls).toEqual([]);
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain(forged);
    expect(JSON.parse(lines[0]!)).toMatchObject({
      message: 'token_exchange.refused',
      error: 'invalid_request',
    });
  });

  it('answers 403 insufficient_scope when the caller may not reach the audience', async () => {
    const { invoke } = build({ client, audience: 'https://payroll.example.local' });
    const response = await invoke({ authorization: `Bearer ${await sts.subjectToken('alice')}` });
    expect(response).toMatchObject({
      statusCode: 403,
      headers: { 'WWW-Authenticate': 'Bearer realm="api", error="insufficient_scope"' },
    });
    const scoped = build({ client, audience: API, scope: 'admin' });
    expect(
      (await scoped.invoke({ authorization: `Bearer ${await sts.subjectToken('alice')}` })).statusCode,
    ).toBe(403);
  });

  it('answers 503 without detail when the service is unavailable, passing Retry-After on', async () => {
    const down = new StsClient({ endpoint: `http://127.0.0.1:${await freePort()}`, retry: false });
    const bearer = { authorization: `Bearer ${await sts.subjectToken('alice')}` };
    const unreachable = await build({ client: down, audience: API }).invoke(bearer);
    expect(unreachable).toMatchObject({ statusCode: 503, body: '{"message":"Service Unavailable"}' });
    expect(unreachable.headers).not.toHaveProperty('Retry-After');

    standIn.script('/token', [
      { status: 503, headers: { 'Retry-After': '5' }, body: { error: 'temporarily_unavailable' } },
    ]);
    const busy = new StsClient({ endpoint: standIn.url, retry: false });
    expect(await build({ client: busy, audience: API }).invoke(bearer)).toMatchObject({
      statusCode: 503,
      headers: { 'Retry-After': '5' },
      body: '{"message":"Service Unavailable"}',
    });

    const noActor = build({
      client,
      audience: API,
      actorToken: () => {
        throw new Error('secrets manager unavailable');
      },
    });
    const failed = await noActor.invoke(bearer);
    expect(failed).toMatchObject({ statusCode: 503 });
    expect(failed.body).not.toContain('secrets manager');
  });

  it('answers 500 without detail when the service refuses the function itself', async () => {
    standIn.script('/token', [{ status: 401, body: { error: 'invalid_client', error_description: 'who?' } }]);
    const misconfigured = new StsClient({ endpoint: standIn.url });
    const response = await build({ client: misconfigured, audience: API }).invoke({
      authorization: 'Bearer a.b.c',
    });
    expect(response).toMatchObject({ statusCode: 500, body: '{"message":"Internal Server Error"}' });
  });
});
