// The one way the DynamoDB stores (tokens, data keys) send a command: under a deadline (the
// store's per-call limit, cut to the invocation's remaining time), with SDK failures translated
// at this edge. The answers a caller decides on itself pass through untouched: a failed
// condition, a cancelled transaction, and dynalite's UnknownOperationException for
// TransactWriteItems (the stores then fall back to sequential writes).

import {
  ConditionalCheckFailedException,
  type DynamoDBClient,
  TransactionCanceledException,
} from '@aws-sdk/client-dynamodb';
import { awsError } from '../shared/aws-error.ts';
import { callTimeout } from '../shared/deadline.ts';

/** The server has no such operation: dynalite answers so to TransactWriteItems (never DynamoDB). */
export const isUnknownOperation = (error: unknown): boolean =>
  (error as { name?: string }).name === 'UnknownOperationException';

/** Sends `command`; throws the store's own error (503 or bare 500) for anything but the answers above. */
export async function sendDynamo<T>(
  client: DynamoDBClient,
  operation: string,
  command: unknown,
  timeoutMs: number,
): Promise<T> {
  try {
    const send = client.send.bind(client) as (c: unknown, o: unknown) => Promise<unknown>;
    return (await send(command, { abortSignal: AbortSignal.timeout(callTimeout(timeoutMs)) })) as T;
  } catch (error) {
    if (
      error instanceof ConditionalCheckFailedException ||
      error instanceof TransactionCanceledException ||
      isUnknownOperation(error)
    )
      throw error;
    throw awsError('dynamodb', operation, error);
  }
}
