import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIo } from '../../bin/cli-io.ts';
import { run } from '../../bin/sts.ts';
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
    // As a user starts it: without the variable that silences the AWS SDK's Node version notice.
    const server = await start({
      STS_DATA_DIR: dataDir,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: '',
    });
    try {
      expect(server.output()).not.toContain('NodeVersionSupportWarning');
      expect(server.output()).toMatch(
        new RegExp(
          `store: {5}embedded dynalite at http://127\\.0\\.0\\.1:\\d+ \\(data in ${join(dataDir, 'dynamodb')}`,
        ),
      );
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

  it('writes its development config as a file that sts explain reads, and the printed explain admits', async () => {
    const server = await start({ STS_DATA_DIR: dataDir });
    try {
      const path = join(dataDir, 'dev.sts.config.json');
      expect(server.output()).toContain(`npx sts explain --config ${path} --token "$SUBJECT"`);
      const explain = async (args: string[], env: Record<string, string> = {}) => {
        let stdout = '';
        const io = createIo(env, args, {
          stdout: (text) => {
            stdout += text;
          },
          stderr: () => {},
          stdin: async () => '',
        });
        return { code: await run(args, io), stdout };
      };
      const subject = await devToken(server.url);
      const direct = [
        'explain',
        '--config',
        path,
        '--token',
        subject,
        '--audience',
        'https://api.example.local',
      ];
      expect(await explain([...direct, '--scope', 'read'])).toEqual({
        code: 0,
        stdout: expect.stringContaining('ADMITTED by policy "dev"'),
      });
      // A token of this service, as the banner says: its TOKEN# record read from the running store.
      const endpoint = /embedded dynalite at (http:\/\/127\.0\.0\.1:\d+)/.exec(server.output())![1]!;
      expect(server.output()).toContain(`AWS_ENDPOINT_URL_DYNAMODB=${endpoint} and add --table sts-tokens`);
      const own = await exchange(server.url, { subject_token: subject, audience: server.url, scope: 'read' });
      const chained = ['explain', '--config', path, '--token', own.body.access_token];
      const online = await explain(
        [...chained, '--audience', 'https://api.example.local', '--scope', 'read', '--table', 'sts-tokens'],
        { AWS_ENDPOINT_URL_DYNAMODB: endpoint },
      );
      expect(online).toEqual({
        code: 0,
        stdout: expect.stringContaining('ADMITTED by policy "dev-chained"'),
      });
    } finally {
      expect(await stop(server)).toBe(0);
    }
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

describe('npm start: the first minutes', () => {
  let dataDir: string;
  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'sts-first-'));
  });
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  /** Spawns the server and returns the child with its output (not waiting for the banner). */
  const spawnServer = (env: Record<string, string>) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'local/server.ts'], {
      env: { ...process.env, STS_LOG_LEVEL: 'warn', STS_DATA_DIR: dataDir, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const output = { stdout: '', stderr: '' };
    child.stdout!.on('data', (chunk) => {
      output.stdout += chunk;
    });
    child.stderr!.on('data', (chunk) => {
      output.stderr += chunk;
    });
    return { child, output };
  };

  it('answers every request sent during start-up within a second (503 + Retry-After until ready)', async () => {
    const { child, output } = spawnServer({ PORT: '0' });
    // The port is known as soon as it is open: the first line says so, before the server is ready.
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no start line:\n${output.stdout}${output.stderr}`)),
        30_000,
      );
      child.stdout!.on('data', () => {
        const match = /STS starting on (http:\/\/\S+)/.exec(output.stdout);
        if (match) {
          clearTimeout(timer);
          resolve(match[1]!);
        }
      });
    });
    const answers: number[] = [];
    try {
      for (let ready = false, started = Date.now(); !ready; ) {
        expect(Date.now() - started, 'the server never became ready').toBeLessThan(60_000);
        const sent = Date.now();
        const outcome = await fetch(`${url}/.well-known/jwks.json`, {
          signal: AbortSignal.timeout(1000),
        }).then(
          async (response) => {
            await response.arrayBuffer();
            return response;
          },
          (error: Error) => error,
        );
        if (outcome instanceof Response) {
          answers.push(outcome.status);
          if (outcome.status === 503) expect(outcome.headers.get('retry-after')).toBe('1');
          else expect(outcome.status, JSON.stringify(answers)).toBe(200);
          ready = outcome.status === 200;
          if (!ready) await new Promise((resolve) => setTimeout(resolve, 20));
        } else {
          // The port is open: no request may go unanswered (before the fix they hung).
          expect.unreachable(`no answer within a second (${outcome.name}, ${Date.now() - sent} ms)`);
        }
      }
    } finally {
      child.kill('SIGINT');
      await new Promise((resolve) => child.once('exit', resolve));
    }
    expect(answers.at(-1)).toBe(200);
    // The first request went out right after the port opened, while the server was still starting.
    expect(answers[0]).toBe(503);
  });

  it('says which port is taken and how to choose another, exit 2, no stack trace', async () => {
    const taken = createNetServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const { port } = taken.address() as AddressInfo;
    try {
      const { child, output } = spawnServer({ PORT: String(port) });
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      expect(code).toBe(2);
      expect(output.stderr).toContain(`port ${port} on 127.0.0.1 is already in use`);
      expect(output.stderr).toContain(`PORT=${port + 1} npm start`);
      expect(output.stderr).not.toMatch(/\n\s+at /);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });

  it('with your own config: says the dev issuer is off and how to get a subject token; admin routes closed, with the hint', async () => {
    const config = join(dataDir, 'own.json');
    writeFileSync(
      config,
      JSON.stringify({
        issuer: 'https://sts.example.com',
        trustedIssuers: [{ name: 'github', issuer: 'https://token.actions.githubusercontent.com' }],
        policies: [{ name: 'p', issuer: 'github', subject: '**', audiences: ['https://api.example.local'] }],
      }),
    );
    const server = await start({ STS_DATA_DIR: dataDir, STS_CONFIG: config, STS_ADMIN_TOKEN: '' });
    try {
      expect(server.output()).toContain('the built-in development issuer is off');
      expect(server.output()).toContain('npx sts dev-token');
      expect(server.output()).toContain('start with STS_ADMIN_TOKEN=<a secret> to open them');
      expect((await fetch(`${server.url}/dev/token`, { method: 'POST' })).status).toBe(404);
    } finally {
      await stop(server);
    }
  });

  it('with a config that trusts the dev issuer: mints dev tokens for it; with STS_ADMIN_TOKEN: prints the admin pair', async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const config = join(dataDir, 'trusts-dev.json');
    writeFileSync(
      config,
      JSON.stringify({
        issuer: base,
        trustedIssuers: [{ name: 'dev', issuer: `${base}/dev`, algorithms: ['ES256'] }],
        policies: [{ name: 'p', issuer: 'dev', subject: '**', audiences: ['https://api.example.local'] }],
      }),
    );
    const server = await start({
      STS_DATA_DIR: dataDir,
      STS_CONFIG: config,
      PORT: String(port),
      STS_ADMIN_TOKEN: 'local-secret',
    });
    try {
      expect(server.output()).toContain('the built-in development issuer is on: your config trusts it');
      expect(server.output()).toContain('Authorization: Bearer $STS_ADMIN_TOKEN');
      const subject = await devToken(server.url);
      const { status } = await exchange(server.url, {
        subject_token: subject,
        audience: 'https://api.example.local',
      });
      expect(status).toBe(200);
    } finally {
      await stop(server);
    }
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
      expect(server.output()).toContain(`store:     DynamoDB at ${dynamo.endpoint}, table sts-external`);
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
