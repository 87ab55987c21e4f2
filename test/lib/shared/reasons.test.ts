// The reason registry (lib/shared/reasons.ts) is the one list the metrics, alarms, dashboard and
// docs rely on: every reason the exchange, introspection and revocation emit at run time must be
// in it, and so must every reason the CDK metric filters and docs/SECURITY.md name.

import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createOwnTokenVerifier } from '../../../lib/exchange/own-token.ts';
import { createTokenExchange } from '../../../lib/exchange/token-exchange.ts';
import { TOKEN_EXCHANGE_PARAMETERS } from '../../../lib/exchange/token-request.ts';
import { createIntrospection } from '../../../lib/revocation/introspection.ts';
import { createRevocation } from '../../../lib/revocation/revocation.ts';
import { TOKEN_EXCHANGE_GRANT, TOKEN_TYPE } from '../../../lib/shared/claims.ts';
import { OAuthError } from '../../../lib/shared/errors.ts';
import { createLogger } from '../../../lib/shared/log.ts';
import { isReason, REASONS, reasonPrefix, TOKEN_CHECKS } from '../../../lib/shared/reasons.ts';
import { MemoryStore } from '../../../lib/stores/memory.ts';
import { frozenClock } from '../../support/clock.ts';
import { API_AUDIENCE, buildConfig, STS_ISSUER, trustedIssuerEntry } from '../../support/config.ts';
import { createFakeFetch, unreachable } from '../../support/fetch.ts';
import { createFakeIssuer } from '../../support/issuer.ts';
import { generateTestKey, testSigner } from '../../support/keys.ts';

describe('isReason', () => {
  it.each([
    'request.too_large',
    'request.missing_subject_token',
    'request.duplicate_audience',
    'subject_token.expired',
    'actor_token.header_jku',
    'expired',
    'kms.sign.unavailable',
    'dynamodb.put_seen.failed',
    'policy.refused',
    'invalid_client',
  ])('accepts %s', (reason) => {
    expect(isReason(reason)).toBe(true);
  });

  it.each([
    'custom.down',
    'subject_token.whatever',
    'client_token.expired',
    'request.missing_',
    'kms..unavailable',
    'kms.sign.exploded',
    'policy.none.extra',
    ' expired',
    'request.missing_Subject',
    '',
    42,
  ])('refuses %s', (reason) => {
    expect(isReason(reason)).toBe(false);
  });

  it('describes every reason in a few words', () => {
    for (const meaning of [...Object.values(TOKEN_CHECKS), ...Object.values(REASONS)]) {
      expect(meaning.length).toBeGreaterThan(5);
    }
  });
});

describe('every reason emitted at run time is registered', () => {
  it('the exchange, introspection and revocation emit only registered reasons', async () => {
    const clock = frozenClock();
    const fetch = createFakeFetch();
    const github = await createFakeIssuer({ clock, fetch, alg: 'ES256' });
    const down = await createFakeIssuer({ clock, fetch, issuer: 'https://down.test', alg: 'ES256' });
    down.jwksHandler(unreachable);
    const stranger = await generateTestKey('ES256');
    const signer = await testSigner();
    const config = buildConfig({
      trustedIssuers: [
        trustedIssuerEntry('github', github.issuer, { algorithms: ['ES256'], oneTimeUse: true }),
        trustedIssuerEntry('down', down.issuer, { algorithms: ['ES256'] }),
      ],
      policies: [
        {
          name: 'app',
          issuer: 'github',
          subject: 'repo:acme/app:*',
          audiences: [API_AUDIENCE, STS_ISSUER],
          scopes: ['read'],
        },
        { name: 'down', issuer: 'down', subject: '*', audiences: [API_AUDIENCE] },
      ],
    });
    const lines: string[] = [];
    const logger = createLogger('info', (line) => lines.push(line));
    const store = new MemoryStore();
    const engine = createTokenExchange({ config, signer, store, clock, logger, fetch: fetch.fetch });
    const form = (params: Record<string, string | string[]>) =>
      new Map(Object.entries(params).map(([key, value]) => [key, Array.isArray(value) ? value : [value]]));
    const valid = (subjectToken: string, extra: Record<string, string | string[]> = {}) =>
      form({
        grant_type: TOKEN_EXCHANGE_GRANT,
        subject_token: subjectToken,
        subject_token_type: TOKEN_TYPE.jwt,
        audience: API_AUDIENCE,
        ...extra,
      });

    const spent = await github.token();
    const requests = [
      form({}),
      form({ grant_type: 'password' }),
      form({ grant_type: TOKEN_EXCHANGE_GRANT }),
      valid('x', { subject_token_type: 'urn:x' }),
      valid('x', { audience: ['a', 'b'] }),
      valid('x', { resource: 'https://r.test' }),
      valid('x', { scope: ' read' }),
      valid('x', { actor_token: 'y' }),
      valid('a.b.c'),
      valid('x'.repeat(config.maxTokenBytes + 1)),
      valid(await github.token({ exp: clock.seconds() - 3600 })),
      valid(await github.token({ aud: 'https://elsewhere.test' })),
      valid(await github.token({ iss: 'https://unknown.test' })),
      valid(await github.token({}, { header: { jku: 'https://evil.test/jwks' } })),
      valid(await github.token({}, { key: stranger })),
      valid(await github.token({ act: { sub: 'someone' } })),
      valid(await github.token({ sub: 'repo:other/app:ref:x' })),
      valid(await github.token(), { audience: 'https://not-listed.test' }),
      valid(await github.token(), { scope: 'write' }),
      valid(await down.token()),
      valid(spent),
      valid(spent),
    ];
    const thrown: string[] = [];
    for (const request of requests) {
      await engine.exchange(request).catch((error: unknown) => {
        thrown.push(error instanceof OAuthError ? error.reason : 'not an OAuthError');
      });
    }

    const verifyOwnToken = createOwnTokenVerifier({ config, signer, clock });
    const introspect = createIntrospection({ store, clock, logger, verifyOwnToken });
    const revocation = createRevocation({ config, store, clock, logger, verifyOwnToken });
    await introspect('a.b.c');
    await introspect(spent);
    await revocation.revokeToken('garbage');
    await revocation.revokeJti('no-such-jti', { admin: 'test' });

    const logged = lines
      .map((line) => JSON.parse(line) as { reason?: unknown })
      .flatMap((line) => line.reason ?? []);
    const emitted = [...new Set([...thrown, ...logged])];
    expect(emitted.filter((reason) => !isReason(reason))).toEqual([]);
    // The requests reach the parser, the token checks, the policy, the key source and the store.
    expect(emitted.length).toBeGreaterThan(18);
  });

  it('form duplicates and missing parameters of every exchange parameter are registered', () => {
    for (const name of TOKEN_EXCHANGE_PARAMETERS) {
      expect(isReason(`request.duplicate_${name}`)).toBe(true);
      expect(isReason(`request.missing_${name}`)).toBe(true);
    }
  });
});

describe('the registry is the list the metrics and docs use', () => {
  it('the metrics name only registered reasons: dependency areas and the reason dimension', async () => {
    const { dependencyOf } = await import('../../../lambdas/request-metrics.ts');
    const { reasonDimension } = await import('../../../lib/exchange/exchange-metrics.ts');
    const dependencies = Object.keys(REASONS).filter((reason) => dependencyOf(reason) !== undefined);
    expect(dependencies.map((reason) => reason.split('.')[0]).sort()).toEqual(
      expect.arrayContaining(['dynamodb', 'jwks', 'kms']),
    );
    expect(dependencyOf('kms.sign.unavailable')).toBe('kms');
    expect(dependencyOf('unexpected')).toBeUndefined();
    expect(reasonDimension('subject_token.expired')).toBe('subject_token.expired');
    expect(reasonDimension('repo:acme/app:ref:refs/heads/main')).toBe('unregistered');
  });

  it('refuses a metric prefix no registered reason has', () => {
    expect(reasonPrefix('kms')).toBe('kms.');
    expect(() => reasonPrefix('kmz')).toThrow(/no registered reason/);
  });

  it('every reason docs/SECURITY.md names is registered', () => {
    const doc = readFileSync(new URL('../../../docs/SECURITY.md', import.meta.url), 'utf8');
    const named = [...doc.matchAll(/reasons? `([a-z0-9_.<>]+)`/g)].map((match) => match[1]!);
    expect(named.length).toBeGreaterThan(2);
    for (const reason of named) expect(isReason(reason) || reason in REASONS, reason).toBe(true);
  });
});
