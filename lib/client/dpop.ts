// The client side of DPoP (RFC 9449): a key pair whose private half never leaves WebCrypto
// (generated non-extractable; or imported from a JWK file for the CLI), and the proof JWT for
// one request: `typ: dpop+jwt`, the public `jwk`, a fresh `jti`, `htm`, `htu` without query or
// fragment, `iat`, `ath` for a downstream call with an access token, and the server's nonce.
import { randomBytes } from 'node:crypto';
import {
  type CryptoKey,
  calculateJwkThumbprint,
  exportJWK,
  generateKeyPair,
  importJWK,
  type JWK,
  SignJWT,
} from 'jose';
import { accessTokenHash, dpopHtu } from '../shared/dpop-claims.ts';

/** Algorithms the SDK signs proofs with. */
export type DpopKeyAlgorithm = 'ES256' | 'ES384' | 'PS256' | 'RS256' | 'EdDSA';

export interface DpopKey {
  readonly alg: DpopKeyAlgorithm;
  readonly privateKey: CryptoKey;
  /** The public JWK sent in every proof's header. */
  readonly publicJwk: JWK;
  /** RFC 7638 SHA-256 thumbprint: the `cnf.jkt` of tokens bound to this key. */
  readonly jkt: string;
}

export interface DpopProofRequest {
  readonly method: string;
  /** The URL called; query and fragment are left out of `htu`. */
  readonly url: string;
  /** The access token sent with this request (downstream calls): adds `ath`. */
  readonly accessToken?: string | undefined;
  /** The nonce the server asked for in `DPoP-Nonce`. */
  readonly nonce?: string | undefined;
  /** Epoch milliseconds (default: now). */
  readonly now?: number;
}

const PUBLIC_MEMBERS: Record<string, readonly string[]> = {
  EC: ['kty', 'crv', 'x', 'y'],
  RSA: ['kty', 'e', 'n'],
  OKP: ['kty', 'crv', 'x'],
};

function publicPart(jwk: JWK): JWK {
  const members = PUBLIC_MEMBERS[jwk.kty ?? ''];
  if (!members) throw new TypeError(`DPoP key: unsupported kty "${jwk.kty}"`);
  return Object.fromEntries(members.map((name) => [name, (jwk as Record<string, unknown>)[name]])) as JWK;
}

async function keyFrom(alg: DpopKeyAlgorithm, privateKey: CryptoKey, publicJwk: JWK): Promise<DpopKey> {
  const jwk = publicPart(publicJwk);
  return Object.freeze({ alg, privateKey, publicJwk: jwk, jkt: await calculateJwkThumbprint(jwk, 'sha256') });
}

/** A new key pair; the private key cannot be exported (WebCrypto `extractable: false`). */
export async function generateDpopKey(alg: DpopKeyAlgorithm = 'ES256'): Promise<DpopKey> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: false });
  return keyFrom(alg, privateKey, await exportJWK(publicKey));
}

/**
 * A key pair from a private JWK (as `sts dpop-keygen` writes it); the imported private key is
 * not extractable. `alg` defaults to the JWK's own `alg`, else ES256.
 */
export async function importDpopKey(privateJwk: JWK, alg?: DpopKeyAlgorithm): Promise<DpopKey> {
  const algorithm = alg ?? (privateJwk.alg as DpopKeyAlgorithm | undefined) ?? 'ES256';
  if (typeof privateJwk.d !== 'string') throw new TypeError('DPoP key: expected a private JWK (with "d")');
  const privateKey = (await importJWK({ ...privateJwk, ext: false }, algorithm)) as CryptoKey;
  return keyFrom(algorithm, privateKey, privateJwk);
}

/** An extractable key pair and its private JWK, for storing in a file (the CLI's `dpop-keygen`). */
export async function generateDpopJwk(alg: DpopKeyAlgorithm = 'ES256'): Promise<JWK> {
  const { privateKey } = await generateKeyPair(alg, { extractable: true });
  return { ...(await exportJWK(privateKey)), alg };
}

/**
 * Signs the DPoP proof of one request.
 *
 * @example
 * const proof = await signDpopProof(key, { method: 'GET', url: 'https://api.example.com/orders', accessToken });
 * await fetch(url, { headers: { authorization: `DPoP ${accessToken}`, dpop: proof } });
 */
export async function signDpopProof(key: DpopKey, request: DpopProofRequest): Promise<string> {
  const htu = dpopHtu(request.url);
  if (htu === undefined) throw new TypeError('DPoP proof: url must be an absolute http(s) URL');
  const claims: Record<string, unknown> = {
    jti: randomBytes(16).toString('base64url'),
    htm: request.method.toUpperCase(),
    htu,
  };
  if (request.accessToken !== undefined) claims.ath = accessTokenHash(request.accessToken);
  if (request.nonce !== undefined) claims.nonce = request.nonce;
  return new SignJWT(claims)
    .setProtectedHeader({ typ: 'dpop+jwt', alg: key.alg, jwk: key.publicJwk })
    .setIssuedAt(Math.floor((request.now ?? Date.now()) / 1000))
    .sign(key.privateKey);
}
