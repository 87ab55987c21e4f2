// The verifier's table-read revocation mode (`serverless-sts/verifier/dynamodb`): strongly
// consistent reads of the STS table, decided by the same `readTokenState` the STS itself uses.
// Its own entry point because it needs the AWS SDK's DynamoDB client, which the verifier proper
// does not: install `@aws-sdk/client-dynamodb` (an optional peer dependency) to use it.

import { type DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import { type Clock, epochSeconds } from '../shared/clock.ts';
import { readTokenState, type TokenRecordReader } from '../shared/token-record.ts';
import {
  numberAttribute,
  PARTITION_KEY,
  REVOKED_BEFORE,
  subjectKey,
  type TableItem,
  tokenKey,
  tokenRecordFromItem,
} from '../shared/token-table.ts';
import type { RevocationLookup } from './verifier.ts';

export interface DynamoRevocationOptions {
  /** A DynamoDB client, created once per container. */
  readonly client: DynamoDBClient;
  /** The STS table (the stack's `TableName` output). Needs `dynamodb:GetItem` on it, nothing else. */
  readonly tableName: string;
  /** Deadline of one read, in milliseconds (default 2000). */
  readonly timeoutMs?: number;
  /** Time source for the exact `exp` comparison (default `Date.now`). */
  readonly clock?: Clock;
}

/** Strongly consistent reads of the STS table's `TOKEN#` and `SUBJECT#` items. */
export function dynamoTableReader(options: DynamoRevocationOptions): TokenRecordReader {
  const { client, tableName } = options;
  const timeoutMs = options.timeoutMs ?? 2000;
  const read = async (key: string): Promise<TableItem | undefined> => {
    const command = new GetItemCommand({
      TableName: tableName,
      Key: { [PARTITION_KEY]: { S: key } },
      ConsistentRead: true,
    });
    const { Item } = await client.send(command, { abortSignal: AbortSignal.timeout(timeoutMs) });
    return Item;
  };
  return {
    async getToken(jti) {
      const item = await read(tokenKey(jti));
      return item ? tokenRecordFromItem(jti, item) : undefined;
    },
    async subjectRevokedBefore(issuer, sub) {
      const item = await read(subjectKey(issuer, sub));
      return item ? numberAttribute(item, REVOKED_BEFORE) : undefined;
    },
  };
}

/**
 * A `RevocationLookup` reading the STS table directly, decided as the STS decides: a token is
 * accepted only while its `TOKEN#` record exists, it is unexpired, and neither it, nor a token it
 * was exchanged or delegated from, nor its subject or any of its actors was revoked. A failed
 * read throws, so the verifier answers 503 (fail closed).
 *
 * @example
 * import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
 * import { createAccessTokenVerifier } from 'serverless-sts/verifier';
 * import { dynamoRevocationLookup } from 'serverless-sts/verifier/dynamodb';
 *
 * const verifier = createAccessTokenVerifier({
 *   issuer: 'https://sts.example.com',
 *   audience: 'https://api.example.com',
 *   revocation: { via: dynamoRevocationLookup({ client: new DynamoDBClient({}), tableName: 'sts-tokens' }) },
 * });
 */
export function dynamoRevocationLookup(options: DynamoRevocationOptions): RevocationLookup {
  const reader = dynamoTableReader(options);
  const clock = options.clock ?? Date.now;
  return async (_token, claims) =>
    (await readTokenState(reader, claims.jti, epochSeconds(clock))).state === 'active';
}
