import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../lib/config/config.ts';
import { MemoryStore } from '../../lib/stores/memory.ts';
import { type HostileIssuer, startHostileIssuer } from '../support/hostile-issuer.ts';
import { API, form, type Harness, JWT, startHarness } from '../support/sts-harness.ts';

/**
 * The DynamoDB reads each liveness check costs (issue 12: "bound chain length and the reads it
 * costs"), counted at the store over HTTP. Every `getToken` and `subjectRevokedBefore` is one
 * strongly consistent GetItem on DynamoDB. docs/revocation.md "What a check costs" quotes these
 * numbers; the test keeps them true.
 */
class CountingStore extends MemoryStore {
  reads = 0;
  override async getToken(jti: string) {
    this.reads++;
    return super.getToken(jti);
  }
  override async subjectRevokedBefore(issuer: string, sub: string) {
    this.reads++;
    return super.subjectRevokedBefore(issuer, sub);
  }
}

const ADMIN = { authorization: 'Bearer admin-secret-reads' };
const store = new CountingStore();
let ext: HostileIssuer;
let harness: Harness;

beforeAll(async () => {
  ext = await startHostileIssuer();
  harness = await startHarness({
    store,
    adminToken: ADMIN.authorization.slice(7),
    config: (base) => {
      ext.audience = base;
      const actors = [
        { issuer: 'ext', subject: 'service:*' },
        { issuer: 'self', origin: 'ext', subject: 'service:*' },
      ];
      return parseConfig({
        issuer: base,
        maxDelegationDepth: 3,
        trustedIssuers: [{ name: 'ext', issuer: ext.issuer, audiences: [base] }],
        policies: [
          { name: 'users', issuer: 'ext', subject: 'user:*', audiences: [API, base], actors },
          { name: 'services', issuer: 'ext', subject: 'service:*', audiences: [base] },
          {
            name: 'chained',
            issuer: 'self',
            origin: 'ext',
            subject: 'user:*',
            audiences: [API, base],
            actors,
          },
        ],
      });
    },
  });
});

afterAll(async () => {
  await harness?.close();
  await ext?.close();
});

/** The reads one request costs, and its answer. */
async function reads(run: () => Promise<{ status: number; body?: Record<string, unknown> | undefined }>) {
  const before = store.reads;
  const answer = await run();
  return { reads: store.reads - before, answer };
}

const exchange = (params: Record<string, string>) =>
  reads(() =>
    harness.exchange({
      subject_token_type: JWT,
      ...(params.actor_token ? { actor_token_type: JWT } : {}),
      ...params,
    }),
  );
const introspect = (token: string) =>
  reads(() => harness.request(form({ token }), { path: '/introspect', headers: ADMIN }));
const tokenOf = (answer: { body?: Record<string, unknown> | undefined }) => String(answer.body?.access_token);
const user = () => ext.token({ claims: { sub: 'user:alice' } });
const service = (n: number) => ext.token({ claims: { sub: `service:${n}` } });

describe('DynamoDB reads per check (issue 12)', () => {
  it('exchange of an upstream token: 1 read (its SUBJECT#), 2 with an upstream actor', async () => {
    const direct = await exchange({ subject_token: user(), audience: API });
    expect(direct.answer.status).toBe(200);
    expect(direct.reads).toBe(1);
    const delegated = await exchange({ subject_token: user(), audience: API, actor_token: service(1) });
    expect(delegated.answer.status).toBe(200);
    expect(delegated.reads).toBe(2);
  });

  it('introspection and chained exchange of a root token: 2 reads (TOKEN#, then SUBJECT#)', async () => {
    const root = tokenOf((await exchange({ subject_token: user(), audience: harness.sts.url })).answer);
    expect((await introspect(root)).reads).toBe(2);
    const chained = await exchange({ subject_token: root, audience: API });
    expect(chained.answer.status).toBe(200);
    expect(chained.reads).toBe(2);
  });

  it('worst case with the default maxDelegationDepth 3: 1 + 8 ancestors + 4 identities = 13 reads', async () => {
    // Three delegation hops with actor tokens of ours (each an ancestor too), then chained hops
    // until the chain holds MAX_ANCESTORS (8) ancestors.
    let token = tokenOf((await exchange({ subject_token: user(), audience: harness.sts.url })).answer);
    for (let hop = 1; hop <= 3; hop++) {
      const actor = tokenOf(
        (await exchange({ subject_token: service(hop), audience: harness.sts.url })).answer,
      );
      const next = await exchange({ subject_token: token, audience: harness.sts.url, actor_token: actor });
      expect(next.answer.status).toBe(200);
      token = tokenOf(next.answer);
    }
    for (let hop = 0; hop < 2; hop++) {
      token = tokenOf((await exchange({ subject_token: token, audience: harness.sts.url })).answer);
    }
    const checked = await introspect(token);
    expect(checked.answer.body?.active).toBe(true);
    expect(checked.reads).toBe(13);
    const tooLong = await exchange({ subject_token: token, audience: API });
    expect(tooLong.answer.status).toBe(400); // a ninth ancestor is refused
    expect(tooLong.reads).toBe(13);
  });

  it('a token revoked by jti, unknown or expired costs 1 read', async () => {
    const root = tokenOf((await exchange({ subject_token: user(), audience: API })).answer);
    await harness.request(form({ token: root }), { path: '/revoke' });
    expect(await introspect(root)).toMatchObject({ reads: 1, answer: { body: { active: false } } });
  });
});
