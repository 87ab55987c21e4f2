import {
  constants,
  createHmac,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  sign,
} from 'node:crypto';
import { calculateJwkThumbprint, type JWK } from 'jose';
import type { SigningAlgorithm } from '../../lib/shared/claims.ts';
import { toLowS } from '../../lib/shared/low-s.ts';
import { createLocalSigner, generateSigningKey } from '../../lib/signers/local.ts';
import type { Signer } from '../../lib/signers/signer.ts';

/** Asymmetric JWS algorithms the test keys cover. */
export type TestAlgorithm = 'ES256' | 'ES384' | 'RS256' | 'PS256' | 'EdDSA';

/** A generated key pair with its public JWK (`kid` = RFC 7638 thumbprint, `alg`, `use: "sig"`). */
export interface TestKey {
  readonly alg: TestAlgorithm;
  readonly kid: string;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly jwk: JWK;
}

/** A private key for `alg`. */
function generate(alg: TestAlgorithm): KeyObject {
  switch (alg) {
    case 'ES256':
      return generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    case 'ES384':
      return generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey;
    case 'EdDSA':
      return generateKeyPairSync('ed25519').privateKey;
    case 'RS256':
    case 'PS256':
      return generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
  }
}

/** Generates a fresh signing key pair for `alg`. */
export async function generateTestKey(alg: TestAlgorithm = 'ES256'): Promise<TestKey> {
  const privateKey = generate(alg);
  const publicKey = createPublicKey(privateKey);
  const exported = publicKey.export({ format: 'jwk' }) as JWK;
  const kid = await calculateJwkThumbprint(exported, 'sha256');
  return { alg, kid, privateKey, publicKey, jwk: { ...exported, kid, alg, use: 'sig' } };
}

/** base64url of a JSON value, or of raw text when given a string (for hand-made malformed JSON). */
export const b64url = (value: unknown): string =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

/** Raw JWS signature bytes of `input` for `alg`; an HS* `key` is the HMAC secret bytes. */
export function signBytes(alg: string, key: KeyObject | Uint8Array, input: Uint8Array): Buffer {
  const hash = `sha${alg.slice(2)}`; // ES256 -> sha256, PS384 -> sha384 (unused for EdDSA)
  if (alg.startsWith('HS'))
    return createHmac(hash, key as Uint8Array)
      .update(input)
      .digest();
  const privateKey = key as KeyObject;
  if (alg === 'EdDSA') return sign(null, input, privateKey);
  if (alg.startsWith('ES')) return sign(hash, input, { key: privateKey, dsaEncoding: 'ieee-p1363' });
  if (alg.startsWith('PS')) {
    return sign(hash, input, {
      key: privateKey,
      padding: constants.RSA_PKCS1_PSS_PADDING,
      saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
    });
  }
  return sign(hash, input, privateKey);
}

/**
 * Signs any header and payload (objects, or raw JSON text) into a compact JWS without jose's
 * checks: for tokens jose refuses to produce (`crit`, `b64`, duplicate keys, HS256 with a public key).
 */
export function signCompact(
  header: Record<string, unknown> | string,
  payload: Record<string, unknown> | string,
  key: KeyObject | Uint8Array,
  alg = typeof header === 'string' ? 'ES256' : String(header.alg),
): string {
  const input = `${b64url(header)}.${b64url(payload)}`;
  // Low-S like every signer of this service, so a refusal is about what the test changed.
  const signature = signBytes(alg, key, Buffer.from(input));
  return `${input}.${Buffer.from(alg === 'ES256' ? toLowS(signature) : signature).toString('base64url')}`;
}

/** A local signer with a freshly generated key: this service's own signer in unit tests. */
export function testSigner(alg: SigningAlgorithm = 'ES256'): Promise<Signer> {
  return createLocalSigner(generateSigningKey(alg), alg);
}
