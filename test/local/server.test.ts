import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDynamoDbLocal } from '../support/dynamo-backends.ts';
import { startServerProcess as start, stopServerProcess as stop } from '../support/local-process.ts';
import { freePort } from '../support/ports.ts';

/**
 * `npm start` as a newcomer meets it: a child process on embedded defaults that prints its URL
 * and copy-paste commands, answers them, persists its key and records, and stops on Ctrl-C.
 */
const EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const JWT = 'urn:ietf:params:oauth:token-type:jwt';

const devToken = async (url: string) =>
  (await fetch(`${url}/dev/token`, { method: 'POST', body: new URLSearchParams({ sub: 'alice' }) })).text();

async function exchange(url: string, params: Record<string, string>) {
  const response = await fetch(`${url}/token`, {
    method: 'POST',
    body: new URLSearchParams({ grant_type: EXCHANGE, subject_token_type: JWT, ...params }),
  });
  return {
    status: response.status,
    body: (await response.json()) as { access_token: string; scope: string },
  };
}

/** The commands the banner prints: a dev subject token, then an exchange for the example API. */
const exchangeViaPrintedCommands = async (url: string) =>
  exchange(url, { subject_token: await devToken(url), audience: 'https://api.example.local', scope: 'read' });

const claimsOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString());
const headerOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString());

describe('npm start', () => {
  let dataDir: string;

  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'sts-start-'));
  });
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('prints its URL and copy-paste commands that work, and stops cleanly on Ctrl-C', async () => {
    const server = await start({ STS_DATA_DIR: dataDir });
    try {
      expect(server.output()).toContain(`${server.url}/dev/token`);
      expect(server.output()).toContain('grant_type=urn:ietf:params:oauth:grant-type:token-exchange');
      const { status, body } = await exchangeViaPrintedCommands(server.url);
      expect(status).toBe(200);
      expect(claimsOf(body.access_token)).toMatchObject({
        iss: server.url,
        sub: 'alice',
        aud: 'https://api.example.local',
        scope: 'read',
      });
    } finally {
      expect(await stop(server)).toBe(0);
    }
    expect(statSync(join(dataDir, 'signing-key.ES256.json')).mode & 0o777).toBe(0o600);
  });

  it('keeps its signing key and token records across restarts', async () => {
    const port = String(await freePort());
    const first = await start({ STS_DATA_DIR: dataDir, PORT: port });
    let kid: string;
    let own: string;
    try {
      const subject = await devToken(first.url);
      own = (await exchange(first.url, { subject_token: subject, audience: first.url, scope: 'read' })).body
        .access_token;
      kid = headerOf(own).kid;
    } finally {
      await stop(first);
    }
    const second = await start({ STS_DATA_DIR: dataDir, PORT: port });
    try {
      const { keys } = (await (await fetch(`${second.url}/.well-known/jwks.json`)).json()) as {
        keys: { kid: string }[];
      };
      expect(keys.map((key) => key.kid)).toEqual([kid]);
      // A chained exchange needs the first token's TOKEN# record: it survived the restart.
      const chained = await exchange(second.url, {
        subject_token: own,
        subject_token_type: 'urn:ietf:params:oauth:token-type:access_token',
        audience: 'https://api.example.local',
        scope: 'read',
      });
      expect(chained.status).toBe(200);
    } finally {
      await stop(second);
    }
  });

  it('fails at start with the field and the problem when STS_CONFIG is invalid', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'local/server.ts'], {
      env: {
        ...process.env,
        PORT: '0',
        STS_DATA_DIR: dataDir,
        STS_CONFIG: 'test/vectors/does-not-exist.json',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr!.on('data', (chunk) => {
      stderr += chunk;
    });
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).toBe(2);
    expect(stderr).toContain('invalid configuration test/vectors/does-not-exist.json');
  });
});

describe('npm start with AWS_ENDPOINT_URL_DYNAMODB', () => {
  it('uses that endpoint (here DynamoDB Local) and creates the table', async () => {
    const dynamo = await startDynamoDbLocal();
    const dataDir = mkdtempSync(join(tmpdir(), 'sts-ddb-'));
    const server = await start({
      STS_DATA_DIR: dataDir,
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      STS_TABLE_NAME: 'sts-external',
      AWS_REGION: 'eu-west-1',
    });
    try {
      const { status, body } = await exchangeViaPrintedCommands(server.url);
      expect(status).toBe(200);
      const { DynamoDBClient, GetItemCommand } = await import('@aws-sdk/client-dynamodb');
      const client = new DynamoDBClient({
        endpoint: dynamo.endpoint,
        region: 'eu-west-1',
        credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      });
      const { Item } = await client.send(
        new GetItemCommand({
          TableName: 'sts-external',
          Key: { pk: { S: `TOKEN#${claimsOf(body.access_token).jti}` } },
        }),
      );
      expect(Item?.sub?.S).toBe('alice');
      client.destroy();
    } finally {
      await stop(server);
      await dynamo.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, 90_000);
});
