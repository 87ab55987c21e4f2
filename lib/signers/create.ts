import { join } from 'node:path';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { KMSClient } from '@aws-sdk/client-kms';
import type { Settings } from '../config/settings.ts';
import { type Clock, systemClock } from '../shared/clock.ts';
import { loadOrCreateLocalSigner } from './local.ts';
import type { Signer } from './signer.ts';

/** Clients the local server passes in (embedded DynamoDB, the local KMS stand-in); default: AWS. */
export interface SignerClients {
  readonly dynamodb?: DynamoDBClient;
  readonly kms?: Pick<KMSClient, 'send'>;
  readonly clock?: Clock;
}

/**
 * The signer the settings ask for: `local` (a key file under the data directory), `kms`, or
 * `data-key` (the key ring in the table; the KMS keys, if any, published beside it). The AWS
 * clients are imported only in the modes that use them.
 */
export async function createSigner(settings: Settings, clients: SignerClients = {}): Promise<Signer> {
  if (settings.signer === 'kms') {
    const [{ newKmsClient }, { createKmsSigner }] = await Promise.all([
      import('./kms-client.ts'),
      import('./kms.ts'),
    ]);
    return createKmsSigner({ client: newKmsClient(), keyIds: settings.kmsKeyIds });
  }
  if (settings.signer === 'data-key') {
    const [
      { newDynamoDBClient },
      { newKmsClient },
      { DynamoKeyStore },
      { createDataKeySigner },
      { createKmsSigner },
    ] = await Promise.all([
      // One-client modules, not the SDK packages: a dynamic import of a package keeps every command.
      import('../stores/dynamodb-client.ts'),
      import('./kms-client.ts'),
      import('../stores/dynamodb-keys.ts'),
      import('./data-key.ts'),
      import('./kms.ts'),
    ]);
    const published =
      settings.kmsKeyIds.length > 0
        ? await createKmsSigner({ client: newKmsClient(), keyIds: settings.kmsKeyIds })
        : undefined;
    return createDataKeySigner({
      keys: new DynamoKeyStore({
        client: clients.dynamodb ?? newDynamoDBClient(),
        tableName: settings.tableName,
      }),
      kms: clients.kms ?? newKmsClient(),
      clock: clients.clock ?? systemClock,
      published,
    });
  }
  const alg = settings.localKeyAlgorithm;
  return loadOrCreateLocalSigner(join(settings.dataDir, `signing-key.${alg}.json`), alg);
}
