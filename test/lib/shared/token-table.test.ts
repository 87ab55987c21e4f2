import { describe, expect, it } from 'vitest';
import { SEEN_JTI_MAX_BYTES, seenKey, subjectKey } from '../../../lib/shared/token-table.ts';

// DynamoDB refuses a partition key over 2048 bytes: every key built from a presented token's
// values must stay under it, whatever the token carries.
const DYNAMODB_KEY_LIMIT = 2048;
const issuer = 'https://token.actions.githubusercontent.com';

describe('seenKey', () => {
  it('keeps a short jti readable', () => {
    expect(seenKey(issuer, 'abc-123')).toBe(`SEEN#${issuer}#abc-123`);
  });

  it('keeps a jti of exactly the limit as it is', () => {
    const jti = 'j'.repeat(SEEN_JTI_MAX_BYTES);
    expect(seenKey(issuer, jti)).toBe(`SEEN#${issuer}#${jti}`);
  });

  it.each([
    ['ASCII', 'x'.repeat(5000)],
    ['multi-byte', 'é'.repeat(SEEN_JTI_MAX_BYTES / 2 + 1)],
  ])('hashes a %s jti longer than the limit into a bounded key', (_, jti) => {
    const key = seenKey(issuer, jti);
    expect(key).toMatch(new RegExp(`^SEEN#${issuer.replace(/[.]/g, '\\.')}#~sha256~[A-Za-z0-9_-]{43}$`));
    expect(Buffer.byteLength(key)).toBeLessThan(DYNAMODB_KEY_LIMIT);
  });

  it('gives different long jtis different keys, and the same jti the same key', () => {
    const a = 'a'.repeat(3000);
    const b = `${'a'.repeat(2999)}b`;
    expect(seenKey(issuer, a)).not.toBe(seenKey(issuer, b));
    expect(seenKey(issuer, a)).toBe(seenKey(issuer, a));
  });
});

describe('subjectKey', () => {
  it('is bounded for a very long subject', () => {
    expect(Buffer.byteLength(subjectKey(issuer, 's'.repeat(10_000)))).toBeLessThan(100);
  });
});
