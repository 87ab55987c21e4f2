// The data-key signing keys (data-key mode, docs/data-key-signing.md): one `KEY#<kid>` item per
// key holding its public JWK, its private key encrypted under a KMS key, its state and times,
// plus one `KEY#ring` item listing the kids in the ring (DynamoDB has no prefix query on a
// partition key alone; the ring makes the key set one consistent read). DynamoKeyStore
// (stores/dynamodb-keys.ts) keeps them in the token table; MemoryKeyStore here serves tests.

import type { JWK } from 'jose';

/** next: published, not signing yet; active: signing; previous: published until its tokens expire. */
export type DataKeyState = 'next' | 'active' | 'previous';

export interface DataKeyRecord {
  /** RFC 7638 thumbprint of `jwk`. */
  readonly kid: string;
  /** The public JWK as published (`kid`, `alg: ES256`, `use: sig`). */
  readonly jwk: JWK;
  /** KMS `PrivateKeyCiphertextBlob` (PKCS#8 DER under the wrapping key). */
  readonly encryptedPrivateKey: Uint8Array;
  /** The symmetric KMS key that encrypted it (key ARN). */
  readonly wrappingKey: string;
  /** The encryption context it was encrypted with (and that Decrypt must present). */
  readonly encryptionContext: Readonly<Record<string, string>>;
  readonly state: DataKeyState;
  /** Epoch seconds: created (and published) at. */
  readonly createdAt: number;
  /** Epoch seconds: signs from (a next key: not before this time). */
  readonly activatesAt: number;
  /** Epoch seconds: stopped signing at (previous keys). */
  readonly retiredAt?: number;
  /** Epoch seconds: published until (previous keys): then removed from the ring. */
  readonly publishUntil?: number;
}

/** The ring: every key whose tokens may be live or that will sign soon, and its version. */
export interface KeyRing {
  readonly keys: readonly DataKeyRecord[];
  /** Optimistic-concurrency version of the ring (0 when none exists). */
  readonly version: number;
}

export interface KeyStore {
  /** Strongly consistent read of the ring and its keys. */
  readRing(): Promise<KeyRing>;
  /**
   * Replaces the ring if its version is still `expected`: writes new and changed key items, then
   * the ring. Resolves false when another writer got there first (read again and retry).
   */
  writeRing(expected: number, keys: readonly DataKeyRecord[]): Promise<boolean>;
}

/** An in-process KeyStore with the same semantics: tests and benchmarks. */
export class MemoryKeyStore implements KeyStore {
  #ring: KeyRing = { keys: [], version: 0 };
  reads = 0;

  async readRing(): Promise<KeyRing> {
    this.reads++;
    return this.#ring;
  }

  async writeRing(expected: number, keys: readonly DataKeyRecord[]): Promise<boolean> {
    if (this.#ring.version !== expected) return false;
    this.#ring = { keys: [...keys], version: expected + 1 };
    return true;
  }
}
