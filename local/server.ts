// The local server: turns HTTP requests into API Gateway v2 events for the very handlers that
// run in Lambda (found through the shared route table), with a local signer, an embedded
// DynamoDB-compatible store and a built-in development issuer.

import { timingSafeEqual } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Context } from 'aws-lambda';
import type { Event, Result } from '../lambdas/http.ts';
import { findRoute, ROUTES, type Route } from '../lambdas/routes.ts';
import { createRuntime, type Runtime } from '../lambdas/runtime.ts';
import { type Config, ConfigError, loadConfigFile } from '../lib/config/config.ts';
import { loadSettings, type Settings } from '../lib/config/settings.ts';
import type { Clock } from '../lib/shared/clock.ts';
import { systemClock } from '../lib/shared/clock.ts';
import type { MetricsWriter } from '../lib/shared/emf.ts';
import type { Logger } from '../lib/shared/log.ts';
import { quietSdkNodeNotice } from '../lib/shared/sdk-notice.ts';
import { loadOrCreateLocalSigner } from '../lib/signers/local.ts';
import type { Signer } from '../lib/signers/signer.ts';
import { DynamoStore } from '../lib/stores/dynamodb.ts';
import { ensureTable } from '../lib/stores/dynamodb-table.ts';
import type { TokenStore } from '../lib/stores/store.ts';
import { createLocalServerSigner } from './data-key-local.ts';
import { devConfig, devConfigFile } from './dev-config.ts';
import { createDevIssuer, DEV_ISSUER_PATH, type DevIssuer } from './dev-issuer.ts';
import { type EmbeddedDynamo, localDynamoClient, startEmbeddedDynamo } from './embedded-dynamodb.ts';

const MAX_BODY_BYTES = 10 * 1024 * 1024; // API Gateway's payload limit

type LambdaHandler = (event: Event, context: Context) => Promise<Result>;

export interface LocalServerOptions {
  readonly settings?: Settings;
  /** Overrides STS_CONFIG / the development config. Receives the server's base URL. */
  readonly config?: Config | ((base: string) => Config);
  readonly signer?: Signer;
  readonly store?: TokenStore;
  readonly clock?: Clock;
  readonly logger?: Logger;
  readonly fetch?: typeof fetch;
  /** Called once the port is open (requests get 503 + Retry-After until the server is ready). */
  readonly onListening?: (url: string) => void;
  /** Where EMF metric lines go (tests); default none locally. */
  readonly metrics?: MetricsWriter;
}

export interface LocalServer {
  readonly url: string;
  readonly runtime: Runtime;
  readonly devIssuer: DevIssuer;
  /** Whether the development config is in use. */
  readonly usingDevConfig: boolean;
  /** The DynamoDB endpoint of the token records, when they are in one (embedded or yours). */
  readonly storeEndpoint: string | undefined;
  /** With the development config: the same config as a file under STS_DATA_DIR, for `sts explain`. */
  readonly devConfigPath: string | undefined;
  /** Whether `/dev/*` answers: with the development config, or a config trusting `<url>/dev`. */
  readonly devIssuerTrusted: boolean;
  close(): Promise<void>;
}

const lambdaContext = (requestId: string): Context =>
  ({
    awsRequestId: requestId,
    functionName: 'local',
    getRemainingTimeInMillis: () => 30_000,
  }) as Context;

function toEvent(request: IncomingMessage, url: URL, route: Route, body: Buffer, requestId: string): Event {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(',') : value;
  }
  const now = Date.now();
  return {
    version: '2.0',
    routeKey: `${route.method} ${route.path}`,
    rawPath: url.pathname,
    rawQueryString: url.search.slice(1),
    headers,
    queryStringParameters: url.search ? Object.fromEntries(url.searchParams) : undefined,
    requestContext: {
      accountId: 'local',
      apiId: 'local',
      domainName: url.host,
      domainPrefix: url.hostname,
      http: {
        method: route.method,
        path: url.pathname,
        protocol: `HTTP/${request.httpVersion}`,
        sourceIp: request.socket.remoteAddress ?? '127.0.0.1',
        userAgent: request.headers['user-agent'] ?? '',
      },
      requestId,
      routeKey: `${route.method} ${route.path}`,
      stage: '$default',
      time: new Date(now).toUTCString(),
      timeEpoch: now,
    },
    body: body.length > 0 ? body.toString('base64') : undefined,
    isBase64Encoded: body.length > 0,
  };
}

/** Locally, IAM-protected routes take `Authorization: Bearer $STS_ADMIN_TOKEN`; closed when unset. */
export function adminAuthorized(adminToken: string | undefined, authorization: string | undefined): boolean {
  if (!adminToken || !authorization?.startsWith('Bearer ')) return false;
  const given = Buffer.from(authorization.slice('Bearer '.length));
  const expected = Buffer.from(adminToken);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function send(response: ServerResponse, status: number, headers: Record<string, string>, body: string): void {
  response.writeHead(status, { ...headers, 'Content-Length': Buffer.byteLength(body) });
  response.end(body);
}

async function readBody(request: IncomingMessage): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/** The port is taken: says which, and how to choose another. */
export class PortInUseError extends Error {
  override readonly name = 'PortInUseError';
  constructor(
    readonly host: string,
    readonly port: number,
  ) {
    super(
      `port ${port} on ${host} is already in use (another \`npm start\`?). Stop that process, or choose another port: PORT=${port === 8787 ? 8788 : port + 1} npm start`,
    );
  }
}

/** Answers a request that arrives before the server is ready: 503 with Retry-After, never silence. */
function starting(request: IncomingMessage, response: ServerResponse): void {
  request.resume();
  send(
    response,
    503,
    { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', 'Retry-After': '1' },
    '{"error":"temporarily_unavailable","error_description":"the server is starting, retry shortly"}',
  );
}

export async function startLocalServer(options: LocalServerOptions = {}): Promise<LocalServer> {
  const settings = options.settings ?? loadSettings();
  // The request listener is attached before the port opens: from the first connection on, every
  // request is answered (503 + Retry-After until the handlers are ready), none hangs.
  let serve: (request: IncomingMessage, response: ServerResponse) => void = starting;
  const server: Server = createServer((request, response) => serve(request, response));
  await new Promise<void>((done, fail) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      fail(error.code === 'EADDRINUSE' ? new PortInUseError(settings.host, settings.port) : error),
    );
    server.listen(settings.port, settings.host, () => done());
  });
  const { port } = server.address() as AddressInfo;
  const host = settings.host === '0.0.0.0' || settings.host === '::' ? '127.0.0.1' : settings.host;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  options.onListening?.(url);

  let embedded: EmbeddedDynamo | undefined;
  const closeAll = async () => {
    await new Promise<void>((done) => server.close(() => done()));
    await embedded?.close();
  };
  try {
    const usingDevConfig = !options.config && !settings.configPath;
    const config =
      typeof options.config === 'function'
        ? options.config(url)
        : (options.config ?? (settings.configPath ? loadConfigFile(settings.configPath) : devConfig(url)));
    let store = options.store;
    let dynamodb: DynamoDBClient | undefined;
    let storeEndpoint: string | undefined;
    if (!store) {
      let endpoint = settings.dynamodbEndpoint;
      if (!endpoint) {
        embedded = await startEmbeddedDynamo(join(settings.dataDir, 'dynamodb'));
        endpoint = embedded.endpoint;
      }
      storeEndpoint = endpoint;
      const client = localDynamoClient(endpoint);
      await ensureTable(client, settings.tableName);
      store = new DynamoStore({ client, tableName: settings.tableName });
      dynamodb = client;
    }
    const signer =
      options.signer ??
      (await createLocalServerSigner(settings, config, dynamodb, options.clock ?? systemClock));
    // STS_PROBER=on: the prober issuer's key is a local one (lib/ops/prober-issuer.ts).
    const proberSigner = settings.prober
      ? await loadOrCreateLocalSigner(join(settings.dataDir, 'prober-key.ES256.json'), 'ES256')
      : undefined;
    const runtime = createRuntime({ ...options, settings, config, signer, store, proberSigner });
    const devIssuer = await createDevIssuer(
      url,
      join(settings.dataDir, 'dev-issuer-key.json'),
      config.issuer,
    );

    const devIssuerTrusted =
      usingDevConfig || config.trustedIssuers.some((trusted) => trusted.issuer === devIssuer.issuer);
    // `sts explain` reads a policy file: the development config is written out as one.
    const devConfigPath = usingDevConfig ? join(settings.dataDir, 'dev.sts.config.json') : undefined;
    if (devConfigPath) writeFileSync(devConfigPath, `${JSON.stringify(devConfigFile(url), null, 2)}\n`);

    const handlers = new Map<string, LambdaHandler>();
    for (const route of ROUTES) {
      const module = (await import(`../lambdas/${route.handler}.ts`)) as {
        createHandler: (provider: () => Promise<Runtime>) => LambdaHandler;
      };
      if (!handlers.has(route.handler))
        handlers.set(
          route.handler,
          module.createHandler(async () => runtime),
        );
    }

    let sequence = 0;
    serve = (request: IncomingMessage, response: ServerResponse) => {
      void (async () => {
        const requestId = `local-${Date.now().toString(36)}-${(sequence++).toString(36)}`;
        try {
          const target = new URL(request.url ?? '/', url);
          const body = await readBody(request);
          if (!body)
            return send(
              response,
              413,
              { 'Content-Type': 'application/json' },
              '{"message":"Request Entity Too Large"}',
            );
          // The development issuer answers only beside a config that trusts it: the development
          // config, or yours when it lists `<url>/dev` among its trustedIssuers.
          const dev =
            devIssuerTrusted && target.pathname.startsWith(`${DEV_ISSUER_PATH}/`)
              ? await devIssuer.route(
                  request.method ?? 'GET',
                  target.pathname,
                  new URLSearchParams(body.toString()),
                )
              : undefined;
          if (dev)
            return send(
              response,
              dev.status,
              { 'Content-Type': dev.type, 'Cache-Control': 'no-store' },
              dev.body,
            );
          const route = findRoute(request.method ?? '', target.pathname);
          if (!route)
            return send(response, 404, { 'Content-Type': 'application/json' }, '{"message":"Not Found"}');
          if (route.auth === 'iam' && !adminAuthorized(settings.adminToken, request.headers.authorization)) {
            const error = { error: 'invalid_client', error_description: 'client authentication failed' };
            return send(
              response,
              401,
              {
                'Content-Type': 'application/json',
                'Cache-Control': 'no-store',
                'WWW-Authenticate': 'Bearer realm="sts"',
              },
              JSON.stringify(error),
            );
          }
          const handler = handlers.get(route.handler)!;
          const result = await handler(
            toEvent(request, target, route, body, requestId),
            lambdaContext(requestId),
          );
          const headers = Object.fromEntries(
            Object.entries(result.headers ?? {}).map(([k, v]) => [k, String(v)]),
          );
          send(response, result.statusCode ?? 200, headers, result.body ?? '');
        } catch (error) {
          runtime.logger.error('local.request_failed', { requestId, cause: error });
          if (!response.headersSent)
            send(response, 500, { 'Content-Type': 'application/json' }, '{"error":"server_error"}');
        }
      })();
    };

    return {
      url,
      runtime,
      devIssuer,
      usingDevConfig,
      devConfigPath,
      devIssuerTrusted,
      storeEndpoint,
      close: closeAll,
    };
  } catch (error) {
    await closeAll();
    throw error;
  }
}

/** Where the token records are, for the banner. */
function storeInWords(local: LocalServer): string {
  const { dynamodbEndpoint, dataDir, tableName } = local.runtime.settings;
  if (local.storeEndpoint === undefined) return 'a store given by the caller';
  if (dynamodbEndpoint) return `DynamoDB at ${dynamodbEndpoint}, table ${tableName}`;
  return `embedded dynalite at ${local.storeEndpoint} (data in ${join(dataDir, 'dynamodb')}; set AWS_ENDPOINT_URL_DYNAMODB for your own)`;
}

function banner(local: LocalServer): string {
  const { url } = local;
  const audience = local.usingDevConfig ? 'https://api.example.local' : '<an audience your policy allows>';
  const lines = [
    `STS listening on ${url}  (issuer ${local.runtime.config.issuer})`,
    `  JWKS:      ${url}/.well-known/jwks.json`,
    `  metadata:  ${url}/.well-known/openid-configuration`,
    `  store:     ${storeInWords(local)}`,
    '',
  ];
  if (local.usingDevConfig) {
    lines.push(
      'Development config in use (set STS_CONFIG to use your own). Try it:',
      '',
      `  SUBJECT=$(curl -s -X POST ${url}/dev/token -d sub=alice)`,
      `  ACCESS=$(curl -s ${url}/token \\`,
      '      -d grant_type=urn:ietf:params:oauth:grant-type:token-exchange \\',
      '      -d subject_token_type=urn:ietf:params:oauth:token-type:jwt \\',
      `      -d subject_token="$SUBJECT" -d audience=${audience} -d scope=read \\`,
      `      | node -pe 'JSON.parse(require("fs").readFileSync(0)).access_token')`,
      `  node -pe 'JSON.parse(Buffer.from(process.argv[1].split(".")[1], "base64url"))' "$ACCESS"`,
      '',
      `This config is written to ${local.devConfigPath} for sts explain (why a request is admitted or not):`,
      '',
      `  npx sts explain --config ${local.devConfigPath} --token "$SUBJECT" --audience ${audience} --scope read`,
      '',
      ...(local.storeEndpoint
        ? [
            'For a token of this service (chained), explain reads its TOKEN# record from this store: prefix',
            `  AWS_ENDPOINT_URL_DYNAMODB=${local.storeEndpoint} and add --table ${local.runtime.settings.tableName}`,
            '',
          ]
        : []),
    );
  }
  if (!local.usingDevConfig) {
    lines.push(
      `Your config (STS_CONFIG) is in use; the built-in development issuer is ${local.devIssuerTrusted ? 'on: your config trusts it' : 'off'}.`,
      'Get a subject token from an issuer your config trusts,',
      local.devIssuerTrusted
        ? `or mint one here: npx sts dev-token --endpoint ${url} --sub alice`
        : `or trust the development issuer in it ({ "name": "dev", "issuer": "${local.devIssuer.issuer}" } in trustedIssuers)\n  and mint one with: npx sts dev-token --endpoint ${url} --sub alice`,
      '',
    );
  }
  if (local.runtime.settings.adminToken) {
    lines.push(
      'Admin routes (/introspect, /admin/revoke) take the bearer in STS_ADMIN_TOKEN:',
      '',
      `  curl -s ${url}/introspect -H "Authorization: Bearer $STS_ADMIN_TOKEN" -d token="$ACCESS"`,
      `  curl -s ${url}/admin/revoke -H "Authorization: Bearer $STS_ADMIN_TOKEN" -d iss=dev -d sub=alice`,
      '',
    );
  } else {
    lines.push(
      'Admin routes (/introspect, /admin/revoke) are closed: start with STS_ADMIN_TOKEN=<a secret> to open them',
      '  (then send Authorization: Bearer <that secret>).',
      '',
    );
  }
  lines.push('Ctrl-C stops the server.');
  return lines.join('\n');
}

async function main(): Promise<void> {
  quietSdkNodeNotice();
  let local: LocalServer;
  try {
    local = await startLocalServer({
      onListening: (url) => process.stdout.write(`STS starting on ${url} (answers 503 until ready)...\n`),
    });
  } catch (error) {
    if (error instanceof ConfigError || error instanceof PortInUseError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(2);
    }
    throw error;
  }
  process.stdout.write(`${banner(local)}\n`);
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    process.stdout.write('stopping...\n');
    local.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

if (process.argv[1] && pathToFileURL(resolve(process.argv[1])).href === import.meta.url) {
  void main();
}
