// The rotation of data-key mode, run on a schedule (lambdas/rotate-data-keys.ts; locally at the
// local server's start). One run moves the ring one step at a time, each step only when due:
//   1. a previous key published past its `publishUntil` leaves the ring;
//   2. a next key whose `activatesAt` has come becomes active; the active one becomes previous,
//      published for `keep` more seconds;
//   3. without a next key, one is created once the active key is within `publishLead` of its
//      period's end (or at once when there is no active key), to sign `publishLead` later.
// New keys come from KMS GenerateDataKeyPairWithoutPlaintext (ECC_NIST_P256) under a symmetric
// KMS key, with an encryption context naming the key: this function never sees a private key.

import { createPublicKey, randomUUID } from 'node:crypto';
import {
  GenerateDataKeyPairWithoutPlaintextCommand,
  type GenerateDataKeyPairWithoutPlaintextCommandOutput,
  type KMSClient,
} from '@aws-sdk/client-kms';
import { type Clock, epochSeconds } from '../shared/clock.ts';
import { serverError } from '../shared/errors.ts';
import type { DataKeyRecord, KeyStore } from '../stores/key-store.ts';
import {
  CONTEXT_KEY_REF,
  CONTEXT_PURPOSE,
  CONTEXT_PURPOSE_KEY,
  type DataKeyTiming,
} from './data-key-rules.ts';
import { kmsError } from './kms-error.ts';
import { publicJwk } from './local.ts';

export interface RotationDeps {
  readonly keys: KeyStore;
  readonly kms: Pick<KMSClient, 'send'>;
  readonly clock: Clock;
  /** The symmetric KMS key the private keys are encrypted under (id, ARN or alias). */
  readonly wrappingKeyId: string;
  readonly timing: DataKeyTiming;
  /** With no key at all, make the first one active at once (local server only: nobody caches yet). */
  readonly bootstrapActive?: boolean;
}

export interface RotationReport {
  readonly created: string | undefined;
  readonly activated: string | undefined;
  readonly retired: string | undefined;
  readonly removed: readonly string[];
  /** The ring after the run, as kid: state. */
  readonly ring: Readonly<Record<string, string>>;
}

async function generateKey(deps: RotationDeps, now: number, activatesAt: number): Promise<DataKeyRecord> {
  const encryptionContext = { [CONTEXT_PURPOSE_KEY]: CONTEXT_PURPOSE, [CONTEXT_KEY_REF]: randomUUID() };
  let answer: GenerateDataKeyPairWithoutPlaintextCommandOutput;
  try {
    answer = (await deps.kms.send(
      new GenerateDataKeyPairWithoutPlaintextCommand({
        KeyId: deps.wrappingKeyId,
        KeyPairSpec: 'ECC_NIST_P256',
        EncryptionContext: encryptionContext,
      }),
    )) as GenerateDataKeyPairWithoutPlaintextCommandOutput;
  } catch (error) {
    throw kmsError('generate_data_key_pair', error);
  }
  const { PublicKey, PrivateKeyCiphertextBlob, KeyId, KeyPairSpec } = answer;
  if (!PublicKey || !PrivateKeyCiphertextBlob || !KeyId || (KeyPairSpec && KeyPairSpec !== 'ECC_NIST_P256')) {
    throw serverError(
      'data_key.generate.bad_answer',
      new Error('GenerateDataKeyPairWithoutPlaintext answer'),
    );
  }
  const publicKey = createPublicKey({ key: Buffer.from(PublicKey), format: 'der', type: 'spki' });
  if (publicKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw serverError('data_key.generate.bad_answer', new Error('not a P-256 public key'));
  }
  const jwk = await publicJwk(publicKey, 'ES256');
  return {
    kid: jwk.kid!,
    jwk,
    encryptedPrivateKey: PrivateKeyCiphertextBlob,
    wrappingKey: KeyId,
    encryptionContext,
    state: activatesAt <= now ? 'active' : 'next',
    createdAt: now,
    activatesAt,
  };
}

/** One rotation run; see the module comment. Retries once when another writer raced it. */
export async function rotateDataKeys(deps: RotationDeps): Promise<RotationReport> {
  for (let attempt = 0; ; attempt++) {
    const report = await rotateOnce(deps);
    if (report) return report;
    if (attempt >= 2) throw serverError('data_key.rotate.conflict', new Error('key ring kept changing'));
  }
}

async function rotateOnce(deps: RotationDeps): Promise<RotationReport | undefined> {
  const { timing } = deps;
  const now = epochSeconds(deps.clock);
  const ring = await deps.keys.readRing();
  let keys = [...ring.keys];
  let created: string | undefined;
  let activated: string | undefined;
  let retired: string | undefined;

  const removed = keys
    .filter((key) => key.state === 'previous' && (key.publishUntil ?? 0) <= now)
    .map((key) => key.kid);
  keys = keys.filter((key) => !removed.includes(key.kid));

  const next = keys.find((key) => key.state === 'next');
  if (next && next.activatesAt <= now) {
    keys = keys.map((key) => {
      if (key.kid === next.kid) return { ...key, state: 'active' as const };
      if (key.state !== 'active') return key;
      retired = key.kid;
      return { ...key, state: 'previous' as const, retiredAt: now, publishUntil: now + timing.keep };
    });
    activated = next.kid;
  }

  const active = keys.find((key) => key.state === 'active');
  const hasNext = keys.some((key) => key.state === 'next');
  if (!hasNext && (!active || now >= active.activatesAt + timing.rotationPeriod - timing.publishLead)) {
    const activatesAt =
      !active && keys.length === 0 && deps.bootstrapActive
        ? now
        : Math.max(now + timing.publishLead, active ? active.activatesAt + timing.rotationPeriod : 0);
    const key = await generateKey(deps, now, activatesAt);
    keys.push(key);
    created = key.kid;
    if (key.state === 'active') activated = key.kid;
  }

  const changed = created !== undefined || activated !== undefined || removed.length > 0;
  if (changed && !(await deps.keys.writeRing(ring.version, keys))) return undefined;
  return {
    created,
    activated,
    retired,
    removed,
    ring: Object.fromEntries(keys.map((key) => [key.kid, key.state])),
  };
}
