import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../../lib/config/config.ts';
import { createExchangeMetrics } from '../../../lib/exchange/exchange-metrics.ts';
import { createTokenExchange, type TokenExchange } from '../../../lib/exchange/token-exchange.ts';
import { TOKEN_EXCHANGE_GRANT, TOKEN_TYPE } from '../../../lib/shared/claims.ts';
import { createMetricsWriter, DIMENSION_NAMES } from '../../../lib/shared/emf.ts';
import { silentLogger } from '../../../lib/shared/log.ts';
import { isReason } from '../../../lib/shared/reasons.ts';
import { MemoryStore } from '../../../lib/stores/memory.ts';
import { frozenClock } from '../../support/clock.ts';
import { API_AUDIENCE, buildConfig, STS_ISSUER, trustedIssuerEntry } from '../../support/config.ts';
import { createFakeIssuer, type FakeIssuer } from '../../support/issuer.ts';
import { testSigner } from '../../support/keys.ts';

/**
 * The exchange's EMF metrics (M3 policy time, M4 refusals, M5 failures, M7 token size) from real
 * exchanges, and the property that matters most: whatever a request carries, a dimension is only
 * a configured policy name or a registered reason, never a subject, jti, audience or token.
 */
const clock = frozenClock();
let issuer: FakeIssuer;
let config: Config;
let exchange: TokenExchange;
const lines: string[] = [];

const form = (subjectToken: string, extra: Record<string, string> = {}) =>
  new Map<string, string[]>([
    ['grant_type', [TOKEN_EXCHANGE_GRANT]],
    ['subject_token', [subjectToken]],
    ['subject_token_type', [TOKEN_TYPE.jwt]],
    ['audience', [API_AUDIENCE]],
    ...Object.entries(extra).map(([key, value]): [string, string[]] => [key, [value]]),
  ]);
const documents = () => lines.map((line) => JSON.parse(line) as Record<string, unknown>);

beforeAll(async () => {
  issuer = await createFakeIssuer({ clock, issuer: 'https://idp.test', alg: 'ES256', audience: STS_ISSUER });
  config = buildConfig({
    trustedIssuers: [trustedIssuerEntry('idp', issuer.issuer, { algorithms: ['ES256'] })],
    policies: [
      { name: 'idp-users', issuer: 'idp', subject: 'user:*', audiences: [API_AUDIENCE], scopes: ['read'] },
    ],
  });
  exchange = createTokenExchange({
    config,
    signer: await testSigner(),
    store: new MemoryStore(),
    clock,
    logger: silentLogger,
    fetch: issuer.fetch.fetch,
    metrics: createMetricsWriter({
      namespace: 'ServerlessSTS/test',
      sink: (line) => lines.push(line),
      now: clock,
    }),
  });
});

describe('exchange metrics', () => {
  it('writes TokensIssued, ExchangeLatency, PolicyEvaluationTime and IssuedTokenSize by policy for an issued token', async () => {
    lines.length = 0;
    const { access_token } = await exchange.exchange(
      form(await issuer.token({ sub: 'user:alice' }), { scope: 'read' }),
    );
    expect(documents()).toEqual([
      {
        _aws: {
          Timestamp: clock(),
          CloudWatchMetrics: [
            {
              Namespace: 'ServerlessSTS/test',
              Dimensions: [[], ['policy']],
              Metrics: [
                { Name: 'TokensIssued', Unit: 'Count' },
                { Name: 'ExchangeLatency', Unit: 'Milliseconds' },
                { Name: 'PolicyEvaluationTime', Unit: 'Milliseconds' },
                { Name: 'IssuedTokenSize', Unit: 'Bytes' },
              ],
            },
          ],
        },
        policy: 'idp-users',
        TokensIssued: 1,
        ExchangeLatency: expect.any(Number),
        PolicyEvaluationTime: expect.any(Number),
        IssuedTokenSize: access_token.length,
      },
    ]);
  });

  it('writes TokenRefusals by registered reason, with the policy time when the engine ran', async () => {
    lines.length = 0;
    await expect(
      exchange.exchange(form(await issuer.token({ sub: 'user:bob' }), { scope: 'admin' })),
    ).rejects.toThrow();
    await expect(exchange.exchange(form('not-a-jwt'))).rejects.toThrow();
    const [scope, malformed] = documents();
    expect(scope).toMatchObject({
      reason: 'policy.scope',
      TokenRefusals: 1,
      PolicyEvaluationTime: expect.any(Number),
    });
    expect(malformed).toMatchObject({ reason: 'subject_token.malformed', TokenRefusals: 1 });
    expect(malformed).not.toHaveProperty('PolicyEvaluationTime');
  });

  it('writes TokenFailures for a 5xx and maps an unregistered reason to "unregistered"', () => {
    lines.length = 0;
    const record = createExchangeMetrics(
      createMetricsWriter({ namespace: 'n', sink: (line) => lines.push(line) }),
      config,
    );
    record({ outcome: 'failed', reason: 'kms.sign.unavailable', durationMs: 12.345 });
    record({ outcome: 'refused', reason: 'user:alice@acme', durationMs: 1 });
    record({ outcome: 'issued', policy: 'user:alice', durationMs: 1, policyMs: 0.1, tokenBytes: 700 });
    expect(documents()).toMatchObject([
      { reason: 'kms.sign.unavailable', TokenFailures: 1, ExchangeLatency: 12.35 },
      { reason: 'unregistered', TokenRefusals: 1 },
      { policy: 'unknown', TokensIssued: 1 },
    ]);
  });

  it('never puts a subject, jti or token into a dimension, whatever the request carries', async () => {
    const policies = new Set(config.policies.map((policy) => policy.name));
    await fc.assert(
      fc.asyncProperty(
        fc.string({ minLength: 1, maxLength: 40 }),
        fc.constantFrom('read', 'admin', ''),
        fc.boolean(),
        async (suffix, scope, user) => {
          lines.length = 0;
          const sub = user ? `user:${suffix}` : suffix;
          const token = await issuer.token({ sub });
          const response = await exchange
            .exchange(form(token, scope ? { scope } : {}))
            .catch(() => undefined);
          expect(lines).toHaveLength(1);
          const document = documents()[0]!;
          for (const name of Object.keys(document)) {
            if (name === '_aws' || !(DIMENSION_NAMES as readonly string[]).includes(name)) continue;
            const value = document[name];
            if (name === 'policy') expect(policies.has(value as string) || value === 'unknown').toBe(true);
            else if (name === 'reason') expect(isReason(value) || value === 'unregistered').toBe(true);
            else throw new Error(`unexpected dimension ${name}`);
          }
          expect(lines[0]).not.toContain(token);
          if (response) {
            const jti = JSON.parse(
              Buffer.from(response.access_token.split('.')[1]!, 'base64url').toString(),
            ).jti;
            expect(lines[0]).not.toContain(jti);
            expect(lines[0]).not.toContain(response.access_token.split('.')[2]!);
          }
        },
      ),
      { numRuns: 60 },
    );
  });
});
