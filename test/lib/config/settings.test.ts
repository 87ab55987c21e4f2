import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../lib/config/config.ts';
import { loadSettings } from '../../../lib/config/settings.ts';

/** The ConfigError thrown by loadSettings(env). */
function refusal(env: Record<string, string>): ConfigError {
  try {
    loadSettings(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('loadSettings', () => {
  it('has defaults for an empty environment', () => {
    expect(loadSettings({})).toEqual({
      configPath: undefined,
      issuer: undefined,
      signer: 'local',
      kmsKeyIds: [],
      dataKey: { wrappingKeyId: undefined, rotationPeriod: 86_400, publishLead: 600 },
      localKeyAlgorithm: 'ES256',
      tableName: 'sts-tokens',
      dataDir: '.local',
      dynamodbEndpoint: undefined,
      adminToken: undefined,
      host: '127.0.0.1',
      port: 8787,
      logLevel: 'info',
      metricsNamespace: undefined,
      prober: false,
      proberKeyId: undefined,
      proberRevocationWait: 30,
    });
  });

  it('treats empty variables as unset', () => {
    const empty = [
      'STS_CONFIG',
      'STS_ISSUER',
      'STS_SIGNER',
      'STS_LOCAL_KEY_ALG',
      'STS_TABLE_NAME',
      'STS_DATA_DIR',
      'PORT',
      'STS_METRICS_NAMESPACE',
      'STS_PROBER',
      'STS_PROBER_KEY_ID',
      'STS_PROBER_REVOCATION_WAIT',
    ];
    expect(loadSettings(Object.fromEntries(empty.map((name) => [name, ''])))).toEqual(loadSettings({}));
  });

  it('reads every variable', () => {
    const settings = loadSettings({
      STS_CONFIG: '/etc/sts.config.json',
      STS_ISSUER: 'https://abc123.execute-api.eu-west-1.amazonaws.com',
      STS_SIGNER: 'kms',
      STS_KMS_KEY_IDS: ' alias/sts-a , arn:aws:kms:eu-west-1:1:key/b ,',
      STS_DATA_KEY_KMS_KEY_ID: 'alias/sts-wrapping',
      STS_DATA_KEY_ROTATION_PERIOD: '12h',
      STS_DATA_KEY_PUBLISH_LEAD: '15m',
      STS_LOCAL_KEY_ALG: 'PS256',
      STS_TABLE_NAME: 'tokens',
      STS_DATA_DIR: '/tmp/sts',
      AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:8000',
      STS_ADMIN_TOKEN: 'secret',
      HOST: '0.0.0.0',
      PORT: '0',
      STS_LOG_LEVEL: 'silent',
      STS_METRICS_NAMESPACE: 'ServerlessSTS/prod',
      STS_PROBER: 'on',
      STS_PROBER_KEY_ID: 'alias/sts-prober',
      STS_PROBER_REVOCATION_WAIT: '45s',
    });
    expect(settings).toEqual({
      configPath: '/etc/sts.config.json',
      issuer: 'https://abc123.execute-api.eu-west-1.amazonaws.com',
      signer: 'kms',
      kmsKeyIds: ['alias/sts-a', 'arn:aws:kms:eu-west-1:1:key/b'],
      dataKey: { wrappingKeyId: 'alias/sts-wrapping', rotationPeriod: 43_200, publishLead: 900 },
      localKeyAlgorithm: 'PS256',
      tableName: 'tokens',
      dataDir: '/tmp/sts',
      dynamodbEndpoint: 'http://127.0.0.1:8000',
      adminToken: 'secret',
      host: '0.0.0.0',
      port: 0,
      logLevel: 'silent',
      metricsNamespace: 'ServerlessSTS/prod',
      prober: true,
      proberKeyId: 'alias/sts-prober',
      proberRevocationWait: 45,
    });
    expect(Object.isFrozen(settings)).toBe(true);
  });

  it('accepts STS_SIGNER=data-key and refuses a data-key duration that is not one', () => {
    expect(loadSettings({ STS_SIGNER: 'data-key' }).signer).toBe('data-key');
    expect(refusal({ STS_DATA_KEY_PUBLISH_LEAD: '10 minutes' }).problems[0]).toMatch(
      /^STS_DATA_KEY_PUBLISH_LEAD:/,
    );
  });

  it('falls back to AWS_ENDPOINT_URL for DynamoDB', () => {
    expect(loadSettings({ AWS_ENDPOINT_URL: 'http://localhost:4566' }).dynamodbEndpoint).toBe(
      'http://localhost:4566',
    );
  });

  it.each([
    ['PORT', { PORT: 'http' }],
    ['PORT', { PORT: '-1' }],
    ['PORT', { PORT: '65536' }],
    ['PORT', { PORT: '80.5' }],
    ['PORT', { PORT: '0x50' }],
    ['PORT', { PORT: '1e3' }],
    ['PORT', { PORT: ' 80' }],
    ['STS_SIGNER', { STS_SIGNER: 'vault' }],
    ['STS_SIGNER', { STS_SIGNER: 'KMS' }],
    ['STS_KMS_KEY_IDS', { STS_SIGNER: 'kms' }],
    ['STS_KMS_KEY_IDS', { STS_SIGNER: 'kms', STS_KMS_KEY_IDS: ' , ' }],
    ['STS_LOCAL_KEY_ALG', { STS_LOCAL_KEY_ALG: 'HS256' }],
    ['STS_LOCAL_KEY_ALG', { STS_LOCAL_KEY_ALG: 'none' }],
    ['STS_LOG_LEVEL', { STS_LOG_LEVEL: 'trace' }],
    ['STS_ISSUER', { STS_ISSUER: 'http://sts.example.com' }],
    ['STS_ISSUER', { STS_ISSUER: 'sts.example.com' }],
  ])('refuses a bad %s: %j', (name, env) => {
    const error = refusal(env);
    expect(error.source).toBe('environment');
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]?.startsWith(`${name}:`)).toBe(true);
  });

  it('accepts the highest port', () => {
    expect(loadSettings({ PORT: '65535' }).port).toBe(65_535);
  });
});
