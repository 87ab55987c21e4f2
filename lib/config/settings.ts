// Process settings from the environment: the one place `process.env` is read. The policy file
// itself is loaded by `config.ts` from the path in `STS_CONFIG`.

import { SIGNING_ALGORITHMS, type SigningAlgorithm } from '../shared/claims.ts';
import { DURATION_HINT, parseDuration } from '../shared/duration.ts';
import { isAllowedUrl } from '../shared/urls.ts';
import { ConfigError } from './config-error.ts';

export interface Settings {
  /** Path of the policy file; undefined means "use the development config" (local server only). */
  readonly configPath: string | undefined;
  /**
   * `STS_ISSUER`: replaces the policy file's `issuer` (the CDK construct sets it to the deployed
   * API's URL when no custom domain fixes the issuer before deployment).
   */
  readonly issuer: string | undefined;
  /** `local` (a key file), `kms` (KMS Sign per token) or `data-key` (docs/data-key-signing.md). */
  readonly signer: 'local' | 'kms' | 'data-key';
  /**
   * KMS key ids, aliases or ARNs; in `kms` mode the first signs and the others are only
   * published; in `data-key` mode all are only published (tokens they signed stay verifiable).
   */
  readonly kmsKeyIds: readonly string[];
  /** Data-key mode: the wrapping KMS key (rotation only) and the rotation timing, seconds. */
  readonly dataKey: DataKeySettings;
  /** Algorithm of the local signing key when one is created. */
  readonly localKeyAlgorithm: SigningAlgorithm;
  readonly tableName: string;
  readonly dataDir: string;
  readonly dynamodbEndpoint: string | undefined;
  /** `AWS_ENDPOINT_URL_STS`: the only STS endpoint signed AWS identities may name (tests, private endpoints). */
  readonly stsEndpoint: string | undefined;
  readonly adminToken: string | undefined;
  /**
   * `STS_DPOP_NONCE_SECRET` (base64 or base64url, 32+ bytes): the key of the stateless DPoP
   * nonces every instance must share when the config requires nonces.
   */
  readonly dpopNonceSecret: Uint8Array | undefined;
  readonly host: string;
  readonly port: number;
  readonly logLevel: 'debug' | 'info' | 'warn' | 'error' | 'silent';
  /** `STS_METRICS_NAMESPACE`: CloudWatch namespace of the EMF metrics; unset: no metrics. */
  readonly metricsNamespace: string | undefined;
  /** `STS_PROBER=on`: trust the prober's issuer for its one policy (lib/ops/prober-issuer.ts). */
  readonly prober: boolean;
  /** `STS_PROBER_KEY_ID`: the prober issuer's KMS key (the prober signs with it, prober-jwks publishes it). */
  readonly proberKeyId: string | undefined;
  /**
   * `STS_PROBER_REVOCATION_WAIT` (default 30s): how long the prober waits for introspection to see
   * its revocation before the step fails.
   */
  readonly proberRevocationWait: number;
}

export interface DataKeySettings {
  /** `STS_DATA_KEY_KMS_KEY_ID`: the symmetric KMS key the private keys are encrypted under. */
  readonly wrappingKeyId: string | undefined;
  /** `STS_DATA_KEY_ROTATION_PERIOD` (default 1d): how long a key signs. */
  readonly rotationPeriod: number;
  /** `STS_DATA_KEY_PUBLISH_LEAD` (default 10m): how long a next key is published before it signs. */
  readonly publishLead: number;
}

type Env = Readonly<Record<string, string | undefined>>;

function duration(env: Env, name: string, fallback: string): number {
  const text = env[name] || fallback;
  const seconds = parseDuration(text);
  if (seconds === undefined) {
    throw new ConfigError('environment', [`${name}: expected ${DURATION_HINT}, got "${text}"`]);
  }
  return seconds;
}

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const value = env[name];
  if (value === undefined || value === '') return fallback;
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new ConfigError('environment', [`${name}: expected one of ${allowed.join(', ')}, got "${value}"`]);
}

function stsEndpointOf(env: Env): string | undefined {
  const endpoint = env.AWS_ENDPOINT_URL_STS || undefined;
  if (endpoint !== undefined && !isAllowedUrl(endpoint)) {
    throw new ConfigError('environment', [
      `AWS_ENDPOINT_URL_STS: expected an https URL (http only on a loopback host), got "${endpoint}"`,
    ]);
  }
  return endpoint;
}

export function loadSettings(env: Env = process.env): Settings {
  const portText = env.PORT || '8787';
  const port = Number(portText);
  if (!/^[0-9]{1,5}$/.test(portText) || port > 65_535) {
    throw new ConfigError('environment', [`PORT: expected a port number, got "${env.PORT}"`]);
  }
  const signer = oneOf(env, 'STS_SIGNER', ['local', 'kms', 'data-key'] as const, 'local');
  const kmsKeyIds = (env.STS_KMS_KEY_IDS ?? '')
    .split(',')
    .map((id) => id.trim())
    .filter(Boolean);
  if (signer === 'kms' && kmsKeyIds.length === 0) {
    throw new ConfigError('environment', [
      'STS_KMS_KEY_IDS: required when STS_SIGNER=kms (comma-separated key ids)',
    ]);
  }
  const issuer = env.STS_ISSUER || undefined;
  if (issuer !== undefined && !isAllowedUrl(issuer)) {
    throw new ConfigError('environment', [
      `STS_ISSUER: expected an https URL (http only on a loopback host), got "${issuer}"`,
    ]);
  }
  const nonceText = env.STS_DPOP_NONCE_SECRET || undefined;
  const dpopNonceSecret = nonceText === undefined ? undefined : Buffer.from(nonceText, 'base64');
  if (
    dpopNonceSecret !== undefined &&
    (dpopNonceSecret.length < 32 || !/^[A-Za-z0-9+/_=-]+$/.test(nonceText!))
  ) {
    throw new ConfigError('environment', [
      'STS_DPOP_NONCE_SECRET: expected at least 32 bytes in base64 (e.g. `openssl rand -base64 32`)',
    ]);
  }
  return Object.freeze({
    configPath: env.STS_CONFIG || undefined,
    issuer,
    signer,
    kmsKeyIds,
    dataKey: Object.freeze({
      wrappingKeyId: env.STS_DATA_KEY_KMS_KEY_ID || undefined,
      rotationPeriod: duration(env, 'STS_DATA_KEY_ROTATION_PERIOD', '1d'),
      publishLead: duration(env, 'STS_DATA_KEY_PUBLISH_LEAD', '10m'),
    }),
    localKeyAlgorithm: oneOf(env, 'STS_LOCAL_KEY_ALG', SIGNING_ALGORITHMS, 'ES256'),
    tableName: env.STS_TABLE_NAME || 'sts-tokens',
    dataDir: env.STS_DATA_DIR || '.local',
    dynamodbEndpoint: env.AWS_ENDPOINT_URL_DYNAMODB || env.AWS_ENDPOINT_URL || undefined,
    stsEndpoint: stsEndpointOf(env),
    adminToken: env.STS_ADMIN_TOKEN || undefined,
    dpopNonceSecret,
    host: env.HOST || '127.0.0.1',
    port,
    logLevel: oneOf(env, 'STS_LOG_LEVEL', ['debug', 'info', 'warn', 'error', 'silent'] as const, 'info'),
    metricsNamespace: env.STS_METRICS_NAMESPACE || undefined,
    prober: oneOf(env, 'STS_PROBER', ['on', 'off'] as const, 'off') === 'on',
    proberKeyId: env.STS_PROBER_KEY_ID || undefined,
    proberRevocationWait: duration(env, 'STS_PROBER_REVOCATION_WAIT', '30s'),
  });
}
