import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { copyFileSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { HANDLERS, ROUTES } from '../lambdas/routes.ts';
import { median } from './stats.ts';

/**
 * Cold start of each Lambda handler: a fresh Node process imports the handler module and answers
 * its first request, which builds the runtime layers of its route (lambdas/container*.ts):
 * settings, a KMSClient and the KMS signer's GetPublicKey for all; the policy file for all but
 * `jwks`; a DynamoDBClient for the revocation routes and `token`; the exchange engine for `token`. The bundle is built with the
 * very esbuild options of the CDK stack (cdk/bundling.ts); it is compared with the same handler
 * compiled file by file (esbuild, `bundle: false`, the `.ts` import specifiers rewritten to
 * `.js`) and loading its dependencies from node_modules, as an unbundled deployment would: the
 * honest baseline, because importing through tsx would add the TypeScript loader's own cost.
 *
 * Both run with `--enable-source-maps` (the stack's NODE_OPTIONS). KMS is a loopback stub
 * answering GetPublicKey; the first request of each handler needs no other AWS call (an invalid
 * token request, the JWKS, the metadata, revocation of a malformed token, introspection of one,
 * an admin revocation without parameters). Time is measured inside the child from the process's
 * time origin, so it includes Node's own start-up (the `node` row gives that alone).
 */
export interface ColdStartRow {
  readonly handler: string;
  readonly bundleBytes: number;
  readonly mapBytes: number;
  /** Medians, milliseconds since the process's time origin. */
  readonly bundledImportMs: number;
  readonly bundledFirstMs: number;
  readonly unbundledImportMs: number;
  readonly unbundledFirstMs: number;
  /** The bundle without `--enable-source-maps`: what the stack's NODE_OPTIONS cost. */
  readonly bundledNoMapsFirstMs: number;
  /** bundledFirstMs / unbundledFirstMs. */
  readonly ratio: number;
}

export interface ColdStartResult {
  readonly rows: readonly ColdStartRow[];
  /** A bare `node -e` process: the part of every number above that is Node itself. */
  readonly nodeStartMs: number;
  readonly samples: number;
  readonly target: string;
}

export interface ColdStartOptions {
  readonly samples: number;
  readonly log?: (line: string) => void;
}

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const WORK = join(ROOT, 'node_modules', '.cache', 'sts-bench', 'cold-start');
const KEY_ARN = 'arn:aws:kms:us-east-1:111122223333:key/00000000-0000-4000-8000-000000000000';

/** The first request of each handler, answered without any AWS call but GetPublicKey. */
const FIRST_REQUEST: Readonly<Record<string, { body?: string; status: number }>> = {
  token: { body: 'grant_type=bench', status: 400 },
  jwks: { status: 200 },
  metadata: { status: 200 },
  revoke: { body: 'token=not.a.jwt', status: 200 },
  introspect: { body: 'token=not.a.jwt', status: 200 },
  'admin-revoke': { body: '', status: 400 },
  // The prober is off in the benchmark's environment: the route answers 404 without any AWS call.
  'prober-jwks': { status: 404 },
};

function firstEvent(handler: string): { event: unknown; status: number } {
  const route = ROUTES.find((candidate) => candidate.handler === handler);
  const request = FIRST_REQUEST[handler];
  if (!route || !request) throw new Error(`no first request defined for handler ${handler}`);
  const now = Date.now();
  const event = {
    version: '2.0',
    routeKey: `${route.method} ${route.path}`,
    rawPath: route.path,
    rawQueryString: '',
    headers: route.method === 'POST' ? { 'content-type': 'application/x-www-form-urlencoded' } : {},
    requestContext: {
      accountId: '111122223333',
      apiId: 'bench',
      domainName: 'sts.example.com',
      domainPrefix: 'sts',
      http: {
        method: route.method,
        path: route.path,
        protocol: 'HTTP/1.1',
        sourceIp: '127.0.0.1',
        userAgent: 'bench',
      },
      requestId: 'cold-start',
      routeKey: `${route.method} ${route.path}`,
      stage: '$default',
      time: new Date(now).toUTCString(),
      timeEpoch: now,
    },
    body: request.body === undefined ? undefined : Buffer.from(request.body).toString('base64'),
    isBase64Encoded: request.body !== undefined,
  };
  return { event, status: request.status };
}

/** Runs in the fresh process: import, first invocation, one result line. */
const DRIVER = `
const mod = await import(process.env.BENCH_MODULE);
const imported = performance.now();
let status = 0;
if (process.env.BENCH_EVENT) {
  const context = { awsRequestId: 'cold-start', functionName: 'bench', getRemainingTimeInMillis: () => 30000 };
  status = (await mod.handler(JSON.parse(process.env.BENCH_EVENT), context)).statusCode;
}
const first = performance.now();
process.stdout.write('\\n@@cold ' + JSON.stringify({ imported, first, status }) + '\\n');
`;

function listTs(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? listTs(join(dir, entry.name))
      : entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')
        ? [join(dir, entry.name)]
        : [],
  );
}

async function buildAll(): Promise<{ target: string }> {
  // Imported here, not at the top: cdk/bundling.ts loads aws-cdk-lib, which the other
  // benchmarks should not carry in their heap.
  const { ESBUILD_OPTIONS } = await import('../cdk/bundling.ts');
  rmSync(WORK, { recursive: true, force: true });
  mkdirSync(WORK, { recursive: true });
  for (const handler of HANDLERS) {
    await build({
      ...ESBUILD_OPTIONS,
      absWorkingDir: ROOT,
      entryPoints: { index: join(ROOT, 'lambdas', `${handler}.ts`) },
      outdir: join(WORK, 'bundled', handler),
    });
  }
  const unbundled = join(WORK, 'unbundled');
  const sources = [...listTs(join(ROOT, 'lib')), ...listTs(join(ROOT, 'lambdas'))];
  await build({
    absWorkingDir: ROOT,
    entryPoints: sources,
    outdir: unbundled,
    outbase: ROOT,
    bundle: false,
    platform: 'node',
    format: 'esm',
    target: ESBUILD_OPTIONS.target,
    logLevel: 'warning',
  });
  writeFileSync(join(unbundled, 'package.json'), '{ "type": "module" }\n');
  for (const source of sources) {
    const file = join(unbundled, relative(ROOT, source)).replace(/\.ts$/, '.js');
    const code = readFileSync(file, 'utf8').replace(/(["'])(\.\.?\/[^"'\n]*?)\.ts\1/g, '$1$2.js$1');
    writeFileSync(file, code);
  }
  copyFileSync(join(ROOT, 'cdk', 'example.sts.config.json'), join(WORK, 'sts.config.json'));
  return { target: ESBUILD_OPTIONS.target };
}

/** A loopback stand-in for KMS that answers GetPublicKey for one P-256 key. */
async function startKmsStub(): Promise<{ url: string; close(): Promise<void> }> {
  const spki = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({
    format: 'der',
    type: 'spki',
  });
  const answer = JSON.stringify({
    KeyId: KEY_ARN,
    KeySpec: 'ECC_NIST_P256',
    KeyUsage: 'SIGN_VERIFY',
    SigningAlgorithms: ['ECDSA_SHA_256'],
    PublicKey: spki.toString('base64'),
  });
  const server = createServer((request, response) => {
    request.resume();
    request.on('end', () => {
      if (request.headers['x-amz-target'] !== 'TrentService.GetPublicKey') {
        response.writeHead(400, { 'content-type': 'application/x-amz-json-1.1' });
        return response.end('{"__type":"UnsupportedOperationException"}');
      }
      response.writeHead(200, { 'content-type': 'application/x-amz-json-1.1' });
      response.end(answer);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

interface Sample {
  readonly imported: number;
  readonly first: number;
  readonly status: number;
}

const BARE =
  "process.stdout.write('\\n@@cold ' + JSON.stringify({ imported: 0, first: performance.now(), status: 0 }) + '\\n');";

function runFresh(
  module: string | undefined,
  event: unknown,
  env: NodeJS.ProcessEnv,
  sourceMaps = true,
): Promise<Sample> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [...(sourceMaps ? ['--enable-source-maps'] : []), '--input-type=module', '-e', module ? DRIVER : BARE],
      {
        cwd: WORK,
        env: {
          ...env,
          BENCH_MODULE: module ?? '',
          BENCH_EVENT: event === undefined ? '' : JSON.stringify(event),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4000);
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      const line = stdout.split('\n').find((text) => text.startsWith('@@cold '));
      if (code !== 0 || !line)
        return reject(new Error(`cold start of ${module} failed (${code}):\n${stderr}`));
      resolve(JSON.parse(line.slice('@@cold '.length)) as Sample);
    });
  });
}

export async function benchColdStart(options: ColdStartOptions): Promise<ColdStartResult> {
  const { target } = await buildAll();
  const kms = await startKmsStub();
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: WORK, // no ~/.aws files: the SDK sees only the variables below
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE',
    AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_ENDPOINT_URL_KMS: kms.url,
    // Never called by these first requests; a closed port makes any call fail fast, and visibly.
    AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:9',
    STS_CONFIG: join(WORK, 'sts.config.json'),
    STS_SIGNER: 'kms',
    STS_KMS_KEY_IDS: KEY_ARN,
    STS_TABLE_NAME: 'sts-bench',
    STS_LOG_LEVEL: 'info',
  };
  const url = (path: string) => pathToFileURL(path).href;
  const variants = HANDLERS.map((handler) => ({
    handler,
    bundled: url(join(WORK, 'bundled', handler, 'index.mjs')),
    unbundled: url(join(WORK, 'unbundled', 'lambdas', `${handler}.js`)),
    ...firstEvent(handler),
  }));
  const times = new Map<string, Sample[]>();
  const record = (key: string, sample: Sample) => times.set(key, [...(times.get(key) ?? []), sample]);
  const nodeStart: number[] = [];
  try {
    // Sample 0 warms the file cache and is discarded; bundled and unbundled alternate.
    for (let sample = 0; sample <= options.samples; sample++) {
      nodeStart.push((await runFresh(undefined, undefined, env)).first);
      for (const variant of variants) {
        const kinds = ['bundled', 'unbundled', 'bundledNoMaps'] as const;
        const order = sample % 2 ? [...kinds].reverse() : kinds;
        for (const kind of order) {
          const module = kind === 'unbundled' ? variant.unbundled : variant.bundled;
          const result = await runFresh(module, variant.event, env, kind !== 'bundledNoMaps');
          if (result.status !== variant.status) {
            throw new Error(
              `${kind} ${variant.handler}: status ${result.status}, expected ${variant.status}`,
            );
          }
          if (sample > 0) record(`${variant.handler}:${kind}`, result);
        }
      }
      if (sample > 0) options.log?.(`  cold start sample ${sample}/${options.samples} done`);
    }
  } finally {
    await kms.close();
  }
  const rows = variants.map(({ handler }) => {
    const bundled = times.get(`${handler}:bundled`) ?? [];
    const unbundled = times.get(`${handler}:unbundled`) ?? [];
    const bundle = join(WORK, 'bundled', handler, 'index.mjs');
    const bundledFirstMs = median(bundled.map((s) => s.first));
    const unbundledFirstMs = median(unbundled.map((s) => s.first));
    return {
      handler,
      bundleBytes: statSync(bundle).size,
      mapBytes: statSync(`${bundle}.map`).size,
      bundledImportMs: median(bundled.map((s) => s.imported)),
      bundledFirstMs,
      unbundledImportMs: median(unbundled.map((s) => s.imported)),
      unbundledFirstMs,
      bundledNoMapsFirstMs: median((times.get(`${handler}:bundledNoMaps`) ?? []).map((s) => s.first)),
      ratio: bundledFirstMs / unbundledFirstMs,
    };
  });
  return { rows, nodeStartMs: median(nodeStart.slice(1)), samples: options.samples, target };
}
