// Process settings from the environment: the one place `process.env` is read. The policy file
// itself is loaded by `config.ts` from the path in `STS_CONFIG`.

import { SIGNING_ALGORITHMS, type SigningAlgorithm } from '../shared/claims.ts';
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
  readonly signer: 'local' | 'kms';
  /** KMS key ids, aliases or ARNs; the first signs, the others are only published. */
  readonly kmsKeyIds: readonly string[];
  /** Algorithm of the local signing key when one is created. */
  readonly localKeyAlgorithm: SigningAlgorithm;
  readonly tableName: string;
  readonly dataDir: string;
  readonly dynamodbEndpoint: string | undefined;
  readonly adminToken: string | undefined;
  readonly host: string;
  readonly port: number;
  readonly logLevel: 'debug' | 'info' | 'warn' | 'error' | 'silent';
}

type Env = Readonly<Record<string, string | undefined>>;

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const value = env[name];
  if (value === undefined || value === '') return fallback;
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new ConfigError('environment', [`${name}: expected one of ${allowed.join(', ')}, got "${value}"`]);
}

export function loadSettings(env: Env = process.env): Settings {
  const portText = env.PORT || '8787';
  const port = Number(portText);
  if (!/^[0-9]{1,5}$/.test(portText) || port > 65_535) {
    throw new ConfigError('environment', [`PORT: expected a port number, got "${env.PORT}"`]);
  }
  const signer = oneOf(env, 'STS_SIGNER', ['local', 'kms'] as const, 'local');
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
  return Object.freeze({
    configPath: env.STS_CONFIG || undefined,
    issuer,
    signer,
    kmsKeyIds,
    localKeyAlgorithm: oneOf(env, 'STS_LOCAL_KEY_ALG', SIGNING_ALGORITHMS, 'ES256'),
    tableName: env.STS_TABLE_NAME || 'sts-tokens',
    dataDir: env.STS_DATA_DIR || '.local',
    dynamodbEndpoint: env.AWS_ENDPOINT_URL_DYNAMODB || env.AWS_ENDPOINT_URL || undefined,
    adminToken: env.STS_ADMIN_TOKEN || undefined,
    host: env.HOST || '127.0.0.1',
    port,
    logLevel: oneOf(env, 'STS_LOG_LEVEL', ['debug', 'info', 'warn', 'error', 'silent'] as const, 'info'),
  });
}
