// A signer holding its private key in process memory: the local development server, tests and
// benchmarks. The key is a private JWK persisted (mode 0600) so tokens survive restarts.

import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { calculateJwkThumbprint, type JWK } from 'jose';
import type { SigningAlgorithm } from '../shared/claims.ts';
import { toLowS } from '../shared/low-s.ts';
import type { Signer, SigningKey } from './signer.ts';

const HASH = 'sha256';

export function generateSigningKey(alg: SigningAlgorithm): KeyObject {
  if (alg === 'ES256') return generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  return generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
}

/** The public JWK of a key pair as published in the JWKS: kid is the RFC 7638 thumbprint. */
export async function publicJwk(privateOrPublic: KeyObject, alg: SigningAlgorithm): Promise<JWK> {
  // createPublicKey refuses a public KeyObject (Node 20): use one as it is.
  const publicKey = privateOrPublic.type === 'public' ? privateOrPublic : createPublicKey(privateOrPublic);
  const { kty, crv, x, y, n, e } = publicKey.export({ format: 'jwk' }) as JWK;
  const jwk: JWK = kty === 'EC' ? { kty, crv, x, y } : { kty, n, e };
  return { ...jwk, kid: await calculateJwkThumbprint(jwk, 'sha256'), alg, use: 'sig' };
}

/**
 * Signs `input` with a private key held in this process (the local signer, data-key mode): ES256
 * always in its low-S spelling, the only one the service accepts of its own tokens.
 */
export function signWith(key: KeyObject, alg: SigningAlgorithm, input: Uint8Array): Uint8Array {
  switch (alg) {
    case 'ES256':
      // OpenSSL returns either spelling of an ECDSA signature; tokens carry only the low-S one.
      return toLowS(sign(HASH, input, { key, dsaEncoding: 'ieee-p1363' }));
    case 'RS256':
      return sign(HASH, input, key);
    case 'PS256':
      return sign(HASH, input, { key, padding: 6 /* RSA_PKCS1_PSS_PADDING */, saltLength: 32 });
  }
}

export interface LocalSignerOptions {
  /** Extra public keys to publish beside the active one (e.g. a key being rotated out). */
  readonly extraPublicKeys?: readonly JWK[];
}

export async function createLocalSigner(
  privateKey: KeyObject,
  alg: SigningAlgorithm,
  options: LocalSignerOptions = {},
): Promise<Signer> {
  const jwk = await publicJwk(privateKey, alg);
  const active: SigningKey = Object.freeze({ kid: jwk.kid!, alg });
  const keys = Object.freeze([jwk, ...(options.extraPublicKeys ?? [])]);
  return {
    activeKey: async () => active,
    sign: async (input) => signWith(privateKey, alg, input),
    publicKeys: async () => keys,
  };
}

interface KeyFile {
  alg: SigningAlgorithm;
  jwk: JWK;
}

/** Loads the key persisted at `path`, or creates one with `alg` there (mode 0600). */
export async function loadOrCreateLocalSigner(path: string, alg: SigningAlgorithm): Promise<Signer> {
  let file: KeyFile | undefined;
  try {
    file = JSON.parse(readFileSync(path, 'utf8')) as KeyFile;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  if (file && file.alg !== alg) {
    throw new Error(`${path} holds a ${file.alg} key, not ${alg}`);
  }
  if (!file) {
    const key = generateSigningKey(alg);
    file = { alg, jwk: key.export({ format: 'jwk' }) as JWK };
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, `${JSON.stringify(file)}\n`, { mode: 0o600 });
  }
  return createLocalSigner(createPrivateKey({ key: file.jwk as never, format: 'jwk' }), file.alg);
}
