import { describe, expect, it } from 'vitest';
import { readTokenState, recordState, type TokenRecord } from '../../../lib/shared/token-record.ts';
import { tokenItem, tokenRecordFromItem } from '../../../lib/shared/token-table.ts';

const record: TokenRecord = {
  jti: 'j1',
  sub: 'alice',
  aud: 'https://api.example.com',
  clientId: 'ci',
  scope: 'read',
  iat: 1000,
  exp: 1300,
  subjectIssuer: 'github',
  policy: 'deploy',
  revokedAt: undefined,
};

describe('recordState', () => {
  it.each([
    ['no record', undefined, undefined, 'unknown'],
    ['no record, subject revoked', undefined, 2000, 'unknown'],
    ['live record', record, undefined, 'active'],
    ['revoked by jti', { ...record, revokedAt: 1100 }, undefined, 'revoked'],
    ['issued before the subject revocation', record, 1001, 'revoked'],
    ['issued in the second the subject was revoked up to', record, 1000, 'active'],
    ['issued after the subject revocation', record, 900, 'active'],
  ] as const)('%s: %s', (_name, value, revokedBefore, expected) => {
    expect(recordState(value, revokedBefore)).toBe(expected);
  });
});

describe('readTokenState', () => {
  it('reads the record and its subject, and returns the record with the decision', async () => {
    const asked: string[] = [];
    const reader = {
      async getToken(jti: string) {
        asked.push(`TOKEN#${jti}`);
        return jti === 'j1' ? record : undefined;
      },
      async subjectRevokedBefore(sub: string) {
        asked.push(`SUBJECT#${sub}`);
        return 1001;
      },
    };
    expect(await readTokenState(reader, 'j1', 'alice')).toEqual({ state: 'revoked', record });
    expect(await readTokenState(reader, 'j2', 'bob')).toEqual({ state: 'unknown', record: undefined });
    expect(asked).toEqual(['TOKEN#j1', 'SUBJECT#alice', 'TOKEN#j2', 'SUBJECT#bob']);
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
});
