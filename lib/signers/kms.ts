// The AWS KMS signer. `STS_KMS_KEY_IDS` lists keys (id, ARN, alias name or alias ARN, optionally
// `#PS256`, see kms-key.ts): the first signs, the others are only published so tokens they signed
// keep verifying during a rotation (docs/key-rotation.md). Each key is resolved once per container
// with `GetPublicKey` (promise-memoized; a failed fetch is retried by the next call): its key ARN,
// which `Sign` uses so a moved alias never splits `kid` from the signing key, its JWK with the
// RFC 7638 thumbprint as `kid` (identical to a local key's), and its JWS `alg`. The signing input
// is hashed here and sent as a `DIGEST`; ECDSA's DER signature becomes JOSE `r||s`. KMS faults are
// translated at this edge (kms-error.ts): nothing from the SDK reaches the caller.

import { createHash } from 'node:crypto';
import {
  GetPublicKeyCommand,
  type GetPublicKeyCommandOutput,
  type KMSClient,
  SignCommand,
  type SignCommandOutput,
  type SigningAlgorithmSpec,
} from '@aws-sdk/client-kms';
import type { JWK } from 'jose';
import { ConfigError } from '../config/config-error.ts';
import type { SigningAlgorithm } from '../shared/claims.ts';
import { callTimeout } from '../shared/deadline.ts';
import { serverError } from '../shared/errors.ts';
import { toLowS } from '../shared/low-s.ts';
import { DerSignatureError, derToJose } from './ecdsa-der.ts';
import { kmsError } from './kms-error.ts';
import { checkKmsKey, keyIdsError, parseKeyEntry } from './kms-key.ts';
import { publicJwk } from './local.ts';
import type { Signer, SigningKey } from './signer.ts';

export interface KmsSignerOptions {
  /** Created once per container by the caller (`new KMSClient({})`: AWS_REGION and AWS_ENDPOINT_URL_KMS apply). */
  readonly client: KMSClient;
  /** `settings.kmsKeyIds`: the first entry signs, the others are published only. */
  readonly keyIds: readonly string[];
  /** Deadline of each KMS call, SDK retries included, in milliseconds (default 2000). */
  readonly timeoutMs?: number;
  /**
   * `false` (default): every key is fetched and checked before the signer is returned, so a
   * misconfiguration stops the start. `true`: nothing is fetched until first use, and a
   * misconfigured key then fails each use with `server_error` (`kms.key.misconfigured`).
   */
  readonly lazy?: boolean;
}

/** A published key as resolved from GetPublicKey. */
interface KmsKey {
  readonly keyArn: string;
  readonly alg: SigningAlgorithm;
  readonly signingAlgorithm: SigningAlgorithmSpec;
  readonly jwk: JWK;
  /** RSA modulus bytes, the exact length of every RSA signature; undefined for ECDSA. */
  readonly rsaBytes: number | undefined;
}

/** Resolves once; a failure is forgotten so the next call retries, except a ConfigError, which stays. */
function once<T>(load: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | undefined;
  return () => {
    pending ??= load().catch((error: unknown) => {
      if (!(error instanceof ConfigError)) pending = undefined;
      throw error;
    });
    return pending;
  };
}

/** The KMS signer; see the module comment. Rejects with ConfigError when a key does not fit. */
export async function createKmsSigner(options: KmsSignerOptions): Promise<Signer> {
  const { client } = options;
  const timeoutMs = options.timeoutMs ?? 2000;
  if (options.keyIds.length === 0) throw keyIdsError('at least one KMS key is required');
  const entries = options.keyIds.map(parseKeyEntry);

  async function send<T>(operation: string, command: GetPublicKeyCommand | SignCommand): Promise<T> {
    const signal = AbortSignal.timeout(callTimeout(timeoutMs));
    let onAbort = (): void => {};
    // The race keeps the deadline even where the SDK does not watch the signal (retry back-off).
    const deadline = new Promise<never>((_, reject) => {
      onAbort = () => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
    });
    try {
      const sendWith = client.send.bind(client) as (command: unknown, options: unknown) => Promise<unknown>;
      return (await Promise.race([sendWith(command, { abortSignal: signal }), deadline])) as T;
    } catch (error) {
      throw kmsError(operation, error);
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  const loaders = entries.map((entry) =>
    once(async (): Promise<KmsKey> => {
      const answer = await send<GetPublicKeyCommandOutput>(
        'get_public_key',
        new GetPublicKeyCommand({ KeyId: entry.keyId }),
      );
      const { keyArn, alg, signingAlgorithm, publicKey } = checkKmsKey(entry, answer);
      const modulusLength = publicKey.asymmetricKeyDetails?.modulusLength;
      return Object.freeze({
        keyArn,
        alg,
        signingAlgorithm,
        // publicJwk is shared with the local signer, so a KMS key and a local key get the same kid.
        jwk: Object.freeze(await publicJwk(publicKey, alg)),
        rsaBytes: alg === 'ES256' || !modulusLength ? undefined : Math.ceil(modulusLength / 8),
      });
    }),
  );
  const active = loaders[0]!;
  const activeKey = once(async (): Promise<SigningKey> => {
    const key = await active();
    return Object.freeze({ kid: key.jwk.kid!, alg: key.alg });
  });
  const publicKeys = once(async (): Promise<readonly JWK[]> => {
    const keys = await Promise.all(loaders.map((load) => load()));
    const byKid = new Map<string, JWK>();
    keys.forEach(({ jwk }, index) => {
      const seen = byKid.get(jwk.kid!);
      if (seen && seen.alg !== jwk.alg) {
        throw keyIdsError(`key "${entries[index]!.entry}" is listed twice with different algorithms`);
      }
      if (!seen) byKid.set(jwk.kid!, jwk);
    });
    return Object.freeze([...byKid.values()]);
  });

  /** After start, a ConfigError (lazy mode only) is an internal error of every request. */
  const guard = async <T>(work: () => Promise<T>): Promise<T> => {
    try {
      return await work();
    } catch (error) {
      throw error instanceof ConfigError ? serverError('kms.key.misconfigured', error) : error;
    }
  };

  async function sign(signingInput: Uint8Array): Promise<Uint8Array> {
    const key = await active();
    const digest = createHash('sha256').update(signingInput).digest();
    const answer = await send<SignCommandOutput>(
      'sign',
      new SignCommand({
        KeyId: key.keyArn,
        Message: digest,
        MessageType: 'DIGEST',
        SigningAlgorithm: key.signingAlgorithm,
      }),
    );
    const signature = answer.Signature;
    if (!signature || (answer.KeyId !== undefined && answer.KeyId !== key.keyArn)) {
      throw serverError(
        'kms.sign.bad_signature',
        new Error('Sign answered without a signature or for another key'),
      );
    }
    if (key.rsaBytes !== undefined) {
      if (signature.length !== key.rsaBytes) {
        throw serverError('kms.sign.bad_signature', new Error(`RSA signature of ${signature.length} bytes`));
      }
      return signature;
    }
    try {
      // KMS returns either spelling of an ECDSA signature; tokens carry only the low-S one.
      return toLowS(derToJose(signature));
    } catch (error) {
      if (error instanceof DerSignatureError) throw serverError('kms.sign.bad_signature', error);
      throw error;
    }
  }

  if (!options.lazy) await publicKeys();
  return {
    activeKey: () => guard(activeKey),
    sign: (signingInput) => guard(() => sign(signingInput)),
    publicKeys: () => guard(publicKeys),
  };
}
