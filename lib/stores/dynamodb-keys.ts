// The data-key ring in the token table: `KEY#<kid>` items (public JWK, encrypted private key,
// state, times) and the `KEY#ring` item (the kids, and a version for optimistic concurrency).
// A ring write is one TransactWriteItems (the key items and the ring, conditional on the ring's
// version); where the server has no transactions (dynalite) the key items are written first and
// the ring last, still conditional, so a reader never sees a kid without its item.

import {
  type AttributeValue,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  TransactionCanceledException,
  TransactWriteItemsCommand,
} from '@aws-sdk/client-dynamodb';
import type { JWK } from 'jose';
import { awsError } from '../shared/aws-error.ts';
import { ITEM_PREFIXES } from '../shared/token-table.ts';
import { isUnknownOperation, sendDynamo } from './dynamodb-send.ts';
import type { DataKeyRecord, DataKeyState, KeyRing, KeyStore } from './key-store.ts';

export const RING_KEY = `${ITEM_PREFIXES.key}ring`;
export const keyItemKey = (kid: string): string => `${ITEM_PREFIXES.key}${kid}`;
/** A previous key's item outlives its publication by a day, then TTL removes it. */
const ITEM_GRACE_SECONDS = 86_400;

const S = (value: string): AttributeValue => ({ S: value });
const N = (value: number): AttributeValue => ({ N: String(value) });
const num = (item: Record<string, AttributeValue>, name: string): number | undefined =>
  item[name]?.N === undefined ? undefined : Number(item[name].N);

function toItem(key: DataKeyRecord): Record<string, AttributeValue> {
  const item: Record<string, AttributeValue> = {
    pk: S(keyItemKey(key.kid)),
    kid: S(key.kid),
    jwk: S(JSON.stringify(key.jwk)),
    encryptedPrivateKey: { B: key.encryptedPrivateKey },
    wrappingKey: S(key.wrappingKey),
    encryptionContext: S(JSON.stringify(key.encryptionContext)),
    state: S(key.state),
    createdAt: N(key.createdAt),
    activatesAt: N(key.activatesAt),
  };
  if (key.retiredAt !== undefined) item.retiredAt = N(key.retiredAt);
  if (key.publishUntil !== undefined) {
    item.publishUntil = N(key.publishUntil);
    item.ttl = N(key.publishUntil + ITEM_GRACE_SECONDS);
  }
  return item;
}

function fromItem(item: Record<string, AttributeValue>): DataKeyRecord {
  const kid = item.kid?.S;
  const blob = item.encryptedPrivateKey?.B;
  const state = item.state?.S as DataKeyState | undefined;
  if (!kid || !blob || !item.jwk?.S || !item.wrappingKey?.S || !state) {
    throw new Error(`key item ${item.pk?.S} is incomplete`);
  }
  return {
    kid,
    jwk: JSON.parse(item.jwk.S) as JWK,
    encryptedPrivateKey: blob,
    wrappingKey: item.wrappingKey.S,
    encryptionContext: JSON.parse(item.encryptionContext?.S ?? '{}') as Record<string, string>,
    state,
    createdAt: num(item, 'createdAt') ?? 0,
    activatesAt: num(item, 'activatesAt') ?? 0,
    retiredAt: num(item, 'retiredAt'),
    publishUntil: num(item, 'publishUntil'),
  };
}

export interface DynamoKeyStoreOptions {
  readonly client: DynamoDBClient;
  readonly tableName: string;
  /** Per-call deadline in milliseconds (default 2000). */
  readonly timeoutMs?: number;
}

export class DynamoKeyStore implements KeyStore {
  readonly #client: DynamoDBClient;
  readonly #table: string;
  readonly #timeoutMs: number;
  #transactions = true;

  constructor(options: DynamoKeyStoreOptions) {
    this.#client = options.client;
    this.#table = options.tableName;
    this.#timeoutMs = options.timeoutMs ?? 2000;
  }

  #send<T>(operation: string, command: unknown): Promise<T> {
    return sendDynamo<T>(this.#client, operation, command, this.#timeoutMs);
  }

  async readRing(): Promise<KeyRing> {
    const { Item: ring } = await this.#send<{ Item?: Record<string, AttributeValue> }>(
      'get_key_ring',
      new GetItemCommand({ TableName: this.#table, Key: { pk: S(RING_KEY) }, ConsistentRead: true }),
    );
    if (!ring) return { keys: [], version: 0 };
    const kids = (ring.kids?.L ?? []).map((value) => value.S ?? '').filter(Boolean);
    const version = num(ring, 'version') ?? 0;
    if (kids.length === 0) return { keys: [], version };
    // One GetItem per kid, all at once: one round trip for the handful of keys of a ring.
    const items = await Promise.all(
      kids.map((kid) =>
        this.#send<{ Item?: Record<string, AttributeValue> }>(
          'get_key',
          new GetItemCommand({
            TableName: this.#table,
            Key: { pk: S(keyItemKey(kid)) },
            ConsistentRead: true,
          }),
        ),
      ),
    );
    const keys = items.map(({ Item: item }, index) => {
      if (!item)
        throw awsError(
          'dynamodb',
          'get_key',
          new Error(`KEY#${kids[index]} is listed in the ring but missing`),
        );
      return fromItem(item);
    });
    return { keys, version };
  }

  async writeRing(expected: number, keys: readonly DataKeyRecord[]): Promise<boolean> {
    const ring = {
      TableName: this.#table,
      Item: { pk: S(RING_KEY), kids: { L: keys.map((key) => S(key.kid)) }, version: N(expected + 1) },
      ConditionExpression: expected === 0 ? 'attribute_not_exists(pk)' : 'version = :expected',
      ...(expected === 0 ? {} : { ExpressionAttributeValues: { ':expected': N(expected) } }),
    };
    const puts = keys.map((key) => ({ TableName: this.#table, Item: toItem(key) }));
    if (this.#transactions) {
      try {
        await this.#send(
          'write_key_ring',
          new TransactWriteItemsCommand({ TransactItems: [...puts, ring].map((Put) => ({ Put })) }),
        );
        return true;
      } catch (error) {
        if (error instanceof TransactionCanceledException) {
          if (error.CancellationReasons?.at(-1)?.Code === 'ConditionalCheckFailed') return false;
          throw awsError('dynamodb', 'write_key_ring', error);
        }
        if (!isUnknownOperation(error)) throw error;
        this.#transactions = false;
      }
    }
    for (const put of puts) await this.#send('put_key', new PutItemCommand(put));
    try {
      await this.#send('put_key_ring', new PutItemCommand(ring));
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }
}
