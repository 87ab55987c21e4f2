// The data-key signer (data-key mode, docs/data-key-signing.md): signs locally with the active
// key of the ring (stores/key-store.ts), whose private key it decrypts with KMS Decrypt once per
// container and key, so no KMS call is made per token. It re-reads the ring when its copy is
// older than `refreshSeconds`, so a rotation reaches every container within that bound. The key
// set it publishes is every next, active and previous key of the ring, plus the keys of
// `published` (the KMS keys, when both modes are configured).
//
// The trust trade-off: the active private key lives in this process's memory for as long as the
// key signs (plus one refresh), where KMS Sign keeps it inside the HSM.

import { createPrivateKey, type KeyObject } from 'node:crypto';
import { DecryptCommand, type DecryptCommandOutput, type KMSClient } from '@aws-sdk/client-kms';
import type { JWK } from 'jose';
import { type Clock, epochSeconds } from '../shared/clock.ts';
import { serverError, temporarilyUnavailable } from '../shared/errors.ts';
import type { DataKeyRecord, KeyRing, KeyStore } from '../stores/key-store.ts';
import { KEY_REFRESH_SECONDS } from './data-key-rules.ts';
import { kmsError } from './kms-error.ts';
import { publicJwk, signWith } from './local.ts';
import type { Signer, SigningKey } from './signer.ts';

export interface DataKeySignerOptions {
  readonly keys: KeyStore;
  readonly kms: Pick<KMSClient, 'send'>;
  readonly clock: Clock;
  /** Re-read the ring when the cached copy is older than this (default KEY_REFRESH_SECONDS). */
  readonly refreshSeconds?: number;
  /** Another signer whose keys are published too (never signing): the KMS keys of `kms` mode. */
  readonly published?: Signer;
}

const SIGNING_STATES = new Set(['active', 'previous']);

/** The kid of a JWS signing input's protected header: the key the token names is the key that signs. */
function headerKid(signingInput: Uint8Array): string | undefined {
  const text = Buffer.from(signingInput).toString('latin1');
  const dot = text.indexOf('.');
  try {
    const header = JSON.parse(Buffer.from(text.slice(0, dot), 'base64url').toString('utf8')) as {
      kid?: unknown;
    };
    return typeof header.kid === 'string' ? header.kid : undefined;
  } catch {
    return undefined;
  }
}

/** The data-key signer; see the module comment. Nothing is read until first use. */
export function createDataKeySigner(options: DataKeySignerOptions): Signer {
  const { keys, kms, clock } = options;
  const refresh = options.refreshSeconds ?? KEY_REFRESH_SECONDS;
  let cached: { ring: KeyRing; readAt: number } | undefined;
  let reading: Promise<KeyRing> | undefined;
  const privateKeys = new Map<string, Promise<KeyObject>>();

  async function ring(): Promise<KeyRing> {
    const now = epochSeconds(clock);
    if (cached && now - cached.readAt < refresh) return cached.ring;
    reading ??= keys
      .readRing()
      .then((fresh) => {
        cached = { ring: fresh, readAt: now };
        // Forget private keys that left the ring.
        for (const kid of privateKeys.keys()) {
          if (!fresh.keys.some((key) => key.kid === kid)) privateKeys.delete(kid);
        }
        return fresh;
      })
      .finally(() => {
        reading = undefined;
      });
    return reading;
  }

  async function active(): Promise<DataKeyRecord> {
    const key = (await ring()).keys.find((candidate) => candidate.state === 'active');
    // Only before the first rotation has activated a key (docs/data-key-signing.md).
    if (!key) throw temporarilyUnavailable('data_key.none_active', { retryAfter: KEY_REFRESH_SECONDS });
    return key;
  }

  async function decrypt(key: DataKeyRecord): Promise<KeyObject> {
    let answer: DecryptCommandOutput;
    try {
      answer = (await kms.send(
        new DecryptCommand({
          CiphertextBlob: key.encryptedPrivateKey,
          KeyId: key.wrappingKey,
          EncryptionContext: { ...key.encryptionContext },
        }),
      )) as DecryptCommandOutput;
    } catch (error) {
      throw kmsError('decrypt', error);
    }
    const plaintext = answer.Plaintext;
    if (!plaintext) throw serverError('data_key.decrypt.empty', new Error('Decrypt answered no plaintext'));
    let privateKey: KeyObject;
    try {
      privateKey = createPrivateKey({ key: Buffer.from(plaintext), format: 'der', type: 'pkcs8' });
    } catch (error) {
      throw serverError('data_key.decrypt.not_a_key', error);
    } finally {
      plaintext.fill(0);
    }
    // The ciphertext must be the private half of the published key, or tokens would not verify.
    if ((await publicJwk(privateKey, 'ES256')).kid !== key.kid) {
      throw serverError('data_key.decrypt.mismatch', new Error(`KEY#${key.kid} holds another key`));
    }
    return privateKey;
  }

  function privateKeyOf(key: DataKeyRecord): Promise<KeyObject> {
    let pending = privateKeys.get(key.kid);
    if (!pending) {
      pending = decrypt(key).catch((error: unknown) => {
        privateKeys.delete(key.kid);
        throw error;
      });
      privateKeys.set(key.kid, pending);
    }
    return pending;
  }

  return {
    async activeKey(): Promise<SigningKey> {
      const key = await active();
      return { kid: key.kid, alg: 'ES256' };
    },
    async sign(signingInput: Uint8Array): Promise<Uint8Array> {
      const kid = headerKid(signingInput) ?? (await active()).kid;
      const key = (await ring()).keys.find((candidate) => candidate.kid === kid);
      if (!key || !SIGNING_STATES.has(key.state)) {
        throw serverError('data_key.sign.unknown_kid', new Error(`no signing data key ${kid}`));
      }
      return signWith(await privateKeyOf(key), 'ES256', signingInput);
    },
    async publicKeys(): Promise<readonly JWK[]> {
      const own = (await ring()).keys.map((key) => key.jwk);
      const others = options.published ? await options.published.publicKeys() : [];
      const kids = new Set(own.map((jwk) => jwk.kid));
      return Object.freeze([...own, ...others.filter((jwk) => !kids.has(jwk.kid))]);
    },
  };
}
