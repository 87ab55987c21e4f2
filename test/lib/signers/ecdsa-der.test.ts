import { generateKeyPairSync, sign, verify } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DerSignatureError, derToJose, P256_ORDER } from '../../../lib/signers/ecdsa-der.ts';
import { derSignature, P256_N, toBytes } from './digest-signatures.ts';

const hex = (...parts: string[]): Uint8Array => Buffer.from(parts.join('').replace(/\s+/g, ''), 'hex');
const toHex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

const R_HIGH = `80${'11'.repeat(31)}`; // 32 bytes, top bit set: DER adds a 0x00 sign byte
const S_LOW = `7f${'22'.repeat(31)}`; // 32 bytes, top bit clear
const R_SHORT = '33'.repeat(31); // top byte of r is 0x00: DER strips it
const S_HIGH = `ff${'00'.repeat(30)}01`;
const S_SHORT_SIGNED = `80${'44'.repeat(29)}`; // two zero bytes stripped, then a sign byte added
const N_MINUS_1 = (P256_N - 1n).toString(16);

describe('derToJose', () => {
  it.each([
    {
      name: 'r needs a sign byte, s does not',
      der: hex('3045', '0221', '00', R_HIGH, '0220', S_LOW),
      jose: R_HIGH + S_LOW,
    },
    {
      name: 'short r (leading zero byte) is left-padded',
      der: hex('3044', '021f', R_SHORT, '0221', '00', S_HIGH),
      jose: `00${R_SHORT}${S_HIGH}`,
    },
    {
      name: 'short s whose DER keeps a sign byte is left-padded',
      der: hex('3044', '0221', '00', R_HIGH, '021f', '00', S_SHORT_SIGNED),
      jose: `${R_HIGH}0000${S_SHORT_SIGNED}`,
    },
    { name: 'r = s = 1', der: hex('3006', '020101', '020101'), jose: `${'00'.repeat(31)}01`.repeat(2) },
    {
      name: 'r = s = n - 1',
      der: hex('3046', '022100', N_MINUS_1, '022100', N_MINUS_1),
      jose: N_MINUS_1 + N_MINUS_1,
    },
  ])('converts $name byte for byte', ({ der, jose }) => {
    expect(toHex(derToJose(der))).toBe(jose);
  });

  it.each([
    { name: 'empty input', der: hex('') },
    { name: 'not a SEQUENCE', der: hex('3106', '020101', '020101') },
    { name: 'SEQUENCE length too long', der: hex('3007', '020101', '020101') },
    { name: 'SEQUENCE length too short', der: hex('3005', '020101', '020101') },
    { name: 'a byte after the SEQUENCE', der: hex('3006', '020101', '020101', '00') },
    { name: 'a byte inside the SEQUENCE after s', der: hex('3007', '020101', '020101', '00') },
    { name: 'long-form SEQUENCE length', der: hex('308106', '020101', '020101') },
    { name: 'r is not an INTEGER', der: hex('3006', '030101', '020101') },
    { name: 's is missing', der: hex('3003', '020101') },
    { name: 's runs past the end', der: hex('3005', '020101', '0201') },
    { name: 's has zero length', der: hex('3005', '020101', '0200') },
    { name: 'r is zero', der: hex('3006', '020100', '020101') },
    { name: 's is zero', der: hex('3006', '020101', '020100') },
    { name: 'r is negative', der: hex('3006', '020181', '020101') },
    { name: 'r is not minimal', der: hex('3007', '02020001', '020101') },
    { name: 'r is 33 bytes without a sign byte', der: hex('3026', '0221', `01${'00'.repeat(32)}`, '020101') },
    { name: 'r is 34 bytes', der: hex('3027', '0222', `0000${'ff'.repeat(32)}`, '020101') },
    { name: 'r is the curve order', der: hex('3026', '022100', P256_N.toString(16), '020101') },
    { name: 'r is 2^256 - 1', der: hex('3026', '022100', 'ff'.repeat(32), '020101') },
    { name: 'a JOSE signature', der: hex(R_SHORT, '00', S_LOW) },
  ])('refuses $name', ({ der }) => {
    expect(() => derToJose(der)).toThrow(DerSignatureError);
  });

  it('uses the P-256 order', () => {
    expect(P256_ORDER).toBe(P256_N);
  });

  it('round-trips every (r, s), with short and long values over-represented', () => {
    const scalar = fc.oneof(
      fc.bigInt(1n, P256_N - 1n),
      fc.bigInt(1n, (1n << 248n) - 1n),
      fc.bigInt(1n, (1n << 64n) - 1n),
      fc.bigInt(P256_N - (1n << 64n), P256_N - 1n),
    );
    fc.assert(
      fc.property(scalar, scalar, (r, s) => {
        const der = derSignature(r, s);
        expect(toHex(derToJose(der))).toBe(toHex(Buffer.concat([toBytes(r, 32), toBytes(s, 32)])));
        expect(() => derToJose(Buffer.concat([der, Buffer.from([0])]))).toThrow(DerSignatureError);
        expect(() => derToJose(der.subarray(0, der.length - 1))).toThrow(DerSignatureError);
      }),
      { numRuns: 2000 },
    );
  });

  it("converts OpenSSL's DER signatures into signatures OpenSSL verifies as r||s", () => {
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const lengths = new Set<number>();
    for (let i = 0; i < 2000; i++) {
      const message = Buffer.from(`message ${i}`);
      const der = sign('sha256', message, { key: privateKey, dsaEncoding: 'der' });
      lengths.add(der.length);
      const jose = derToJose(der);
      expect(jose).toHaveLength(64);
      expect(verify('sha256', message, { key: publicKey, dsaEncoding: 'ieee-p1363' }, jose)).toBe(true);
    }
    // 70 (both short or one short, no sign byte) up to 72 (both with a sign byte) were all seen.
    expect([...lengths].sort()).toEqual(expect.arrayContaining([70, 71, 72]));
  });
});
