// The data-key rotation function (data-key mode): not an HTTP route; the stack runs it on a
// schedule (EventBridge) and once at deploy. Its role may only GenerateDataKeyPairWithoutPlaintext
// under the wrapping key (no Decrypt: it never sees a private key) and write the KEY# items.

import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KMSClient } from '@aws-sdk/client-kms';
import { ConfigError, loadConfigFile } from '../lib/config/config.ts';
import { loadSettings } from '../lib/config/settings.ts';
import { systemClock } from '../lib/shared/clock.ts';
import { createLogger } from '../lib/shared/log.ts';
import { rotateDataKeys } from '../lib/signers/data-key-rotation.ts';
import { checkTiming } from '../lib/signers/data-key-rules.ts';
import { DynamoKeyStore } from '../lib/stores/dynamodb-keys.ts';

let clients: { dynamodb: DynamoDBClient; kms: KMSClient } | undefined;

/** Lambda entry point: one rotation run, logged; a failure fails the invocation (and alarms). */
export async function handler(): Promise<{ readonly ring: Readonly<Record<string, string>> }> {
  const settings = loadSettings();
  const logger = createLogger(settings.logLevel);
  try {
    if (!settings.configPath) throw new ConfigError('environment', ['STS_CONFIG: required']);
    if (!settings.dataKey.wrappingKeyId) {
      throw new ConfigError('environment', ['STS_DATA_KEY_KMS_KEY_ID: required by the rotation function']);
    }
    const config = loadConfigFile(settings.configPath, { issuer: settings.issuer });
    const timing = checkTiming(settings.dataKey, {
      maxTokenLifetime: config.tokenLifetime.max,
      clockSkew: config.clockSkew,
    });
    clients ??= { dynamodb: new DynamoDBClient({}), kms: new KMSClient({}) };
    const report = await rotateDataKeys({
      keys: new DynamoKeyStore({ client: clients.dynamodb, tableName: settings.tableName }),
      kms: clients.kms,
      clock: systemClock,
      wrappingKeyId: settings.dataKey.wrappingKeyId,
      timing,
    });
    logger.info('data_key.rotation', { ...report });
    return { ring: report.ring };
  } catch (error) {
    logger.error('data_key.rotation_failed', { cause: error });
    throw error;
  }
}
