import { describe, expect, it } from 'vitest';
import {
  presentedTokenRevoked,
  readTokenState,
  recordState,
  type TokenRecord,
  type TokenRecordReader,
  tokenIdentities,
} from '../../../lib/shared/token-record.ts';
import { subjectKey, tokenItem, tokenRecordFromItem } from '../../../lib/shared/token-table.ts';

const GITHUB = 'https://token.actions.githubusercontent.com';
const OKTA = 'https://okta.example.com';
const record: TokenRecord = {
  jti: 'j1',
  sub: 'alice',
  aud: 'https://api.example.com',
  clientId: 'ci',
  scope: 'read',
  iat: 1000,
  exp: 1300,
  subjectIssuer: 'github',
  originIssuer: GITHUB,
  policy: 'deploy',
  parent: undefined,
  root: undefined,
  rootPolicy: undefined,
  ancestors: [],
  actors: [],
  revokedAt: undefined,
};
const child: TokenRecord = {
  ...record,
  jti: 'j3',
  iat: 1100,
  exp: 1200,
  policy: 'chained',
  parent: 'j2',
  root: 'j1',
  rootPolicy: 'deploy',
  ancestors: ['j1', 'j2'],
  actors: [{ issuer: OKTA, sub: 'svc-b' }],
};

describe('recordState', () => {
  const NOW = 1100;
  it.each([
    ['no record', undefined, undefined, 'unknown'],
    ['live record', record, undefined, 'active'],
    ['revoked by jti', { ...record, revokedAt: 1100 }, undefined, 'revoked'],
    ['at its exp (exact: no skew on our own tokens)', { ...record, exp: NOW }, undefined, 'expired'],
    ['a second before its exp', { ...record, exp: NOW + 1 }, undefined, 'active'],
    ['issued before the subject revocation', record, [1001], 'revoked'],
    ['issued in the second the subject was revoked up to', record, [1000], 'active'],
    ['issued after the subject revocation', record, [900], 'active'],
  ] as const)('%s: %s', (_name, value, revokedBefore, expected) => {
    const facts = revokedBefore ? { ancestors: [], revokedBefore } : undefined;
    expect(recordState(value, NOW, facts)).toBe(expected);
  });

  it.each([
    ['every ancestor live, nobody revoked', [record, record], [undefined, undefined], 'active'],
    [
      'an ancestor revoked by jti',
      [record, { ...record, revokedAt: 1050 }],
      [undefined, undefined],
      'revoked',
    ],
    ['an ancestor record missing (fail closed)', [record, undefined], [undefined, undefined], 'revoked'],
    ['an actor revoked after the token was issued', [record, record], [undefined, 1101], 'revoked'],
    ['an actor revoked before the token was issued', [record, record], [undefined, 1100], 'active'],
  ] as const)('a chained, delegated token: %s', (_name, ancestors, revokedBefore, expected) => {
    expect(recordState(child, 1150, { ancestors: [...ancestors], revokedBefore: [...revokedBefore] })).toBe(
      expected,
    );
  });
});

describe('tokenIdentities', () => {
  it('names the subject by its origin issuer, then each actor, each once', () => {
    expect(tokenIdentities(child)).toEqual([
      { issuer: GITHUB, sub: 'alice' },
      { issuer: OKTA, sub: 'svc-b' },
    ]);
    expect(
      tokenIdentities({
        ...record,
        actors: [
          { issuer: GITHUB, sub: 'alice' },
          { issuer: OKTA, sub: 'alice' },
        ],
      }),
    ).toEqual([
      { issuer: GITHUB, sub: 'alice' },
      { issuer: OKTA, sub: 'alice' },
    ]);
  });
});

describe('readTokenState', () => {
  const reader = (asked: string[], revoked: Record<string, number> = {}): TokenRecordReader => ({
    async getToken(jti) {
      asked.push(`TOKEN#${jti}`);
      return [record, child, { ...record, jti: 'j2' }].find((each) => each.jti === jti);
    },
    async subjectRevokedBefore(issuer, sub) {
      asked.push(`SUBJECT#${issuer}|${sub}`);
      return revoked[`${issuer}|${sub}`];
    },
  });

  it('reads the record first, then its ancestors and identities, and returns the record with the decision', async () => {
    const asked: string[] = [];
    expect(await readTokenState(reader(asked), 'j3', 1150)).toEqual({ state: 'active', record: child });
    expect(asked).toEqual([
      'TOKEN#j3',
      'TOKEN#j1',
      'TOKEN#j2',
      `SUBJECT#${GITHUB}|alice`,
      `SUBJECT#${OKTA}|svc-b`,
    ]);
  });

  it('revoking an actor makes the token inactive', async () => {
    const asked: string[] = [];
    const state = await readTokenState(reader(asked, { [`${OKTA}|svc-b`]: 1101 }), 'j3', 1150);
    expect(state.state).toBe('revoked');
  });

  it('stops after one read when the record settles it (unknown, expired, revoked by jti)', async () => {
    for (const [jti, now, expected] of [
      ['nope', 1100, 'unknown'],
      ['j3', 1200, 'expired'],
    ] as const) {
      const asked: string[] = [];
      expect((await readTokenState(reader(asked), jti, now)).state).toBe(expected);
      expect(asked).toEqual([`TOKEN#${jti}`]);
    }
  });
});

describe('presentedTokenRevoked (external subject and actor tokens)', () => {
  it.each([
    ['no revocation', 1000, undefined, 1500, false],
    ['iat before revokedBefore', 999, 1000, 1500, true],
    ['iat at revokedBefore', 1000, 1000, 1500, false],
    ['no iat, within maxTokenAge after revokedBefore', undefined, 1000, 1000 + 3599, true],
    ['no iat, maxTokenAge after revokedBefore', undefined, 1000, 1000 + 3600, false],
  ] as const)('%s: %s', (_name, iat, revokedBefore, now, expected) => {
    expect(presentedTokenRevoked(iat, revokedBefore, 3600, now)).toBe(expected);
  });
});

describe('token table layout', () => {
  it('round-trips a record through its TOKEN# item, with ttl = exp and no empty scope', () => {
    const item = tokenItem(record);
    expect(item).toMatchObject({ pk: { S: 'TOKEN#j1' }, ttl: { N: '1300' }, scope: { S: 'read' } });
    expect(tokenRecordFromItem('j1', item)).toEqual(record);
    expect(tokenItem({ ...record, scope: undefined })).not.toHaveProperty('scope');
    expect(tokenRecordFromItem('j1', { ...item, revokedAt: { N: '1200' } }).revokedAt).toBe(1200);
  });

  it('records the lineage of a chained, delegated token: parent, root, root policy, ancestors, actors', () => {
    const item = tokenItem(child);
    expect(item).toMatchObject({
      parent: { S: 'j2' },
      root: { S: 'j1' },
      root_policy: { S: 'deploy' },
      subject_iss: { S: GITHUB },
      ancestors: { L: [{ S: 'j1' }, { S: 'j2' }] },
      actors: { L: [{ M: { iss: { S: OKTA }, sub: { S: 'svc-b' } } }] },
    });
    expect(tokenRecordFromItem('j3', item)).toEqual(child);
  });

  it('SUBJECT# keys name issuer and subject, and stay short whatever the subject', () => {
    const long = 'x'.repeat(10_000);
    expect(subjectKey(GITHUB, 'alice')).not.toBe(subjectKey(OKTA, 'alice'));
    expect(subjectKey(GITHUB, 'alice')).toBe(subjectKey(GITHUB, 'alice'));
    expect(subjectKey('a', 'b|c')).not.toBe(subjectKey('a|b', 'c'));
    expect(subjectKey(GITHUB, long)).toMatch(/^SUBJECT#[\w-]{43}$/);
  });
});
