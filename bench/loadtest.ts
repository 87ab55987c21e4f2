import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { paginateScan } from '@aws-sdk/client-dynamodb';
import { createLocalJWKSet, decodeJwt, type JSONWebKeySet, jwtVerify } from 'jose';
import { loadSettings } from '../lib/config/settings.ts';
import { TOKEN_EXCHANGE_GRANT, TOKEN_TYPE } from '../lib/shared/claims.ts';
import { localDynamoClient } from '../local/embedded-dynamodb.ts';
import { startLocalServer } from '../local/server.ts';

/**
 * `npm run loadtest`: proves that load loses nothing. The local server (the Lambda handlers behind
 * API Gateway v2 events, the local signer, DynamoStore on dynalite in a child process of its own,
 * as DynamoDB is a service of its own) takes LOADTEST_REQUESTS
 * (10,000) token exchanges over LOADTEST_CONCURRENCY (64) keep-alive connections on 127.0.0.1, each
 * with its own subject token pre-minted by the development issuer. Then it counts: every request
 * answered 200, no 5xx, no duplicate jti, every token verifies against the published JWKS, and the
 * table holds exactly one TOKEN# item per 200 (a full Scan) and no other. Bounded in count and
 * time (LOADTEST_DEADLINE_MS); exits 1 on any loss, 2 on the deadline.
 */
const TOTAL = Number(process.env.LOADTEST_REQUESTS ?? 10_000);
const CONCURRENCY = Number(process.env.LOADTEST_CONCURRENCY ?? 64);
const DEADLINE_MS = Number(process.env.LOADTEST_DEADLINE_MS ?? 180_000);
const TABLE = 'sts-loadtest';
const AUDIENCE = 'https://api.example.local';

interface Answer {
  readonly status: number;
  readonly body: string;
  readonly ms: number;
}

function post(agent: Agent, url: URL, body: string): Promise<Answer> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        agent,
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'content-length': Buffer.byteLength(body),
        },
        timeout: 30_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: Buffer.concat(chunks).toString(),
            ms: performance.now() - started,
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(body);
  });
}

/** dynalite (in memory) in a child process on a loopback port: DynamoDB's work off the server's event loop. */
async function startDynalite(): Promise<{ endpoint: string; child: ChildProcess }> {
  const script = [
    `const server = require(${JSON.stringify(createRequire(import.meta.url).resolve('dynalite'))})({ createTableMs: 0 });`,
    "server.listen(0, '127.0.0.1', () => process.stdout.write(server.address().port + '\\n'));",
    "process.on('disconnect', () => process.exit(0));",
  ].join('\n');
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit', 'ipc'] });
  const [port] = (await Promise.race([
    once(child.stdout!, 'data'),
    once(child, 'exit').then(() => Promise.reject(new Error('dynalite exited'))),
  ])) as [Buffer];
  return { endpoint: `http://127.0.0.1:${String(port).trim()}`, child };
}

const percentile = (sorted: readonly number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN;

async function main(): Promise<number> {
  const deadline = Date.now() + DEADLINE_MS;
  const hardStop = setTimeout(() => {
    process.stderr.write(`loadtest: deadline of ${DEADLINE_MS + 30_000} ms passed, aborting\n`);
    process.exit(2);
  }, DEADLINE_MS + 30_000);
  hardStop.unref();

  const dataDir = mkdtempSync(join(tmpdir(), 'sts-loadtest-'));
  const dynamo = await startDynalite();
  const scanClient = localDynamoClient(dynamo.endpoint);
  const server = await startLocalServer({
    settings: loadSettings({
      PORT: '0',
      HOST: '127.0.0.1',
      STS_DATA_DIR: dataDir,
      STS_LOG_LEVEL: 'silent',
      STS_TABLE_NAME: TABLE,
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
    }),
  });
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  try {
    const issuer = server.runtime.config.issuer;
    process.stdout.write(
      `loadtest: ${server.url}, dynalite ${dynamo.endpoint}; minting ${TOTAL} subject tokens\n`,
    );
    const bodies: string[] = [];
    for (let i = 0; i < TOTAL; i++) {
      const subjectToken = await server.devIssuer.mint({ sub: `load-${i}`, aud: issuer, lifetime: 1800 });
      bodies.push(
        new URLSearchParams({
          grant_type: TOKEN_EXCHANGE_GRANT,
          subject_token: subjectToken,
          subject_token_type: TOKEN_TYPE.jwt,
          audience: AUDIENCE,
          scope: 'read',
        }).toString(),
      );
    }

    const url = new URL('/token', server.url);
    const statuses = new Map<number, number>();
    const latencies: number[] = [];
    const tokens: string[] = [];
    const failures: string[] = [];
    let next = 0;
    let sent = 0;
    let networkErrors = 0;
    process.stdout.write(`loadtest: ${TOTAL} exchanges at ${CONCURRENCY} connections\n`);
    const started = performance.now();
    const worker = async () => {
      for (;;) {
        const index = next++;
        if (index >= TOTAL || Date.now() > deadline) return;
        sent++;
        try {
          const answer = await post(agent, url, bodies[index]!);
          statuses.set(answer.status, (statuses.get(answer.status) ?? 0) + 1);
          latencies.push(answer.ms);
          if (answer.status === 200)
            tokens.push((JSON.parse(answer.body) as { access_token: string }).access_token);
          else if (failures.length < 5) failures.push(`${answer.status} ${answer.body}`);
        } catch (error) {
          networkErrors++;
          if (failures.length < 5) failures.push(String(error));
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    const seconds = (performance.now() - started) / 1000;

    const jtis = tokens.map((token) => String(decodeJwt(token).jti));
    const unique = new Set(jtis);
    const jwksResponse = await fetch(new URL('/.well-known/jwks.json', server.url));
    const jwks = createLocalJWKSet((await jwksResponse.json()) as JSONWebKeySet);
    let verified = 0;
    for (const token of tokens) {
      try {
        await jwtVerify(token, jwks, { issuer, audience: AUDIENCE, typ: 'at+jwt', algorithms: ['ES256'] });
        verified++;
      } catch {
        // counted as a loss below
      }
    }
    const items = new Set<string>();
    let scanned = 0;
    for await (const page of paginateScan(
      { client: scanClient },
      { TableName: TABLE, ConsistentRead: true },
    )) {
      for (const item of page.Items ?? []) {
        scanned++;
        const pk = item.pk?.S ?? '';
        if (pk.startsWith('TOKEN#')) items.add(pk.slice('TOKEN#'.length));
      }
    }
    const itemsWithout200 = [...items].filter((jti) => !unique.has(jti)).length;
    const twoHundredsWithoutItem = [...unique].filter((jti) => !items.has(jti)).length;
    const ok = statuses.get(200) ?? 0;
    const fiveHundreds = [...statuses].filter(([status]) => status >= 500).reduce((sum, [, n]) => sum + n, 0);
    const sorted = [...latencies].sort((a, b) => a - b);
    const ms = (value: number) => `${value.toFixed(1)} ms`;

    const checks: ReadonlyArray<readonly [string, boolean]> = [
      [`every request sent before the deadline (${sent}/${TOTAL})`, sent === TOTAL],
      [`no network errors (${networkErrors})`, networkErrors === 0],
      [`no 5xx (${fiveHundreds})`, fiveHundreds === 0],
      [`every exchange answered 200 (${ok}/${TOTAL})`, ok === TOTAL],
      [`no duplicate jti (${unique.size} unique of ${jtis.length})`, unique.size === jtis.length],
      [`every token verifies against the JWKS (${verified}/${tokens.length})`, verified === tokens.length],
      [`one TOKEN# item per 200 (${items.size} items, ${ok} 200s)`, items.size === ok],
      [`no 200 without its TOKEN# item (${twoHundredsWithoutItem})`, twoHundredsWithoutItem === 0],
      [`no TOKEN# item without its 200 (${itemsWithout200})`, itemsWithout200 === 0],
    ];
    const lines = [
      '',
      `requests      ${TOTAL} at ${CONCURRENCY} keep-alive connections, ${seconds.toFixed(2)} s, ${(TOTAL / seconds).toFixed(0)} req/s`,
      `statuses      ${[...statuses].map(([status, n]) => `${status}: ${n}`).join(', ') || 'none'}`,
      `latency       p50 ${ms(percentile(sorted, 50))}, p90 ${ms(percentile(sorted, 90))}, p99 ${ms(percentile(sorted, 99))}, max ${ms(sorted.at(-1) ?? Number.NaN)}`,
      `table         ${scanned} items scanned, ${items.size} TOKEN#`,
      '',
      ...checks.map(([what, pass]) => `${pass ? 'ok  ' : 'FAIL'}  ${what}`),
      ...failures.map((failure) => `      e.g. ${failure.slice(0, 200)}`),
      '',
    ];
    const lost = checks.some(([, pass]) => !pass);
    lines.push(lost ? 'LOSS: see FAIL above' : 'nothing lost');
    process.stdout.write(`${lines.join('\n')}\n`);
    return lost ? 1 : 0;
  } finally {
    agent.destroy();
    scanClient.destroy();
    await server.close();
    dynamo.child.kill('SIGTERM');
    rmSync(dataDir, { recursive: true, force: true });
    clearTimeout(hardStop);
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(
      `loadtest: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    );
    process.exit(1);
  },
);
