// The DynamoDB single-table store (DESIGN.md "DynamoDB table"). Every call has a deadline;
// throttling, timeouts and service faults become 503 `temporarily_unavailable`, everything
// else a bare `server_error`: callers never see SDK messages.
//
// An exchange's writes (`SEEN#` of each one-time token, then `TOKEN#`) are one TransactWriteItems:
// one round trip, all or nothing, so a fault never spends a token without issuing one. Against a
// server without transactions (dynalite, the local server's embedded store; it answers
// UnknownOperationException) the store falls back, once and for good, to sequential conditional
// writes: a replay still loses and no token leaves unrecorded, but a fault after a `SEEN#` write
// leaves that one-time token spent (the caller needs a fresh one), and it costs two round trips.

import {
  type AttributeValue,
  ConditionalCheckFailedException,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  TransactionCanceledException,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { awsError } from '../shared/aws-error.ts';
import { type OAuthError, serverError, temporarilyUnavailable } from '../shared/errors.ts';
import {
  numberAttribute,
  PARTITION_KEY,
  REVOKED_AT,
  REVOKED_BEFORE,
  SUBJECT_ISSUER,
  SUBJECT_SUB,
  seenKey,
  subjectKey,
  TTL_ATTRIBUTE,
  tokenItem,
  tokenKey,
  tokenRecordFromItem,
} from '../shared/token-table.ts';
import { isUnknownOperation, sendDynamo } from './dynamodb-send.ts';
import type { IssuedToken, OneTimeUse, TokenRecord, TokenStore } from './store.ts';

export interface DynamoStoreOptions {
  readonly client: DynamoDBClient;
  readonly tableName: string;
  /** Per-call deadline in milliseconds (default 2000). */
  readonly timeoutMs?: number;
}

/** Cancellation reasons of a transaction that a retry may get past. */
const RETRYABLE_CANCELLATION = new Set([
  'ThrottlingError',
  'ProvisionedThroughputExceeded',
  'RequestLimitExceeded',
  'TransactionConflict',
]);

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
  /** Cleared when the server answers that it has no TransactWriteItems (dynalite). */
  #transactions = true;

  constructor(options: DynamoStoreOptions) {
    this.#client = options.client;
    this.#table = options.tableName;
    this.#timeoutMs = options.timeoutMs ?? 2000;
  }

  #send<T>(
    operation: string,
    command: GetItemCommand | PutItemCommand | UpdateItemCommand | TransactWriteItemsCommand,
  ): Promise<T> {
    return sendDynamo<T>(this.#client, operation, command, this.#timeoutMs);
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

  async recordIssuedSpending(
    token: IssuedToken,
    spend: readonly OneTimeUse[],
  ): Promise<OneTimeUse | undefined> {
    if (!this.#transactions || spend.length === 0) {
      for (const use of spend) {
        if (!(await this.markSubjectTokenUsed(use.issuer, use.jti, use.until))) return use;
      }
      await this.recordIssued(token);
      return undefined;
    }
    // One round trip: every SEEN# and the TOKEN# item are written together or not at all. The SDK
    // fills ClientRequestToken, so its own retries of a transaction that did commit are idempotent.
    const puts = [...spend.map((use) => this.#seenItem(use)), tokenItem(token)];
    try {
      await this.#send(
        'transact_issue',
        new TransactWriteItemsCommand({
          TransactItems: puts.map((item) => ({
            Put: {
              TableName: this.#table,
              Item: item,
              ConditionExpression: `attribute_not_exists(${PARTITION_KEY})`,
            },
          })),
        }),
      );
      return undefined;
    } catch (error) {
      if (isUnknownOperation(error)) {
        this.#transactions = false;
        return this.recordIssuedSpending(token, spend);
      }
      if (!(error instanceof TransactionCanceledException)) throw error;
      const codes = (error.CancellationReasons ?? []).map((reason) => reason.Code ?? 'None');
      const replayed = spend.findIndex((_, index) => codes[index] === 'ConditionalCheckFailed');
      if (replayed >= 0) return spend[replayed];
      if (codes[spend.length] === 'ConditionalCheckFailed')
        throw serverError('dynamodb.put_token.jti_exists', error);
      // Two exchanges of one token at once: the loser may see TransactionConflict, retry, and then
      // lose as a replay; throttling is a 503 like any other write.
      if (codes.some((code) => RETRYABLE_CANCELLATION.has(code)))
        throw temporarilyUnavailable('dynamodb.transact_issue.unavailable', { cause: error });
      throw serverError('dynamodb.transact_issue.failed', error);
    }
  }

  async getToken(jti: string): Promise<TokenRecord | undefined> {
    const { Item: item } = await this.#send<{ Item?: Record<string, AttributeValue> }>(
      'get_token',
      this.#get(tokenKey(jti)),
    );
    return item ? tokenRecordFromItem(jti, item) : undefined;
  }

  async subjectRevokedBefore(issuer: string, sub: string): Promise<number | undefined> {
    const { Item: item } = await this.#send<{ Item?: Record<string, AttributeValue> }>(
      'get_subject',
      this.#get(subjectKey(issuer, sub)),
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

  async revokeSubject(issuer: string, sub: string, before: number): Promise<void> {
    // Never move revokedBefore backwards: a later, smaller value must not un-revoke tokens.
    try {
      await this.#send(
        'revoke_subject',
        new UpdateItemCommand({
          TableName: this.#table,
          Key: { [PARTITION_KEY]: S(subjectKey(issuer, sub)) },
          UpdateExpression: `SET ${REVOKED_BEFORE} = :before, #issuer = :issuer, #sub = :sub`,
          ConditionExpression: `attribute_not_exists(${REVOKED_BEFORE}) OR ${REVOKED_BEFORE} < :before`,
          ExpressionAttributeNames: { '#issuer': SUBJECT_ISSUER, '#sub': SUBJECT_SUB },
          ExpressionAttributeValues: { ':before': N(before), ':issuer': S(issuer), ':sub': S(sub) },
        }),
      );
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw error;
    }
  }

  async markSubjectTokenUsed(issuer: string, jti: string, exp: number): Promise<boolean> {
    try {
      await this.#send('put_seen', this.#put(this.#seenItem({ issuer, jti, until: exp })));
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  /** The `SEEN#<issuer>#<jti>` item of a spent one-time token. */
  #seenItem(use: OneTimeUse): Record<string, AttributeValue> {
    return { [PARTITION_KEY]: S(seenKey(use.issuer, use.jti)), [TTL_ATTRIBUTE]: N(use.until) };
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
