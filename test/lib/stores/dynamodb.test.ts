import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DeleteTableCommand, type DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OAuthError } from '../../../lib/shared/errors.ts';
import { subjectKey } from '../../../lib/shared/token-table.ts';
import { DynamoStore } from '../../../lib/stores/dynamodb.ts';
import { ensureTable } from '../../../lib/stores/dynamodb-table.ts';
import { MemoryStore } from '../../../lib/stores/memory.ts';
import type { IssuedToken, TokenStore } from '../../../lib/stores/store.ts';
import { localDynamoClient } from '../../../local/embedded-dynamodb.ts';
import { BACKENDS, type DynamoBackend } from '../../support/dynamo-backends.ts';
import { freePort } from '../../support/ports.ts';

const GITHUB = 'https://token.actions.githubusercontent.com';
const token = (jti: string, overrides: Partial<IssuedToken> = {}): IssuedToken => ({
  jti,
  sub: 'repo:acme/app:environment:prod',
  aud: 'https://deploy.acme.internal',
  clientId: 'deploy-prod',
  scope: 'deploy:write',
  iat: 1_800_000_000,
  exp: 1_800_000_300,
  subjectIssuer: 'github',
  originIssuer: GITHUB,
  policy: 'deploy-prod',
  parent: undefined,
  root: undefined,
  rootPolicy: undefined,
  ancestors: [],
  actors: [],
  ...overrides,
});

/** The TokenStore contract: every implementation must pass the same cases. */
function storeContract(name: string, open: () => { store: TokenStore }) {
  describe(`TokenStore contract: ${name}`, () => {
    it('records an issued token and reads it back', async () => {
      const { store } = open();
      await store.recordIssued(token('a1'));
      expect(await store.getToken('a1')).toEqual({ ...token('a1'), revokedAt: undefined });
      expect(await store.getToken('missing')).toBeUndefined();
    });

    it('records a token without scope', async () => {
      const { store } = open();
      await store.recordIssued(token('a2', { scope: undefined }));
      expect((await store.getToken('a2'))?.scope).toBeUndefined();
    });

    it('refuses a second record with the same jti and keeps the first', async () => {
      const { store } = open();
      await store.recordIssued(token('a3'));
      const error = await store.recordIssued(token('a3', { sub: 'other' })).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OAuthError);
      expect((error as OAuthError).status).toBe(500);
      expect((await store.getToken('a3'))?.sub).toBe(token('a3').sub);
    });

    it('revokes by jti once and keeps the first revocation time', async () => {
      const { store } = open();
      await store.recordIssued(token('a4'));
      expect(await store.revokeToken('a4', 1_800_000_100)).toBe(true);
      expect(await store.revokeToken('a4', 1_800_000_200)).toBe(true);
      expect((await store.getToken('a4'))?.revokedAt).toBe(1_800_000_100);
    });

    it('does not create a record when revoking an unknown jti', async () => {
      const { store } = open();
      expect(await store.revokeToken('never-issued', 1_800_000_100)).toBe(false);
      expect(await store.getToken('never-issued')).toBeUndefined();
    });

    it('revokes a subject and never moves revokedBefore backwards', async () => {
      const { store } = open();
      expect(await store.subjectRevokedBefore(GITHUB, 'alice')).toBeUndefined();
      await store.revokeSubject(GITHUB, 'alice', 1_800_000_500);
      await store.revokeSubject(GITHUB, 'alice', 1_800_000_100);
      expect(await store.subjectRevokedBefore(GITHUB, 'alice')).toBe(1_800_000_500);
      await store.revokeSubject(GITHUB, 'alice', 1_800_000_900);
      expect(await store.subjectRevokedBefore(GITHUB, 'alice')).toBe(1_800_000_900);
    });

    it("keeps one issuer's subject apart from another's of the same name", async () => {
      const { store } = open();
      await store.revokeSubject(GITHUB, 'carol', 1_800_000_500);
      expect(await store.subjectRevokedBefore('https://okta.example.com', 'carol')).toBeUndefined();
    });

    it('revokes a subject longer than a DynamoDB key may be (2048 bytes), and reads it back', async () => {
      const { store } = open();
      const long = `repo:acme/${'x'.repeat(4000)}`;
      await store.recordIssued(token('long-sub', { sub: long }));
      expect((await store.getToken('long-sub'))?.sub).toBe(long);
      await store.revokeSubject(GITHUB, long, 1_800_000_500);
      expect(await store.subjectRevokedBefore(GITHUB, long)).toBe(1_800_000_500);
    });

    it('reads back the lineage of a chained, delegated token', async () => {
      const { store } = open();
      const lineage = {
        parent: 'p1',
        root: 'r1',
        rootPolicy: 'deploy-prod',
        ancestors: ['r1', 'p1', 'actor-1'],
        actors: [{ issuer: 'https://okta.example.com', sub: 'svc-a' }],
      };
      await store.recordIssued(token('chained-1', lineage));
      expect(await store.getToken('chained-1')).toMatchObject(lineage);
    });

    it('records a one-time subject token once, even under concurrency', async () => {
      const { store } = open();
      const results = await Promise.all(
        Array.from({ length: 12 }, () =>
          store.markSubjectTokenUsed('https://issuer.test', 'jti-race', 1_800_000_300),
        ),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
      expect(await store.markSubjectTokenUsed('https://issuer.test', 'jti-race', 1_800_000_300)).toBe(false);
      expect(await store.markSubjectTokenUsed('https://other.test', 'jti-race', 1_800_000_300)).toBe(true);
    });

    it('spends a one-time token whose jti is longer than a DynamoDB key may be (2048 bytes), once', async () => {
      const { store } = open();
      const jti = 'j'.repeat(4000);
      expect(await store.markSubjectTokenUsed('https://issuer.test', jti, 1_800_000_300)).toBe(true);
      expect(await store.markSubjectTokenUsed('https://issuer.test', jti, 1_800_000_300)).toBe(false);
      expect(await store.markSubjectTokenUsed('https://issuer.test', `${jti}x`, 1_800_000_300)).toBe(true);
    });

    it('spends one-time tokens and records the token together; a replay writes nothing', async () => {
      const { store } = open();
      const subject = { issuer: 'https://issuer.test', jti: 'spend-s', until: 1_800_000_300 };
      const actor = { issuer: 'https://actors.test', jti: 'spend-a', until: 1_800_000_300 };
      expect(await store.recordIssuedSpending(token('s1'), [subject, actor])).toBeUndefined();
      expect((await store.getToken('s1'))?.sub).toBe(token('s1').sub);
      // Both SEEN# items exist: spending either again is a replay.
      expect(await store.markSubjectTokenUsed(subject.issuer, subject.jti, 1)).toBe(false);
      expect(await store.markSubjectTokenUsed(actor.issuer, actor.jti, 1)).toBe(false);
      const replayed = await store.recordIssuedSpending(token('s2'), [{ ...subject }]);
      expect(replayed).toEqual(subject);
      expect(await store.getToken('s2')).toBeUndefined();
      // Without one-time tokens it is a plain record.
      expect(await store.recordIssuedSpending(token('s3'), [])).toBeUndefined();
      expect(await store.getToken('s3')).toBeDefined();
    });

    it('lets exactly one of racing exchanges of one token issue; no losing token is recorded', async () => {
      const { store } = open();
      const use = { issuer: 'https://issuer.test', jti: 'spend-race', until: 1_800_000_300 };
      const outcomes = await Promise.all(
        Array.from({ length: 12 }, (_, index) =>
          store.recordIssuedSpending(token(`race-${index}`), [use]).then(
            (replayed) => (replayed ? 'replayed' : 'issued'),
            // A transaction losing to a concurrent one may be cancelled as a conflict: a 503.
            (error: OAuthError) => error.code,
          ),
        ),
      );
      expect(outcomes.filter((outcome) => outcome === 'issued')).toHaveLength(1);
      expect(outcomes.every((o) => ['issued', 'replayed', 'temporarily_unavailable'].includes(o))).toBe(true);
      const recorded = await Promise.all(outcomes.map((_, index) => store.getToken(`race-${index}`)));
      expect(recorded.map((record) => record !== undefined)).toEqual(outcomes.map((o) => o === 'issued'));
    });
  });
}

storeContract('MemoryStore', () => ({ store: new MemoryStore() }));

for (const backend of BACKENDS) {
  describe(`DynamoStore on ${backend.name}`, () => {
    let server: DynamoBackend;
    let client: DynamoDBClient;
    let store: DynamoStore;
    const tableName = `sts-test-${backend.name.replace(/\W/g, '')}`;

    beforeAll(async () => {
      server = await backend.start();
      client = localDynamoClient(server.endpoint);
      await ensureTable(client, tableName);
      await ensureTable(client, tableName); // idempotent
      store = new DynamoStore({ client, tableName });
    }, 60_000);

    afterAll(async () => {
      client?.destroy();
      await server?.close();
    });

    storeContract(backend.name, () => ({ store }));

    it('writes the item layout of DESIGN.md', async () => {
      await store.recordIssued(token('layout'));
      await store.markSubjectTokenUsed('https://issuer.test', 'seen-1', 1_800_000_300);
      await store.revokeSubject(GITHUB, 'bob', 1_800_000_000);
      await store.recordIssued(
        token('layout-chained', {
          parent: 'layout',
          root: 'layout',
          rootPolicy: 'deploy-prod',
          ancestors: ['layout'],
          actors: [{ issuer: GITHUB, sub: 'svc' }],
        }),
      );
      const get = async (pk: string) =>
        (
          await client.send(
            new GetItemCommand({ TableName: tableName, Key: { pk: { S: pk } }, ConsistentRead: true }),
          )
        ).Item;
      expect(await get('TOKEN#layout')).toEqual({
        pk: { S: 'TOKEN#layout' },
        sub: { S: token('layout').sub },
        aud: { S: token('layout').aud },
        client_id: { S: 'deploy-prod' },
        scope: { S: 'deploy:write' },
        iat: { N: '1800000000' },
        exp: { N: '1800000300' },
        subject_issuer: { S: 'github' },
        subject_iss: { S: GITHUB },
        policy: { S: 'deploy-prod' },
        ttl: { N: '1800000300' },
      });
      expect(await get('TOKEN#layout-chained')).toMatchObject({
        parent: { S: 'layout' },
        root: { S: 'layout' },
        root_policy: { S: 'deploy-prod' },
        ancestors: { L: [{ S: 'layout' }] },
        actors: { L: [{ M: { iss: { S: GITHUB }, sub: { S: 'svc' } } }] },
      });
      expect(await get('SEEN#https://issuer.test#seen-1')).toEqual({
        pk: { S: 'SEEN#https://issuer.test#seen-1' },
        ttl: { N: '1800000300' },
      });
      const bob = subjectKey(GITHUB, 'bob');
      expect(bob).toMatch(/^SUBJECT#[\w-]{43}$/);
      expect(await get(bob)).toEqual({
        pk: { S: bob },
        issuer: { S: GITHUB },
        sub: { S: 'bob' },
        revokedBefore: { N: '1800000000' },
      });
    });

    it(`records an exchange in ${backend.name === 'dynalite' ? 'sequential writes (no transactions)' : 'one round trip'}`, async () => {
      const counting = localDynamoClient(server.endpoint);
      const operations: string[] = [];
      const send = counting.send.bind(counting);
      counting.send = ((command: { constructor: { name: string } }, ...rest: unknown[]) => {
        operations.push(command.constructor.name.replace(/Command$/, ''));
        return (send as (...args: unknown[]) => unknown)(command, ...rest);
      }) as typeof counting.send;
      const counted = new DynamoStore({ client: counting, tableName });
      const use = (jti: string) => ({ issuer: 'https://issuer.test', jti, until: 1_800_000_300 });
      expect(await counted.recordIssuedSpending(token('trip-1'), [use('trip-1')])).toBeUndefined();
      operations.length = 0;
      expect(await counted.recordIssuedSpending(token('trip-2'), [use('trip-2')])).toBeUndefined();
      expect(operations).toEqual(
        backend.name === 'dynalite' ? ['PutItem', 'PutItem'] : ['TransactWriteItems'],
      );
      operations.length = 0;
      expect(await counted.recordIssuedSpending(token('trip-3'), [use('trip-2')])).toEqual(use('trip-2'));
      expect(await counted.getToken('trip-3')).toBeUndefined();
      counting.destroy();
    });

    it('refuses a duplicate jti in an exchange with a bare server_error', async () => {
      await store.recordIssued(token('dup-jti'));
      const use = { issuer: 'https://issuer.test', jti: 'dup-jti-seen', until: 1_800_000_300 };
      const error = (await store
        .recordIssuedSpending(token('dup-jti'), [use])
        .catch((e: unknown) => e)) as OAuthError;
      expect(error).toBeInstanceOf(OAuthError);
      expect(error.reason).toBe('dynamodb.put_token.jti_exists');
      if (backend.name !== 'dynalite') {
        // All or nothing: the one-time token was not spent by the failed exchange.
        expect(await store.markSubjectTokenUsed(use.issuer, use.jti, use.until)).toBe(true);
      }
    });

    it('turns a missing table into a bare server_error', async () => {
      const missing = new DynamoStore({ client, tableName: 'no-such-table' });
      const error = (await missing.recordIssued(token('x')).catch((e: unknown) => e)) as OAuthError;
      expect(error).toBeInstanceOf(OAuthError);
      expect(error.code).toBe('server_error');
      expect(error.reason).toBe('dynamodb.put_token.failed');
    });

    it('survives deleting and recreating the table (local server restarts)', async () => {
      const name = `${tableName}-recreate`;
      await ensureTable(client, name);
      await client.send(new DeleteTableCommand({ TableName: name }));
      await ensureTable(client, name);
      const fresh = new DynamoStore({ client, tableName: name });
      await fresh.recordIssued(token('after-recreate'));
      expect(await fresh.getToken('after-recreate')).toBeDefined();
    });
  });
}

describe('DynamoStore faults', () => {
  let hanging: Server;
  let hangingPort: number;

  beforeAll(async () => {
    hanging = createServer(() => {
      /* never answers */
    });
    await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
    hangingPort = (hanging.address() as AddressInfo).port;
  });
  afterAll(() => {
    hanging.closeAllConnections();
    hanging.close();
  });

  it('answers 503 temporarily_unavailable when DynamoDB cannot be reached', async () => {
    const client = localDynamoClient(`http://127.0.0.1:${await freePort()}`);
    const store = new DynamoStore({ client, tableName: 't', timeoutMs: 2000 });
    const error = (await store.recordIssued(token('x')).catch((e: unknown) => e)) as OAuthError;
    expect(error.code).toBe('temporarily_unavailable');
    expect(error.status).toBe(503);
    expect(error.retryAfter).toBeGreaterThan(0);
  });

  it('answers 503 when DynamoDB does not answer within the deadline', async () => {
    const client = localDynamoClient(`http://127.0.0.1:${hangingPort}`);
    const store = new DynamoStore({ client, tableName: 't', timeoutMs: 150 });
    const error = (await store.getToken('x').catch((e: unknown) => e)) as OAuthError;
    expect(error.code).toBe('temporarily_unavailable');
    expect(error.reason).toBe('dynamodb.get_token.unavailable');
  });
});
