// A stand-in for the two KMS operations of data-key mode, for the local server and tests: one
// symmetric "KMS key" (an AES-256-GCM key), GenerateDataKeyPairWithoutPlaintext returning a real
// P-256 key pair's public key and its private key encrypted with the encryption context as
// additional data, and Decrypt refusing (InvalidCiphertextException) a ciphertext presented with
// another context or key. The ciphertexts are real; only the HSM is not. The test suite's
// loopback KMS endpoint and its aws-sdk-client-mock doubles answer through it too.

import { createCipheriv, createDecipheriv, generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import {
  DecryptCommand,
  type DecryptCommandInput,
  type DecryptCommandOutput,
  GenerateDataKeyPairWithoutPlaintextCommand,
  type GenerateDataKeyPairWithoutPlaintextCommandInput,
  type GenerateDataKeyPairWithoutPlaintextCommandOutput,
  KMSServiceException,
} from '@aws-sdk/client-kms';

export interface KmsStandIn {
  readonly keyArn: string;
  readonly calls: { GenerateDataKeyPairWithoutPlaintext: number; Decrypt: number };
  generateDataKeyPairWithoutPlaintext(
    input: GenerateDataKeyPairWithoutPlaintextCommandInput,
  ): GenerateDataKeyPairWithoutPlaintextCommandOutput;
  decrypt(input: DecryptCommandInput): DecryptCommandOutput;
  /** A `KMSClient.send` for these two commands (the data-key signer and rotation take one). */
  send(command: unknown): Promise<unknown>;
}

const META = { $metadata: {} };

function kmsException(name: string, message: string): KMSServiceException {
  return new KMSServiceException({ name, $fault: 'client', message, $metadata: { httpStatusCode: 400 } });
}

/** The additional data binding a ciphertext to its KMS key and encryption context. */
function aad(keyArn: string, context: Readonly<Record<string, string>> | undefined): Buffer {
  const sorted = Object.keys(context ?? {})
    .sort()
    .map((name) => [name, context![name]]);
  return Buffer.from(JSON.stringify([keyArn, sorted]));
}

/**
 * A stand-in whose wrapping key is `secret` (32 bytes), or random; `names` are the ids, ARNs and
 * aliases it answers to (the ARN first).
 */
export function createKmsStandIn(
  secret: Buffer = randomBytes(32),
  names: readonly string[] = ['arn:aws:kms:eu-west-1:111122223333:key/00000000-0000-4000-8000-00000000da7a'],
): KmsStandIn {
  const keyArn = names[0]!;
  const known = new Set(names);
  const calls = { GenerateDataKeyPairWithoutPlaintext: 0, Decrypt: 0 };
  const checkKey = (keyId: string | undefined) => {
    if (keyId !== undefined && !known.has(keyId)) throw kmsException('NotFoundException', 'key not found');
  };

  const standIn: KmsStandIn = {
    keyArn,
    calls,
    generateDataKeyPairWithoutPlaintext(input) {
      calls.GenerateDataKeyPairWithoutPlaintext++;
      checkKey(input.KeyId ?? '');
      if (input.KeyPairSpec !== 'ECC_NIST_P256') {
        throw kmsException('UnsupportedOperationException', `stand-in supports ECC_NIST_P256 only`);
      }
      const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', secret, iv).setAAD(aad(keyArn, input.EncryptionContext));
      const pkcs8 = pair.privateKey.export({ format: 'der', type: 'pkcs8' });
      const sealed = Buffer.concat([cipher.update(pkcs8), cipher.final()]);
      pkcs8.fill(0);
      return {
        ...META,
        KeyId: keyArn,
        KeyPairSpec: 'ECC_NIST_P256',
        PublicKey: new Uint8Array(pair.publicKey.export({ format: 'der', type: 'spki' })),
        PrivateKeyCiphertextBlob: new Uint8Array(Buffer.concat([iv, cipher.getAuthTag(), sealed])),
      };
    },
    decrypt(input) {
      calls.Decrypt++;
      checkKey(input.KeyId);
      const blob = Buffer.from(input.CiphertextBlob ?? new Uint8Array());
      try {
        const decipher = createDecipheriv('aes-256-gcm', secret, blob.subarray(0, 12))
          .setAAD(aad(keyArn, input.EncryptionContext))
          .setAuthTag(blob.subarray(12, 28));
        const plaintext = Buffer.concat([decipher.update(blob.subarray(28)), decipher.final()]);
        return { ...META, KeyId: keyArn, Plaintext: new Uint8Array(plaintext) };
      } catch {
        throw kmsException('InvalidCiphertextException', 'ciphertext, key or encryption context mismatch');
      }
    },
    async send(command) {
      if (command instanceof GenerateDataKeyPairWithoutPlaintextCommand)
        return standIn.generateDataKeyPairWithoutPlaintext(command.input);
      if (command instanceof DecryptCommand) return standIn.decrypt(command.input);
      throw kmsException('UnsupportedOperationException', 'the local KMS stand-in has no such operation');
    },
  };
  return standIn;
}

/** The local server's stand-in: its wrapping key persisted (mode 0600) so keys survive restarts. */
export function loadOrCreateKmsStandIn(path: string): KmsStandIn {
  let secret: Buffer;
  try {
    secret = Buffer.from(readFileSync(path, 'utf8').trim(), 'base64');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    secret = randomBytes(32);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, `${secret.toString('base64')}\n`, { mode: 0o600 });
  }
  if (secret.length !== 32) throw new Error(`${path} does not hold a 32-byte key`);
  return createKmsStandIn(secret);
}
