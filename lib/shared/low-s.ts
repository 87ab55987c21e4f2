// Low-S ECDSA P-256 signatures (the BIP 62 / SEC 1 habit): for every valid signature (r, s),
// (r, n - s) verifies too, so an ES256 token has two spellings with one jti and two
// fingerprints. The service signs only with s <= n/2 and refuses the other spelling of its own
// tokens. Works on the JOSE `r||s` form (RFC 7518 §3.4).

/** The order n of the P-256 base point (FIPS 186-4 D.1.2.3): r and s lie in [1, n-1]. */
export const P256_ORDER = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const HALF_ORDER = P256_ORDER >> 1n;
const SCALAR_BYTES = 32;

const toBigInt = (bytes: Uint8Array): bigint => {
  let value = 0n;
  for (const byte of bytes) value = (value << 8n) | BigInt(byte);
  return value;
};

/** Whether a 64-byte JOSE ES256 signature has s above n/2 (false for any other length). */
export function isHighS(signature: Uint8Array): boolean {
  if (signature.length !== 2 * SCALAR_BYTES) return false;
  return toBigInt(signature.subarray(SCALAR_BYTES)) > HALF_ORDER;
}

/** Whether a compact JWS whose header says `alg` is an ES256 token signed in the high-S spelling. */
export function isHighSToken(token: string, alg: unknown): boolean {
  return alg === 'ES256' && isHighS(Buffer.from(token.slice(token.lastIndexOf('.') + 1), 'base64url'));
}

/** The low-S spelling of a 64-byte JOSE ES256 signature: s replaced by n - s when s > n/2. */
export function toLowS(signature: Uint8Array): Uint8Array {
  if (!isHighS(signature)) return signature;
  let s = P256_ORDER - toBigInt(signature.subarray(SCALAR_BYTES));
  const out = new Uint8Array(signature);
  for (let i = 2 * SCALAR_BYTES - 1; i >= SCALAR_BYTES; i--) {
    out[i] = Number(s & 0xffn);
    s >>= 8n;
  }
  return out;
}
