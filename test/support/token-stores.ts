import { randomUUID } from 'node:crypto';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoStore } from '../../lib/stores/dynamodb.ts';
import { ensureTable } from '../../lib/stores/dynamodb-table.ts';
import { MemoryStore } from '../../lib/stores/memory.ts';
import type { TokenStore } from '../../lib/stores/store.ts';
import { localDynamoClient } from '../../local/embedded-dynamodb.ts';
import { BACKENDS, type BackendKind, type DynamoBackend } from './dynamo-backends.ts';

/**
 * TokenStores for tests that must hold on every backend: the in-memory store, and DynamoStore
 * against dynalite and against DynamoDB Local (each on a fresh table). Use with `describe.each`
 * and open the store in `beforeAll`: DynamoDB Local takes a few seconds to start.
 */
export interface OpenedStore {
  readonly store: TokenStore;
  /** The DynamoDB client and table, for reading raw items (undefined for the memory store). */
  readonly dynamo: { readonly client: DynamoDBClient; readonly tableName: string } | undefined;
  close(): Promise<void>;
}

export interface StoreKind {
  readonly name: string;
  open(): Promise<OpenedStore>;
}

/**
 * DynamoDB Local is a JVM: with the C1 compiler only and the serial collector it answers about
 * twice as fast after spawning, which is most of these tests' run time. Set for the spawn only.
 */
const QUICK_JVM = '-XX:TieredStopAtLevel=1 -XX:+UseSerialGC -Xshare:auto';

async function startQuickly(backend: BackendKind): Promise<DynamoBackend> {
  if (backend.name !== 'DynamoDB Local' || process.env.JAVA_TOOL_OPTIONS !== undefined)
    return backend.start();
  process.env.JAVA_TOOL_OPTIONS = QUICK_JVM;
  try {
    return await backend.start();
  } finally {
    delete process.env.JAVA_TOOL_OPTIONS;
  }
}

export const STORE_KINDS: readonly StoreKind[] = [
  {
    name: 'memory',
    open: async () => ({ store: new MemoryStore(), dynamo: undefined, close: async () => {} }),
  },
  ...BACKENDS.map(
    (backend): StoreKind => ({
      name: backend.name,
      async open() {
        const server = await startQuickly(backend);
        const client = localDynamoClient(server.endpoint);
        const tableName = `sts-test-${randomUUID()}`;
        try {
          await ensureTable(client, tableName);
        } catch (error) {
          client.destroy();
          await server.close();
          throw error;
        }
        return {
          store: new DynamoStore({ client, tableName }),
          dynamo: { client, tableName },
          async close() {
            client.destroy();
            await server.close();
          },
        };
      },
    }),
  ),
];

/** Only the DynamoDB backends (dynalite and DynamoDB Local). */
export const DYNAMO_STORE_KINDS: readonly StoreKind[] = STORE_KINDS.filter((kind) => kind.name !== 'memory');
