// ECDSA P-256 signature encodings: the ASN.1 DER `SEQUENCE { r INTEGER, s INTEGER }` that AWS KMS
// returns (X9.62 / RFC 3279 §2.2.3) and the fixed-width `r||s` that JWS ES256 requires
// (RFC 7518 §3.4). The parser is strict DER: one definite short-form length per element, minimal
// non-negative integers, 0 < r, s < n, and nothing after the sequence.

import { P256_ORDER } from '../shared/low-s.ts';

/** Bytes of each of r and s in a JOSE ES256 signature. */
export const P256_SCALAR_BYTES = 32;

export { P256_ORDER } from '../shared/low-s.ts';

const SEQUENCE = 0x30;
const INTEGER = 0x02;

/** A signature that is not a strict DER ECDSA P-256 signature. */
export class DerSignatureError extends Error {
  override readonly name = 'DerSignatureError';
}

function fail(message: string): never {
  throw new DerSignatureError(`ECDSA DER signature: ${message}`);
}

function bigint(bytes: Uint8Array): bigint {
  let value = 0n;
  for (const byte of bytes) value = (value << 8n) | BigInt(byte);
  return value;
}

/**
 * Reads one INTEGER at `offset` and writes its magnitude right-aligned into `out` (zero
 * left-padding is how a value with leading zero bytes regains its fixed width).
 * Returns the offset after the element.
 */
function readScalar(der: Uint8Array, offset: number, name: 'r' | 's', out: Uint8Array): number {
  if (der[offset] !== INTEGER) fail(`${name} is not an INTEGER`);
  const length = der[offset + 1];
  // An INTEGER below 2^256 needs at most 33 bytes (one 0x00 sign byte + 32); a long-form length
  // (0x80 bit) can never be minimal for such a short element.
  if (length === undefined || length === 0 || length > P256_SCALAR_BYTES + 1)
    fail(`${name} has a bad length`);
  const start = offset + 2;
  const end = start + length;
  if (end > der.length) fail(`${name} runs past the end`);
  const content = der.subarray(start, end);
  const [first = 0, second = 0] = content;
  if (first & 0x80) fail(`${name} is negative`);
  if (content.length > 1 && first === 0 && !(second & 0x80)) fail(`${name} is not minimally encoded`);
  const magnitude = first === 0 ? content.subarray(1) : content;
  if (magnitude.length > P256_SCALAR_BYTES) fail(`${name} is longer than ${P256_SCALAR_BYTES} bytes`);
  const value = bigint(magnitude);
  if (value === 0n) fail(`${name} is zero`);
  if (value >= P256_ORDER) fail(`${name} is not below the curve order`);
  out.set(magnitude, P256_SCALAR_BYTES - magnitude.length);
  return end;
}

/** Converts a strict DER ECDSA P-256 signature into the 64-byte JOSE `r||s`; throws DerSignatureError. */
export function derToJose(der: Uint8Array): Uint8Array {
  if (der[0] !== SEQUENCE) fail('not a SEQUENCE');
  const length = der[1];
  if (length === undefined || length & 0x80) fail('the SEQUENCE length is not a short-form length');
  if (2 + length !== der.length) fail('the SEQUENCE length does not match the signature length');
  const jose = new Uint8Array(2 * P256_SCALAR_BYTES);
  const afterR = readScalar(der, 2, 'r', jose.subarray(0, P256_SCALAR_BYTES));
  const afterS = readScalar(der, afterR, 's', jose.subarray(P256_SCALAR_BYTES));
  if (afterS !== der.length) fail('bytes follow s inside the SEQUENCE');
  return jose;
}
