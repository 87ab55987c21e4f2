import type { JWK } from 'jose';
import type { SigningAlgorithm } from '../shared/claims.ts';

/** The key that signs new tokens: its JWS `alg` and its `kid` (RFC 7638 thumbprint). */
export interface SigningKey {
  readonly kid: string;
  readonly alg: SigningAlgorithm;
}

/**
 * Signs JWS signing input with the active key and publishes every key whose tokens may still
 * be live. Implemented by the local signer (a key file) and the KMS signer.
 */
export interface Signer {
  /** The active key; resolving it may call KMS once per container. */
  activeKey(): Promise<SigningKey>;
  /** Returns the JOSE signature (for ECDSA the fixed-width `r||s`) of `signingInput`. */
  sign(signingInput: Uint8Array): Promise<Uint8Array>;
  /** Public JWKs (with `kid`, `alg`, `use: "sig"`) of the active key and every other published key. */
  publicKeys(): Promise<readonly JWK[]>;
}
