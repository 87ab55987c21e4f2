import { DeleteItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTokenExchange } from '../../../lib/exchange/token-exchange.ts';
import { compareAudit, parseIssuedLines, scanIssuedItems } from '../../../lib/ops/audit-completeness.ts';
import { TOKEN_EXCHANGE_GRANT, TOKEN_TYPE } from '../../../lib/shared/claims.ts';
import { createLogger } from '../../../lib/shared/log.ts';
import { parseAuditArgs } from '../../../scripts/audit-completeness.ts';
import { frozenClock } from '../../support/clock.ts';
import { API_AUDIENCE, buildConfig, STS_ISSUER, trustedIssuerEntry } from '../../support/config.ts';
import { createFakeIssuer } from '../../support/issuer.ts';
import { testSigner } from '../../support/keys.ts';
import { DYNAMO_STORE_KINDS, type OpenedStore } from '../../support/token-stores.ts';

/** M10: every TOKEN# of a window has its token.issued line and every line its TOKEN#. */
describe('compareAudit', () => {
  const window = { from: 1000, to: 2000, slackSeconds: 60 };
  const live = 10_000;

  it('is complete when both sides match, edges included', () => {
    const report = compareAudit(
      [
        { jti: 'a', iat: 1000 },
        { jti: 'b', iat: 2000 },
      ],
      [
        { jti: 'a', time: 1001, exp: live },
        { jti: 'b', time: 2030, exp: live },
      ],
      window,
      1500,
    );
    expect(report).toMatchObject({ items: 2, complete: true, itemsWithoutLine: [], linesWithoutItem: [] });
  });

  it('reports an item without its line, and a line without its item', () => {
    const report = compareAudit(
      [
        { jti: 'a', iat: 1500 },
        { jti: 'silent', iat: 1600 },
      ],
      [
        { jti: 'a', time: 1500, exp: live },
        { jti: 'ghost', time: 1700, exp: live },
      ],
      window,
      1800,
    );
    expect(report).toMatchObject({
      complete: false,
      itemsWithoutLine: ['silent'],
      linesWithoutItem: ['ghost'],
    });
  });

  it('does not blame a line near the window start (its item may predate the window) or an expired one', () => {
    const report = compareAudit(
      [],
      [
        { jti: 'early', time: 1030, exp: live },
        { jti: 'expired', time: 1500, exp: 1800 },
      ],
      window,
      1900,
    );
    expect(report).toMatchObject({ complete: true, lines: 1, expiredUnverifiable: 1 });
  });

  it('reads the service lines and CloudWatch events, skipping anything else', () => {
    const line = JSON.stringify({
      level: 'info',
      time: '2026-01-01T00:00:10.000Z',
      message: 'token.issued',
      jti: 'j1',
      expires_in: 300,
    });
    const text = [
      line,
      JSON.stringify({ timestamp: 1, message: line.replace('j1', 'j2') }),
      JSON.stringify({ message: 'token.refused', jti: 'x', time: '2026-01-01T00:00:00Z' }),
      'START RequestId: 1',
      '{not json',
    ].join('\n');
    const start = Date.parse('2026-01-01T00:00:10.000Z') / 1000;
    expect(parseIssuedLines(text)).toEqual([
      { jti: 'j1', time: start, exp: start + 300 },
      { jti: 'j2', time: start, exp: start + 300 },
    ]);
  });

  it('parses the script arguments', () => {
    const args = ['--table', 't', '--from', '2026-01-01T00:00:00Z', '--to', '2026-01-01T01:00:00Z'];
    expect(parseAuditArgs([...args, '--lines', '-'])).toEqual({
      table: 't',
      from: 1_767_225_600,
      to: 1_767_229_200,
      lines: '-',
      slack: 60,
      endpoint: undefined,
    });
    expect(parseAuditArgs(['--table', 't', '--lines', 'x'])).toMatch(/--from and --to/);
    expect(parseAuditArgs(['--nope'])).toMatch(/Unknown option/);
  });
});

describe.each(DYNAMO_STORE_KINDS.filter((kind) => kind.name === 'dynalite'))(
  'audit completeness on $name',
  (kind) => {
    let opened: OpenedStore;
    afterAll(() => opened?.close());
    const lines: string[] = [];
    const jtis: string[] = [];
    const clock = frozenClock();

    beforeAll(async () => {
      opened = await kind.open();
      const issuer = await createFakeIssuer({
        clock,
        issuer: 'https://idp.test',
        alg: 'ES256',
        audience: STS_ISSUER,
      });
      const exchange = createTokenExchange({
        config: buildConfig({
          trustedIssuers: [trustedIssuerEntry('idp', issuer.issuer, { algorithms: ['ES256'] })],
          policies: [{ name: 'idp', issuer: 'idp', subject: '*', audiences: [API_AUDIENCE] }],
        }),
        signer: await testSigner(),
        store: opened.store,
        clock,
        logger: createLogger('info', (line) => lines.push(line)),
        fetch: issuer.fetch.fetch,
      });
      for (let i = 0; i < 3; i++) {
        const { access_token } = await exchange.exchange(
          new Map([
            ['grant_type', [TOKEN_EXCHANGE_GRANT]],
            ['subject_token', [await issuer.token({ sub: `user-${i}` })]],
            ['subject_token_type', [TOKEN_TYPE.jwt]],
            ['audience', [API_AUDIENCE]],
          ]),
        );
        jtis.push(JSON.parse(Buffer.from(access_token.split('.')[1]!, 'base64url').toString()).jti);
      }
    });

    it('finds the real exchanges complete, then reports the deleted item and the dropped line', async () => {
      const { client, tableName } = opened.dynamo!;
      // The lines carry wall-clock time and the exchanges ran on the frozen clock: align them.
      const now = clock.seconds();
      const window = { from: now - 5, to: now + 5, slackSeconds: 0 };
      const issued = parseIssuedLines(lines.join('\n')).map((line) => ({
        ...line,
        time: now,
        exp: now + 300,
      }));
      expect(issued.map((line) => line.jti).sort()).toEqual([...jtis].sort());
      const items = await scanIssuedItems(client, tableName, window);
      expect(items.map((item) => item.jti).sort()).toEqual([...jtis].sort());
      expect(compareAudit(items, issued, window, now)).toMatchObject({ complete: true, items: 3, lines: 3 });

      await client.send(
        new DeleteItemCommand({ TableName: tableName, Key: { pk: { S: `TOKEN#${jtis[0]}` } } }),
      );
      const after = await scanIssuedItems(client, tableName, window);
      const withoutLine = issued.filter((line) => line.jti !== jtis[1]);
      expect(compareAudit(after, withoutLine, window, now)).toMatchObject({
        complete: false,
        itemsWithoutLine: [jtis[1]],
        linesWithoutItem: [jtis[0]],
      });
    });
  },
);
