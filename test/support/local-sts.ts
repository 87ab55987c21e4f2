import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSettings } from '../../lib/config/settings.ts';
import { type LocalServer, startLocalServer } from '../../local/server.ts';

/**
 * The local server in-process on a loopback port of its own, with a temporary data directory,
 * the development config, silent logs and a known admin token; plus a scriptable stand-in
 * server for faults the real one does not produce on demand.
 */
export const ADMIN_TOKEN = 'test-admin-token-0123456789';

export interface TestSts {
  readonly server: LocalServer;
  readonly url: string;
  /** A development subject token (aud: the server, which the dev config accepts). */
  subjectToken(sub?: string, claims?: Record<string, unknown>): Promise<string>;
  close(): Promise<void>;
}

export async function startTestSts(): Promise<TestSts> {
  const dataDir = mkdtempSync(join(tmpdir(), 'sts-client-'));
  const settings = loadSettings({
    PORT: '0',
    STS_DATA_DIR: dataDir,
    STS_LOG_LEVEL: 'silent',
    STS_ADMIN_TOKEN: ADMIN_TOKEN,
  });
  const server = await startLocalServer({ settings });
  return {
    server,
    url: server.url,
    subjectToken: (sub = 'alice', claims = {}) => server.devIssuer.mint({ sub, aud: server.url, claims }),
    async close() {
      await server.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface ScriptedReply {
  readonly status: number;
  readonly headers?: Record<string, string>;
  readonly body?: unknown;
}

export interface StandIn {
  readonly url: string;
  /** Every request received, with its parsed form and authorization header. */
  readonly requests: Array<{
    method: string;
    path: string;
    query: URLSearchParams;
    form: URLSearchParams;
    authorization: string | undefined;
  }>;
  /** Replies served in order; the last one repeats. */
  script(path: string, replies: ScriptedReply[]): void;
  close(): Promise<void>;
}

/** A loopback HTTP server answering each path from a script of replies (fault injection). */
export async function startStandIn(): Promise<StandIn> {
  const scripts = new Map<string, ScriptedReply[]>();
  const requests: StandIn['requests'] = [];
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const { pathname: path, searchParams: query } = new URL(request.url ?? '/', 'http://x');
      requests.push({
        method: request.method ?? 'GET',
        path,
        query,
        form: new URLSearchParams(Buffer.concat(chunks).toString()),
        authorization: request.headers.authorization,
      });
      const script = scripts.get(path) ?? [{ status: 404, body: { message: 'Not Found' } }];
      const reply = script.length > 1 ? script.shift()! : script[0]!;
      const body = typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body ?? {});
      response.writeHead(reply.status, { 'Content-Type': 'application/json', ...reply.headers });
      response.end(reply.status === 200 && reply.body === undefined ? '' : body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    script: (path, replies) => {
      scripts.set(path, [...replies]);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
