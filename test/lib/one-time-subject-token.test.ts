import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../lib/config/config.ts';
import type { Form } from '../../lib/exchange/form.ts';
import { createTokenExchange, type TokenExchange } from '../../lib/exchange/token-exchange.ts';
import { TOKEN_EXCHANGE_GRANT, TOKEN_TYPE } from '../../lib/shared/claims.ts';
import type { OAuthError } from '../../lib/shared/errors.ts';
import { createLogger } from '../../lib/shared/log.ts';
import type { Signer } from '../../lib/signers/signer.ts';
import { type FrozenClock, frozenClock } from '../support/clock.ts';
import { API_AUDIENCE, buildConfig, STS_ISSUER, trustedIssuerEntry } from '../support/config.ts';
import { createFakeFetch } from '../support/fetch.ts';
import { createFakeIssuer, type FakeIssuer } from '../support/issuer.ts';
import { testSigner } from '../support/keys.ts';
import { DYNAMO_STORE_KINDS, type OpenedStore } from '../support/token-stores.ts';

/**
 * One-time subject tokens (`oneTimeUse: true`): the first exchange writes SEEN#<issuer>#<jti>
 * with a conditional put, so a replay is refused with invalid_request, and of two exchanges
 * racing with one token exactly one wins; on dynalite and on DynamoDB Local.
 */
const exchangeForm = (subjectToken: string): Form =>
  new Map([
    ['grant_type', [TOKEN_EXCHANGE_GRANT]],
    ['subject_token', [subjectToken]],
    ['subject_token_type', [TOKEN_TYPE.jwt]],
    ['audience', [API_AUDIENCE]],
  ]);

describe.each(DYNAMO_STORE_KINDS)('one-time subject tokens on $name', (kind) => {
  let opened: OpenedStore;
  let clock: FrozenClock;
  let once: FakeIssuer;
  let reusable: FakeIssuer;
  let config: Config;
  let signer: Signer;
  let exchange: TokenExchange;
  const lines: string[] = [];

  beforeAll(async () => {
    opened = await kind.open();
    clock = frozenClock();
    const fetch = createFakeFetch();
    [once, reusable, signer] = await Promise.all([
      createFakeIssuer({ clock, fetch, issuer: 'https://once.test', alg: 'ES256', audience: STS_ISSUER }),
      createFakeIssuer({ clock, fetch, issuer: 'https://many.test', alg: 'ES256', audience: STS_ISSUER }),
      testSigner(),
    ]);
    config = buildConfig({
      trustedIssuers: [
        trustedIssuerEntry('once', once.issuer, { algorithms: ['ES256'], oneTimeUse: true }),
        trustedIssuerEntry('many', reusable.issuer, { algorithms: ['ES256'] }),
      ],
      policies: [
        { name: 'once', issuer: 'once', subject: '**', audiences: [API_AUDIENCE] },
        { name: 'many', issuer: 'many', subject: '**', audiences: [API_AUDIENCE] },
      ],
    });
    exchange = createTokenExchange({
      config,
      signer,
      store: opened.store,
      clock,
      logger: createLogger('info', (line) => lines.push(line)),
      fetch: fetch.fetch,
    });
  });
  afterAll(() => opened?.close());

  const refusal = (error: unknown) => (error as OAuthError).code;
  const reasons = () => lines.map((line) => (JSON.parse(line) as { reason?: string }).reason);

  it('exchanges a one-time token once and refuses its replay with invalid_request', async () => {
    const token = await once.token({ jti: `first-${kind.name}` });
    await expect(exchange.exchange(exchangeForm(token))).resolves.toMatchObject({ token_type: 'Bearer' });
    lines.length = 0;
    const error = await exchange.exchange(exchangeForm(token)).catch((thrown: unknown) => thrown);
    expect(refusal(error)).toBe('invalid_request');
    expect(reasons()).toContain('subject_token.replayed');
  });

  it('records the use as SEEN#<issuer>#<jti> kept until the subject token exp plus the clock skew', async () => {
    const jti = `seen-${kind.name}`;
    const exp = clock.seconds() + 600;
    await exchange.exchange(exchangeForm(await once.token({ jti, exp })));
    const { client, tableName } = opened.dynamo!;
    const { Item } = await client.send(
      new GetItemCommand({
        TableName: tableName,
        Key: { pk: { S: `SEEN#${once.issuer}#${jti}` } },
        ConsistentRead: true,
      }),
    );
    expect(Item?.ttl).toEqual({ N: String(exp + 30) }); // default clockSkew: 30 s
  });

  it('lets exactly one of two racing exchanges of the same token win', async () => {
    const token = await once.token({ jti: `race-${kind.name}` });
    const results = await Promise.allSettled([
      exchange.exchange(exchangeForm(token)),
      exchange.exchange(exchangeForm(token)),
    ]);
    expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(1);
    const [rejected] = results.filter((result) => result.status === 'rejected');
    expect(refusal((rejected as PromiseRejectedResult).reason)).toBe('invalid_request');
  });

  it('lets exactly one of many racing exchanges win', async () => {
    const token = await once.token({ jti: `stampede-${kind.name}` });
    const results = await Promise.allSettled(
      Array.from({ length: 12 }, () => exchange.exchange(exchangeForm(token))),
    );
    expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(1);
    for (const result of results) {
      if (result.status === 'rejected') expect(refusal(result.reason)).toBe('invalid_request');
    }
  });

  it('keeps one-time use per issuer and jti: the same jti from another token still works once', async () => {
    const jti = `shared-${kind.name}`;
    await exchange.exchange(exchangeForm(await once.token({ jti })));
    // Another token with the same jti from the same issuer is a replay of that jti.
    const error = await exchange
      .exchange(exchangeForm(await once.token({ jti, sub: 'someone-else' })))
      .catch((thrown: unknown) => thrown);
    expect(refusal(error)).toBe('invalid_request');
    // The same jti from an issuer without oneTimeUse is not tracked at all.
    const token = await reusable.token({ jti });
    await exchange.exchange(exchangeForm(token));
    await expect(exchange.exchange(exchangeForm(token))).resolves.toMatchObject({ token_type: 'Bearer' });
  });

  it('refuses a one-time token without jti', async () => {
    const error = await exchange
      .exchange(exchangeForm(await once.token({ jti: undefined })))
      .catch((thrown: unknown) => thrown);
    expect(refusal(error)).toBe('invalid_request');
  });

  it('does not burn the token when the exchange is refused before the policy admits it', async () => {
    const token = await once.token({ jti: `refused-${kind.name}` });
    const wrongTarget = new Map(exchangeForm(token));
    wrongTarget.set('audience', ['https://not-allowed.test']);
    await expect(exchange.exchange(wrongTarget)).rejects.toMatchObject({ code: 'invalid_target' });
    await expect(exchange.exchange(exchangeForm(token))).resolves.toMatchObject({ token_type: 'Bearer' });
  });
});
