import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createKmsStandIn, type KmsStandIn } from '../../local/kms-stand-in.ts';
import { derSignature, ecdsaSignDigest, randomScalar, toBigInt } from '../lib/signers/digest-signatures.ts';

/**
 * A KMS-compatible HTTP endpoint on loopback (the AWS JSON 1.1 protocol of `TrentService`):
 * `GetPublicKey` and `Sign` with `MessageType: DIGEST` for one ECC_NIST_P256 key reachable by id,
 * ARN and alias, returning real DER signatures; and, for data-key mode,
 * `GenerateDataKeyPairWithoutPlaintext` and `Decrypt` under one symmetric key (`dataKeys.keyArn`),
 * returning real key pairs and real ciphertexts. Point `AWS_ENDPOINT_URL_KMS` at it.
 */
export interface KmsEndpoint {
  readonly endpoint: string;
  readonly keyArn: string;
  readonly publicKey: KeyObject;
  readonly calls: { GetPublicKey: number; Sign: number };
  /** The symmetric key of data-key mode (GenerateDataKeyPairWithoutPlaintext, Decrypt). */
  readonly dataKeys: KmsStandIn;
  close(): Promise<void>;
}

const KEY_ID = '1234abcd-12ab-34cd-56ef-1234567890ab';
const KEY_ARN = `arn:aws:kms:eu-west-1:111122223333:key/${KEY_ID}`;
const NAMES = new Set([
  KEY_ID,
  KEY_ARN,
  'alias/sts-signing',
  'arn:aws:kms:eu-west-1:111122223333:alias/sts-signing',
]);

export async function startKmsEndpoint(): Promise<KmsEndpoint> {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const d = toBigInt(Buffer.from((privateKey.export({ format: 'jwk' }) as { d: string }).d, 'base64url'));
  const calls = { GetPublicKey: 0, Sign: 0 };
  const dataKeys = createKmsStandIn();
  const blob = (value: Uint8Array | undefined) => (value ? Buffer.from(value).toString('base64') : undefined);

  const server: Server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => {
      body += chunk;
    });
    request.on('end', () => {
      const reply = (status: number, value: unknown) => {
        response.writeHead(status, { 'Content-Type': 'application/x-amz-json-1.1' });
        response.end(JSON.stringify(value));
      };
      const target = String(request.headers['x-amz-target'] ?? '');
      const input = JSON.parse(body || '{}') as Record<string, string>;
      // Data-key mode: real key pairs and real ciphertexts under the symmetric key (local/kms-stand-in.ts).
      try {
        if (target === 'TrentService.GenerateDataKeyPairWithoutPlaintext') {
          const answer = dataKeys.generateDataKeyPairWithoutPlaintext(input as never);
          return reply(200, {
            KeyId: answer.KeyId,
            KeyPairSpec: answer.KeyPairSpec,
            PublicKey: blob(answer.PublicKey),
            PrivateKeyCiphertextBlob: blob(answer.PrivateKeyCiphertextBlob),
          });
        }
        if (target === 'TrentService.Decrypt') {
          const ciphertext = Buffer.from(String(input.CiphertextBlob ?? ''), 'base64');
          const answer = dataKeys.decrypt({ ...(input as object), CiphertextBlob: ciphertext });
          return reply(200, { KeyId: answer.KeyId, Plaintext: blob(answer.Plaintext) });
        }
      } catch (error) {
        return reply(400, { __type: (error as Error).name, message: (error as Error).message });
      }
      if (!NAMES.has(input.KeyId ?? ''))
        return reply(400, { __type: 'NotFoundException', message: 'key not found' });
      if (target === 'TrentService.GetPublicKey') {
        calls.GetPublicKey++;
        return reply(200, {
          KeyId: KEY_ARN,
          KeySpec: 'ECC_NIST_P256',
          KeyUsage: 'SIGN_VERIFY',
          SigningAlgorithms: ['ECDSA_SHA_256'],
          PublicKey: publicKey.export({ format: 'der', type: 'spki' }).toString('base64'),
        });
      }
      if (target === 'TrentService.Sign') {
        calls.Sign++;
        const digest = Buffer.from(input.Message ?? '', 'base64');
        if (
          input.MessageType !== 'DIGEST' ||
          digest.length !== 32 ||
          input.SigningAlgorithm !== 'ECDSA_SHA_256'
        ) {
          return reply(400, { __type: 'ValidationException', message: 'expected a SHA-256 DIGEST' });
        }
        let signature: { r: bigint; s: bigint } | undefined;
        while (!signature) signature = ecdsaSignDigest(d, digest, randomScalar());
        return reply(200, {
          KeyId: KEY_ARN,
          SigningAlgorithm: 'ECDSA_SHA_256',
          Signature: derSignature(signature.r, signature.s).toString('base64'),
        });
      }
      return reply(400, { __type: 'UnknownOperationException' });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    keyArn: KEY_ARN,
    publicKey,
    calls,
    dataKeys,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
