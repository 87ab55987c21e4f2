import middy from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MemoryStore } from '../../../lib/stores/memory.ts';
import {
  type AccessTokenContext,
  accessTokenAuth,
  type ValidationResult,
} from '../../../lib/verify/middleware.ts';
import { DEFAULT_CONSUMER_NAMESPACE, validationMetrics } from '../../../lib/verify/validation-metrics.ts';
import { createAccessTokenVerifier } from '../../../lib/verify/verifier.ts';
import { type FrozenClock, frozenClock } from '../../support/clock.ts';
import { API_AUDIENCE, buildConfig, STS_ISSUER } from '../../support/config.ts';
import { createFakeFetch, type FakeFetch, jsonResponse, unreachable } from '../../support/fetch.ts';
import { testSigner } from '../../support/keys.ts';
import { issueSelfToken } from '../../support/self-token.ts';

/**
 * The verifier middleware's SLI hook (M1 validation outcome, M2 latency) and its EMF writer: one
 * line per request, dimensions outcome and service only, never the token, its subject or jti.
 */
const DISCOVERY = `${STS_ISSUER}/.well-known/openid-configuration`;
const JWKS = `${STS_ISSUER}/.well-known/jwks.json`;
const config = buildConfig();

let signer: Awaited<ReturnType<typeof testSigner>>;
let clock: FrozenClock;
let fake: FakeFetch;
beforeAll(async () => {
  signer = await testSigner();
});
beforeEach(async () => {
  clock = frozenClock();
  fake = createFakeFetch();
  fake.on(DISCOVERY, jsonResponse({ issuer: STS_ISSUER, jwks_uri: JWKS }));
  fake.on(JWKS, jsonResponse({ keys: await signer.publicKeys() }));
});

const event = (headers: Record<string, string>) =>
  ({ version: '2.0', headers, requestContext: { http: { method: 'GET', path: '/x' } } }) as never;
const context = { awsRequestId: 'r1' } as unknown as Context & AccessTokenContext;

function consumer(scopes: string[] = []) {
  const results: ValidationResult[] = [];
  const lines: string[] = [];
  const emf = validationMetrics({ service: 'orders', sink: (line) => lines.push(line) });
  const verifier = createAccessTokenVerifier({
    issuer: STS_ISSUER,
    audience: API_AUDIENCE,
    clock,
    fetch: fake.fetch,
  });
  const handler = middy<APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2>()
    .use(
      accessTokenAuth({
        verifier,
        scopes,
        onResult: (result) => {
          results.push(result);
          emf(result);
        },
      }),
    )
    .handler(async () => ({ statusCode: 200, body: 'ok' }));
  const call = async (headers: Record<string, string> = {}) =>
    (await handler(event(headers), context)) as APIGatewayProxyStructuredResultV2;
  return { call, results, lines };
}

const issue = async (sub = 'alice') => {
  const store = new MemoryStore();
  return issueSelfToken({ config, signer, store, clock }, { aud: API_AUDIENCE, scope: 'read', sub });
};

describe('accessTokenAuth onResult', () => {
  type Header = () => Promise<string | undefined>;
  const cases: Array<[string, Header, string, number]> = [
    ['valid', async () => `Bearer ${(await issue()).token}`, 'valid', 200],
    ['missing', async () => undefined, 'missing', 401],
    ['malformed', async () => 'Bearer a b', 'malformed', 400],
    ['invalid', async () => 'Bearer not.a.token', 'invalid', 401],
  ];
  it.each(cases)('reports %s', async (_name, header, outcome, status) => {
    const { call, results } = consumer();
    const value = await header();
    const response = await call(value === undefined ? {} : { authorization: value });
    expect(response.statusCode).toBe(status);
    expect(results).toHaveLength(1);
    expect(results[0]).toMatchObject({ outcome, status });
    expect(results[0]!.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('reports insufficient_scope and unavailable (the STS cannot be reached: 503)', async () => {
    const scoped = consumer(['write']);
    await scoped.call({ authorization: `Bearer ${(await issue()).token}` });
    expect(scoped.results[0]).toMatchObject({ outcome: 'insufficient_scope', status: 403 });

    fake.on(JWKS, unreachable);
    const down = consumer();
    expect((await down.call({ authorization: `Bearer ${(await issue()).token}` })).statusCode).toBe(503);
    expect(down.results[0]).toMatchObject({ outcome: 'unavailable', status: 503 });
  });
});

describe('validationMetrics', () => {
  it('writes TokenValidations and TokenValidationLatency by outcome, and by service and outcome', async () => {
    const { call, lines } = consumer();
    await call({ authorization: `Bearer ${(await issue()).token}` });
    expect(lines).toHaveLength(1);
    const document = JSON.parse(lines[0]!);
    expect(document).toMatchObject({
      _aws: {
        CloudWatchMetrics: [
          {
            Namespace: DEFAULT_CONSUMER_NAMESPACE,
            Dimensions: [['outcome'], ['service', 'outcome']],
            Metrics: [
              { Name: 'TokenValidations', Unit: 'Count' },
              { Name: 'TokenValidationLatency', Unit: 'Milliseconds' },
            ],
          },
        ],
      },
      outcome: 'valid',
      service: 'orders',
      TokenValidations: 1,
    });
  });

  it('never writes the token, its subject or its jti', async () => {
    const { call, lines } = consumer();
    const { token, jti } = await issue('subject-7f3a');
    await call({ authorization: `Bearer ${token}` });
    await call({ authorization: `Bearer ${token.slice(0, -4)}AAAA` });
    expect(lines).toHaveLength(2);
    for (const line of lines) {
      expect(line).not.toContain(token.split('.')[1]!);
      expect(line).not.toContain('subject-7f3a');
      expect(line).not.toContain(jti);
      const keys = Object.keys(JSON.parse(line)).filter((key) => key !== '_aws');
      expect(keys.sort()).toEqual(['TokenValidationLatency', 'TokenValidations', 'outcome', 'service']);
    }
  });

  it('refuses a service name that is no dimension value, at creation', () => {
    expect(() => validationMetrics({ service: 'orders service' })).toThrow(TypeError);
  });
});
