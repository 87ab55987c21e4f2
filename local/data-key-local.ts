// The local server's signer in data-key mode (`STS_SIGNER=data-key npm start`): the key ring in
// the local table, KMS either the in-process stand-in (wrapping key under the data directory) or,
// when STS_DATA_KEY_KMS_KEY_ID names a key, the KMS endpoint the SDK is pointed at
// (AWS_ENDPOINT_URL_KMS). One rotation runs at start and makes the first key active at once:
// nobody has cached this server's JWKS yet. Other modes: createSigner as on Lambda.

import { join } from 'node:path';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KMSClient } from '@aws-sdk/client-kms';
import type { Config } from '../lib/config/config.ts';
import { ConfigError } from '../lib/config/config-error.ts';
import type { Settings } from '../lib/config/settings.ts';
import type { Clock } from '../lib/shared/clock.ts';
import { createSigner } from '../lib/signers/create.ts';
import { rotateDataKeys } from '../lib/signers/data-key-rotation.ts';
import { checkTiming } from '../lib/signers/data-key-rules.ts';
import type { Signer } from '../lib/signers/signer.ts';
import { DynamoKeyStore } from '../lib/stores/dynamodb-keys.ts';
import { loadOrCreateKmsStandIn } from './kms-stand-in.ts';

/** The signer the settings ask for, built for the local server; see the module comment. */
export async function createLocalServerSigner(
  settings: Settings,
  config: Config,
  dynamodb: DynamoDBClient | undefined,
  clock: Clock,
): Promise<Signer> {
  if (settings.signer !== 'data-key') return createSigner(settings);
  if (!dynamodb) {
    throw new ConfigError('environment', ['STS_SIGNER=data-key: the key ring needs the DynamoDB store']);
  }
  const standIn = settings.dataKey.wrappingKeyId
    ? undefined
    : loadOrCreateKmsStandIn(join(settings.dataDir, 'kms-stand-in.key'));
  const kms = standIn ?? new KMSClient({});
  const keys = new DynamoKeyStore({ client: dynamodb, tableName: settings.tableName });
  await rotateDataKeys({
    keys,
    kms,
    clock,
    wrappingKeyId: settings.dataKey.wrappingKeyId ?? standIn!.keyArn,
    timing: checkTiming(settings.dataKey, {
      maxTokenLifetime: config.tokenLifetime.max,
      clockSkew: config.clockSkew,
    }),
    bootstrapActive: true,
  });
  return createSigner(settings, { dynamodb, kms, clock });
}
