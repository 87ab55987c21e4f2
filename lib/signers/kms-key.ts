// Which KMS keys may sign which JWS algorithm. An `STS_KMS_KEY_IDS` entry is a key id, key ARN,
// alias name or alias ARN, optionally followed by `#<alg>` (KMS references never contain `#`):
//
// - `ECC_NIST_P256` -> ES256 (`ECDSA_SHA_256`); the only choice.
// - `RSA_2048`, `RSA_3072`, `RSA_4096` -> RS256 (`RSASSA_PKCS1_V1_5_SHA_256`) by default, or PS256
//   (`RSASSA_PSS_SHA_256`) when the entry ends in `#PS256`, e.g. `alias/sts-2025#PS256`.
//
// Any other key spec, a usage other than `SIGN_VERIFY`, a key that does not offer the signing
// algorithm, or a public key that does not match its spec is refused with a ConfigError naming
// STS_KMS_KEY_IDS and the key.

import { createPublicKey, type KeyObject } from 'node:crypto';
import type { GetPublicKeyCommandOutput, SigningAlgorithmSpec } from '@aws-sdk/client-kms';
import { ConfigError } from '../config/config-error.ts';
import { SIGNING_ALGORITHMS, type SigningAlgorithm } from '../shared/claims.ts';

export const KMS_SIGNING_ALGORITHM: Readonly<Record<SigningAlgorithm, SigningAlgorithmSpec>> = {
  ES256: 'ECDSA_SHA_256',
  RS256: 'RSASSA_PKCS1_V1_5_SHA_256',
  PS256: 'RSASSA_PSS_SHA_256',
};
const RSA_SPECS = new Set(['RSA_2048', 'RSA_3072', 'RSA_4096']);
const SOURCE = 'environment';
const VARIABLE = 'STS_KMS_KEY_IDS';

/** A ConfigError about STS_KMS_KEY_IDS. */
export const keyIdsError = (problem: string): ConfigError =>
  new ConfigError(SOURCE, [`${VARIABLE}: ${problem}`]);

/** One `STS_KMS_KEY_IDS` entry: the KMS key reference and the algorithm asked for, if any. */
export interface KeyEntry {
  readonly entry: string;
  readonly keyId: string;
  readonly requested: SigningAlgorithm | undefined;
}

const isSigningAlgorithm = (text: string): text is SigningAlgorithm =>
  (SIGNING_ALGORITHMS as readonly string[]).includes(text);

/** Splits `alias/sts#PS256` into the key reference and the requested algorithm. */
export function parseKeyEntry(entry: string): KeyEntry {
  const [keyId = '', requested, ...rest] = entry.trim().split('#');
  if (!keyId || rest.length > 0 || (requested !== undefined && !isSigningAlgorithm(requested))) {
    throw keyIdsError(
      `"${entry}" is not a KMS key id, ARN or alias, optionally followed by #${SIGNING_ALGORITHMS.join(', #')}`,
    );
  }
  return { entry, keyId, requested: requested as SigningAlgorithm | undefined };
}

/** A key checked to sign `alg`: what the signer needs from GetPublicKey. */
export interface CheckedKey {
  /** The key ARN GetPublicKey answered with; Sign uses it, never the alias. */
  readonly keyArn: string;
  readonly alg: SigningAlgorithm;
  readonly signingAlgorithm: SigningAlgorithmSpec;
  readonly publicKey: KeyObject;
}

/** Checks a GetPublicKey answer against its entry and picks the JWS alg; throws ConfigError. */
export function checkKmsKey(key: KeyEntry, answer: GetPublicKeyCommandOutput): CheckedKey {
  const refuse = (problem: string): never => {
    throw keyIdsError(`key "${key.entry}" (${answer.KeyId ?? key.keyId}) ${problem}`);
  };
  if (answer.KeyUsage !== 'SIGN_VERIFY') refuse(`has KeyUsage ${answer.KeyUsage}; expected SIGN_VERIFY`);
  const spec = answer.KeySpec;
  let alg: SigningAlgorithm;
  if (spec === 'ECC_NIST_P256') {
    alg = key.requested ?? 'ES256';
    if (alg !== 'ES256') refuse(`is ECC_NIST_P256, which signs ES256 only, not ${alg}`);
  } else if (RSA_SPECS.has(spec ?? '')) {
    alg = key.requested ?? 'RS256';
    if (alg === 'ES256') refuse(`is ${spec}, which signs RS256 or PS256, not ES256`);
  } else {
    return refuse(`has KeySpec ${spec}; expected ECC_NIST_P256 (ES256) or RSA_2048/3072/4096 (RS256, PS256)`);
  }
  const signingAlgorithm = KMS_SIGNING_ALGORITHM[alg];
  if (!answer.SigningAlgorithms?.includes(signingAlgorithm)) {
    refuse(
      `does not offer ${signingAlgorithm} (${alg}); it offers ${answer.SigningAlgorithms?.join(', ') || 'none'}`,
    );
  }
  if (!answer.KeyId || !answer.PublicKey) return refuse('has no KeyId or PublicKey in GetPublicKey');

  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey({ key: Buffer.from(answer.PublicKey), format: 'der', type: 'spki' });
  } catch (error) {
    return refuse(`has a public key that is not DER SPKI (${(error as Error).message})`);
  }
  const { asymmetricKeyType: type, asymmetricKeyDetails: details } = publicKey;
  const fits =
    alg === 'ES256'
      ? type === 'ec' && details?.namedCurve === 'prime256v1'
      : type === 'rsa' && (details?.modulusLength ?? 0) >= 2048;
  if (!fits)
    refuse(
      `has a ${type} ${details?.namedCurve ?? details?.modulusLength} public key, which cannot sign ${alg}`,
    );
  return { keyArn: answer.KeyId, alg, signingAlgorithm, publicKey };
}
