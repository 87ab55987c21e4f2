// The container of the revocation and introspection routes: the configured layer plus the DynamoDB
// token store (one DynamoDBClient per container).

import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoStore } from '../lib/stores/dynamodb.ts';
import { containerOnce } from './container.ts';
import { configuredRuntime } from './container-config.ts';
import type { RuntimeProvider, StoreRuntime } from './runtime.ts';

export const storeRuntime: RuntimeProvider<StoreRuntime> = containerOnce(async () => {
  const configured = await configuredRuntime();
  const client = new DynamoDBClient({});
  return { ...configured, store: new DynamoStore({ client, tableName: configured.settings.tableName }) };
});
