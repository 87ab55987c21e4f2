// The exchange pipeline (lib/exchange/token-exchange.ts) on its own: the response and the one audit
// line per outcome (`token.issued`, `token.refused`; a 5xx is logged once, by the handler, as
// `request.failed` with the exchange's audit fields), the lifetime cap of chained tokens, and the
// order of minting, spending and recording.

import { describe, expect, it } from 'vitest';
import { createRuntime } from '../../../lambdas/runtime.ts';
import { createHandler } from '../../../lambdas/token.ts';
import { loadSettings } from '../../../lib/config/settings.ts';
import type { Form } from '../../../lib/exchange/form.ts';
import { createTokenExchange } from '../../../lib/exchange/token-exchange.ts';
import { TOKEN_EXCHANGE_GRANT, TOKEN_TYPE } from '../../../lib/shared/claims.ts';
import { type OAuthError, temporarilyUnavailable } from '../../../lib/shared/errors.ts';
import { createLogger, tokenFingerprint } from '../../../lib/shared/log.ts';
import type { Signer } from '../../../lib/signers/signer.ts';
import { MemoryStore } from '../../../lib/stores/memory.ts';
import { apiEvent, lambdaContext } from '../../support/api-event.ts';
import { frozenClock } from '../../support/clock.ts';
import { API_AUDIENCE, buildConfig, STS_ISSUER, trustedIssuerEntry } from '../../support/config.ts';
import { createFakeIssuer } from '../../support/issuer.ts';
import { testSigner } from '../../support/keys.ts';
import { issueSelfToken } from '../../support/self-token.ts';

const SUBJECT = 'repo:acme/app:ref:refs/heads/main';

async function setup(options: { oneTimeUse?: boolean; signer?: (real: Signer) => Signer } = {}) {
  const clock = frozenClock();
  const github = await createFakeIssuer({ clock, alg: 'ES256', audience: STS_ISSUER });
  const config = buildConfig({
    trustedIssuers: [
      trustedIssuerEntry('github', github.issuer, { algorithms: ['ES256'], oneTimeUse: options.oneTimeUse }),
    ],
    policies: [
      {
        name: 'app',
        issuer: 'github',
        subject: 'repo:acme/app:**',
        audiences: [API_AUDIENCE, STS_ISSUER],
        scopes: ['read', 'write'],
        maxLifetime: '5m',
      },
      {
        name: 'chained',
        issuer: 'self',
        subject: 'repo:acme/**',
        audiences: [API_AUDIENCE],
        scopes: ['read'],
      },
    ],
  });
  const real = await testSigner();
  const signer = options.signer ? options.signer(real) : real;
  const store = new MemoryStore();
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger('info', (line) => lines.push(JSON.parse(line) as Record<string, unknown>));
  const engine = createTokenExchange({ config, signer, store, clock, logger, fetch: github.fetch.fetch });
  return { clock, github, config, signer: real, store, lines, logger, engine };
}

const form = (params: Record<string, string>): Form =>
  new Map(Object.entries(params).map(([key, value]) => [key, [value]]));
const exchangeOf = (subjectToken: string, extra: Record<string, string> = {}) =>
  form({
    grant_type: TOKEN_EXCHANGE_GRANT,
    subject_token: subjectToken,
    subject_token_type: TOKEN_TYPE.jwt,
    audience: API_AUDIENCE,
    ...extra,
  });
const refusal = (promise: Promise<unknown>) =>
  promise.then(
    () => expect.unreachable('expected a refusal'),
    (error: unknown) => error as OAuthError,
  );

describe('createTokenExchange', () => {
  it('answers RFC 8693 §2.2.1 and writes one token.issued line with the audit record', async () => {
    const { github, engine, lines, store } = await setup();
    const subjectToken = await github.token();
    const response = await engine.exchange(exchangeOf(subjectToken, { scope: 'read' }));
    expect(response).toMatchObject({
      issued_token_type: TOKEN_TYPE.accessToken,
      token_type: 'Bearer',
      expires_in: 300,
      scope: 'read',
    });
    expect(lines).toHaveLength(1);
    const [line] = lines;
    expect(line).toMatchObject({
      level: 'info',
      message: 'token.issued',
      subject_token: tokenFingerprint(subjectToken),
      target: API_AUDIENCE,
      sub: SUBJECT,
      subject_issuer: 'github',
      policy: 'app',
      expires_in: 300,
      scope: 'read',
    });
    expect(typeof line!.duration_ms).toBe('number');
    expect(JSON.stringify(lines)).not.toContain(subjectToken);
    expect(JSON.stringify(lines)).not.toContain(response.access_token);
    expect(store.tokens.get(line!.jti as string)).toMatchObject({
      sub: SUBJECT,
      policy: 'app',
      subjectIssuer: 'github',
    });
  });

  it('a refusal writes one token.refused line (code and reason, no cause) and records nothing', async () => {
    const { github, engine, lines, store } = await setup();
    const error = await refusal(engine.exchange(exchangeOf(await github.token(), { scope: 'admin' })));
    expect([error.code, error.reason]).toEqual(['invalid_scope', 'policy.scope']);
    expect(lines).toEqual([
      expect.objectContaining({
        level: 'info',
        message: 'token.refused',
        error: 'invalid_scope',
        reason: 'policy.scope',
        sub: SUBJECT,
      }),
    ]);
    expect(lines[0]).not.toHaveProperty('cause');
    expect(store.tokens.size).toBe(0);
  });

  it('a refusal after a policy admitted (a chain too long) names that policy in token.refused', async () => {
    const { config, signer, store, clock, engine, lines } = await setup();
    const deps = { config, signer, store, clock };
    const ancestors: string[] = [];
    for (let index = 0; index < 8; index++)
      ancestors.push((await issueSelfToken(deps, { sub: SUBJECT })).jti);
    const subject = await issueSelfToken(deps, { sub: SUBJECT, record: false });
    const now = clock.seconds();
    await store.recordIssued({
      jti: subject.jti,
      sub: SUBJECT,
      aud: STS_ISSUER,
      clientId: 'test',
      scope: undefined,
      iat: now,
      exp: now + 300,
      subjectIssuer: 'test',
      originIssuer: 'https://issuer.test',
      policy: 'test',
      ancestors,
      actors: [],
    });
    const error = await refusal(
      engine.exchange(exchangeOf(subject.token, { subject_token_type: TOKEN_TYPE.accessToken })),
    );
    expect(error.reason).toBe('subject_token.chain_too_long');
    expect(lines.at(-1)).toMatchObject({ message: 'token.refused', policy: 'chained' });
  });

  it('caps a chained token at the life its subject token has left', async () => {
    const { config, signer, store, clock, engine } = await setup();
    const subject = await issueSelfToken({ config, signer, store, clock }, { sub: SUBJECT, lifetime: 60 });
    clock.advance(20);
    const response = await engine.exchange(
      exchangeOf(subject.token, { subject_token_type: TOKEN_TYPE.accessToken }),
    );
    expect(response.expires_in).toBe(40);
  });

  it('refuses a chained exchange from a subject token with no life left', async () => {
    const { config, signer, store, engine } = await setup();
    // Still valid at its own `exp` second for jose's check, but nothing remains to hand on.
    const subject = await issueSelfToken(
      { config, signer, store, clock: () => 0 },
      { sub: SUBJECT, lifetime: 1 },
    );
    const error = await refusal(engine.exchange(exchangeOf(subject.token)));
    expect(error.code).toBe('invalid_request');
    expect(error.reason).toMatch(/^subject_token\./);
  });

  it('spends a one-time token only after signing: a signer fault leaves it usable', async () => {
    let fail = true;
    const { github, engine, store } = await setup({
      oneTimeUse: true,
      signer: (real) => ({
        ...real,
        activeKey: () => real.activeKey(),
        publicKeys: () => real.publicKeys(),
        sign: (input: Uint8Array) =>
          fail ? Promise.reject(temporarilyUnavailable('kms.sign.unavailable')) : real.sign(input),
      }),
    });
    const subjectToken = await github.token();
    expect((await refusal(engine.exchange(exchangeOf(subjectToken)))).status).toBe(503);
    expect(store.tokens.size).toBe(0);
    fail = false;
    await engine.exchange(exchangeOf(subjectToken));
    expect(store.tokens.size).toBe(1);
    expect((await refusal(engine.exchange(exchangeOf(subjectToken)))).reason).toBe('subject_token.replayed');
  });
});

describe('a 5xx of the exchange is logged once', () => {
  it('as request.failed, by the handler, with the exchange audit fields', async () => {
    const { config, github, signer, clock, lines, logger } = await setup();
    const store = new MemoryStore();
    store.recordIssued = () => Promise.reject(temporarilyUnavailable('dynamodb.put_token.unavailable'));
    const runtime = createRuntime({
      settings: loadSettings({}),
      config,
      signer,
      store,
      clock,
      logger,
      fetch: github.fetch.fetch,
    });
    const handler = createHandler(async () => runtime);
    const body = new URLSearchParams({
      grant_type: TOKEN_EXCHANGE_GRANT,
      subject_token: await github.token(),
      subject_token_type: TOKEN_TYPE.jwt,
      audience: API_AUDIENCE,
    }).toString();
    const result = await handler(
      apiEvent({ body, headers: { 'content-type': 'application/x-www-form-urlencoded' } }),
      lambdaContext,
    );
    expect(result.statusCode).toBe(503);
    expect(lines.map((line) => line.message)).toEqual(['request.failed']);
    expect(lines[0]).toMatchObject({
      level: 'error',
      reason: 'dynamodb.put_token.unavailable',
      error: 'temporarily_unavailable',
      sub: SUBJECT,
      policy: 'app',
      target: API_AUDIENCE,
    });
    expect(typeof lines[0]!.jti).toBe('string');
    expect(typeof lines[0]!.duration_ms).toBe('number');
  });
});
