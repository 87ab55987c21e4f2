import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { JWK } from 'jose';
import { loadSettings } from '../lib/config/settings.ts';
import { createLogger } from '../lib/shared/log.ts';
import { MemoryStore } from '../lib/stores/memory.ts';
import { startLocalServer } from '../local/server.ts';
import { benchConfig, jwksFetch } from './fixtures.ts';
import { startPeer } from './peer-oidc-provider.ts';

/**
 * One server under test, in a process of its own (forked by bench/http.ts, so the load
 * generator never shares its event loop): our local server with MemoryStore or with its default
 * embedded dynalite, or the oidc-provider peer. Answers `{ url }` over IPC once listening and
 * exits when the parent disconnects.
 *
 * Our server runs as `npm start` does (local ES256 key in a fresh data directory), except that
 * the subject issuer's JWKS comes through an injected fetch and the audit log is serialized at
 * level info but written to a no-op sink instead of stdout.
 */
export type TargetKind = 'memory' | 'dynalite' | 'peer';

export interface TargetSpec {
  readonly kind: TargetKind;
  /** The subject issuer's public JWK (ours) or the client's public JWK (the peer). */
  readonly jwk: JWK;
}

async function start(spec: TargetSpec): Promise<{ url: string; close(): Promise<void> }> {
  if (spec.kind === 'peer') return startPeer(spec.jwk);
  const dataDir = mkdtempSync(join(tmpdir(), 'sts-bench-'));
  const settings = loadSettings({
    PORT: '0',
    HOST: '127.0.0.1',
    STS_DATA_DIR: dataDir,
    STS_LOG_LEVEL: 'info',
  });
  const server = await startLocalServer({
    settings,
    config: benchConfig(),
    store: spec.kind === 'memory' ? new MemoryStore() : undefined,
    logger: createLogger('info', () => {}),
    fetch: jwksFetch([spec.jwk]),
  });
  return {
    url: server.url,
    async close() {
      await server.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function main(): Promise<void> {
  const spec = JSON.parse(process.argv[2] ?? '') as TargetSpec;
  const target = await start(spec);
  let closing = false;
  const stop = () => {
    if (closing) return;
    closing = true;
    // Bounded: a connection the load generator left open must not keep this process alive.
    setTimeout(() => process.exit(0), 5000).unref();
    target.close().finally(() => process.exit(0));
  };
  process.on('disconnect', stop);
  process.on('SIGTERM', stop);
  process.send?.({ url: target.url });
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
