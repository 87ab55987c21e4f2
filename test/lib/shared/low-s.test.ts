import { generateKeyPairSync, sign, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isHighS, P256_ORDER, toLowS } from '../../../lib/shared/low-s.ts';

const HALF = P256_ORDER >> 1n;
const bytes = (value: bigint) => Buffer.from(value.toString(16).padStart(64, '0'), 'hex');
const signature = (r: bigint, s: bigint) => Buffer.concat([bytes(r), bytes(s)]);

describe('low-S ECDSA P-256 signatures', () => {
  it.each([
    { name: 's = 1', s: () => 1n, high: false },
    { name: 's = n/2 (floor)', s: () => HALF, high: false },
    { name: 's = n/2 + 1', s: () => HALF + 1n, high: true },
    { name: 's = n - 1', s: () => P256_ORDER - 1n, high: true },
  ])('$name: high $high, and toLowS gives min(s, n - s)', ({ s: value, high }) => {
    const s = value();
    const sig = signature(7n, s);
    expect(isHighS(sig)).toBe(high);
    const low = toLowS(sig);
    expect(isHighS(low)).toBe(false);
    expect(Buffer.from(low.subarray(0, 32))).toEqual(bytes(7n));
    expect(Buffer.from(low.subarray(32))).toEqual(bytes(high ? P256_ORDER - s : s));
    expect(Buffer.from(sig.subarray(32))).toEqual(bytes(s)); // the input is left alone
  });

  it('ignores anything that is not a 64-byte signature', () => {
    const rsaLike = Buffer.alloc(256, 0xff);
    expect(isHighS(rsaLike)).toBe(false);
    expect(toLowS(rsaLike)).toBe(rsaLike);
  });

  it('both spellings verify (the malleability), and the low one is what toLowS keeps', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    let seenHigh = 0;
    for (let i = 0; i < 40; i++) {
      const data = Buffer.from(`message ${i}`);
      const sig = sign('sha256', data, { key: privateKey, dsaEncoding: 'ieee-p1363' });
      const low = toLowS(sig);
      const s = BigInt(`0x${Buffer.from(low.subarray(32)).toString('hex')}`);
      const high = signature(BigInt(`0x${Buffer.from(low.subarray(0, 32)).toString('hex')}`), P256_ORDER - s);
      if (isHighS(sig)) seenHigh++;
      for (const spelling of [low, high])
        expect(verify('sha256', data, { key: publicKey, dsaEncoding: 'ieee-p1363' }, spelling)).toBe(true);
    }
    expect(seenHigh).toBeGreaterThan(0);
  });
});
