// The DynamoDB single-table store (DESIGN.md "DynamoDB table"). Every call has a deadline;
// throttling, timeouts and service faults become 503 `temporarily_unavailable`, everything
// else a bare `server_error`: callers never see SDK messages.

import {
  type AttributeValue,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { awsError } from '../shared/aws-error.ts';
import { type OAuthError, serverError } from '../shared/errors.ts';
import {
  numberAttribute,
  PARTITION_KEY,
  REVOKED_AT,
  REVOKED_BEFORE,
  seenKey,
  subjectKey,
  TTL_ATTRIBUTE,
  tokenItem,
  tokenKey,
  tokenRecordFromItem,
} from '../shared/token-table.ts';
import type { IssuedToken, TokenRecord, TokenStore } from './store.ts';

export interface DynamoStoreOptions {
  readonly client: DynamoDBClient;
  readonly tableName: string;
  /** Per-call deadline in milliseconds (default 2000). */
  readonly timeoutMs?: number;
}

/** Translates a DynamoDB SDK failure into the service's error, at the edge of the store. */
export function dynamoError(operation: string, error: unknown): OAuthError {
  return awsError('dynamodb', operation, error);
}

const S = (value: string): AttributeValue => ({ S: value });
const N = (value: number): AttributeValue => ({ N: String(value) });

export class DynamoStore implements TokenStore {
  readonly #client: DynamoDBClient;
  readonly #table: string;
  readonly #timeoutMs: number;

  constructor(options: DynamoStoreOptions) {
    this.#client = options.client;
    this.#table = options.tableName;
    this.#timeoutMs = options.timeoutMs ?? 2000;
  }

  async #send<T>(
    operation: string,
    command: GetItemCommand | PutItemCommand | UpdateItemCommand,
  ): Promise<T> {
    try {
      const send = this.#client.send.bind(this.#client) as (c: unknown, o: unknown) => Promise<unknown>;
      return (await send(command, { abortSignal: AbortSignal.timeout(this.#timeoutMs) })) as T;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) throw error;
      throw dynamoError(operation, error);
    }
  }

  async recordIssued(token: IssuedToken): Promise<void> {
    try {
      await this.#send('put_token', this.#put(tokenItem(token)));
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException)
        throw serverError('dynamodb.put_token.jti_exists', error);
      throw error;
    }
  }

  async getToken(jti: string): Promise<TokenRecord | undefined> {
    const { Item: item } = await this.#send<{ Item?: Record<string, AttributeValue> }>(
      'get_token',
      this.#get(tokenKey(jti)),
    );
    return item ? tokenRecordFromItem(jti, item) : undefined;
  }

  async subjectRevokedBefore(sub: string): Promise<number | undefined> {
    const { Item: item } = await this.#send<{ Item?: Record<string, AttributeValue> }>(
      'get_subject',
      this.#get(subjectKey(sub)),
    );
    return item ? numberAttribute(item, REVOKED_BEFORE) : undefined;
  }

  async revokeToken(jti: string, at: number): Promise<boolean> {
    try {
      await this.#send(
        'revoke_token',
        new UpdateItemCommand({
          TableName: this.#table,
          Key: { [PARTITION_KEY]: S(tokenKey(jti)) },
          UpdateExpression: `SET ${REVOKED_AT} = if_not_exists(${REVOKED_AT}, :at)`,
          ConditionExpression: `attribute_exists(${PARTITION_KEY})`,
          ExpressionAttributeValues: { ':at': N(at) },
        }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  async revokeSubject(sub: string, before: number): Promise<void> {
    // Never move revokedBefore backwards: a later, smaller value must not un-revoke tokens.
    try {
      await this.#send(
        'revoke_subject',
        new UpdateItemCommand({
          TableName: this.#table,
          Key: { [PARTITION_KEY]: S(subjectKey(sub)) },
          UpdateExpression: `SET ${REVOKED_BEFORE} = :before`,
          ConditionExpression: `attribute_not_exists(${REVOKED_BEFORE}) OR ${REVOKED_BEFORE} < :before`,
          ExpressionAttributeValues: { ':before': N(before) },
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }

  async markSubjectTokenUsed(issuer: string, jti: string, exp: number): Promise<boolean> {
    try {
      await this.#send(
        'put_seen',
        this.#put({ [PARTITION_KEY]: S(seenKey(issuer, jti)), [TTL_ATTRIBUTE]: N(exp) }),
      );
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  #get(key: string): GetItemCommand {
    return new GetItemCommand({
      TableName: this.#table,
      Key: { [PARTITION_KEY]: S(key) },
      ConsistentRead: true,
    });
  }

  #put(item: Record<string, AttributeValue>): PutItemCommand {
    return new PutItemCommand({
      TableName: this.#table,
      Item: item,
      ConditionExpression: `attribute_not_exists(${PARTITION_KEY})`,
    });
  }
}
