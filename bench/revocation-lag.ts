import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadSettings } from '../lib/config/settings.ts';
import { type AccessTokenVerifier, createAccessTokenVerifier } from '../lib/verify/verifier.ts';
import { type LocalServer, startLocalServer } from '../local/server.ts';

/**
 * Revocation lag: how long after a revocation is sent the first refusal is seen, through the
 * introspection endpoint and through the downstream verifier (revocation checked through
 * introspection) with and without its cache. Runs the local server in-process on a loopback
 * port (temporary data directory, embedded dynalite, development issuer); every wait is bounded.
 *
 *   npx tsx bench/revocation-lag.ts [samples] [maxStaleMs]
 */
export interface RevocationLagOptions {
  /** Tokens measured per path (default 5). */
  readonly samples?: number;
  /** `maxStaleMs` of the cached verifier (default 5000, the verifier's default). */
  readonly maxStaleMs?: number;
  /** Milliseconds between polls once the revocation is sent (default 10). */
  readonly pollMs?: number;
}

export interface LagStats {
  readonly samples: number;
  readonly minMs: number;
  readonly medianMs: number;
  readonly meanMs: number;
  readonly maxMs: number;
}

export interface RevocationLagResult {
  /** Round trip of POST /revoke. */
  readonly revokeCall: LagStats;
  /** Revocation sent -> first `{"active":false}` from POST /introspect. */
  readonly introspection: LagStats;
  /** Revocation sent -> first refusal by the verifier checking introspection on every call. */
  readonly verifierUncached: LagStats;
  /** Revocation sent -> first refusal by the verifier with a `maxStaleMs` cache, at a random phase. */
  readonly verifierCached: LagStats;
  readonly maxStaleMs: number;
}

const AUDIENCE = 'https://api.example.local';
const EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const JWT = 'urn:ietf:params:oauth:token-type:jwt';

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));
const round = (ms: number) => Math.round(ms * 10) / 10;

export function lagStats(values: readonly number[]): LagStats {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return {
    samples: sorted.length,
    minMs: round(sorted[0] ?? Number.NaN),
    medianMs: round(median),
    meanMs: round(sorted.reduce((sum, value) => sum + value, 0) / sorted.length),
    maxMs: round(sorted[sorted.length - 1] ?? Number.NaN),
  };
}

interface Sts {
  readonly server: LocalServer;
  readonly admin: Record<string, string>;
  post(path: string, form: Record<string, string>, headers?: Record<string, string>): Promise<Response>;
  issue(sub: string): Promise<string>;
}

async function openSts(): Promise<Sts & { close(): Promise<void> }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'sts-revocation-lag-'));
  const adminToken = randomBytes(24).toString('base64url');
  const settings = loadSettings({
    PORT: '0',
    HOST: '127.0.0.1',
    STS_DATA_DIR: dataDir,
    STS_LOG_LEVEL: 'silent',
    STS_ADMIN_TOKEN: adminToken,
  });
  let server: LocalServer;
  try {
    server = await startLocalServer({ settings });
  } catch (error) {
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  }
  const post = (path: string, form: Record<string, string>, headers: Record<string, string> = {}) =>
    fetch(`${server.url}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams(form).toString(),
      signal: AbortSignal.timeout(5000),
    });
  return {
    server,
    admin: { authorization: `Bearer ${adminToken}` },
    post,
    async issue(sub) {
      const subjectToken = await server.devIssuer.mint({ sub, aud: server.url });
      const response = await post('/token', {
        grant_type: EXCHANGE,
        subject_token: subjectToken,
        subject_token_type: JWT,
        audience: AUDIENCE,
        scope: 'read',
      });
      if (response.status !== 200) throw new Error(`token exchange failed: HTTP ${response.status}`);
      return ((await response.json()) as { access_token: string }).access_token;
    },
    async close() {
      await server.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

interface Sample {
  readonly lagMs: number;
  readonly revokeMs: number;
}

/**
 * Revokes `token` and polls `accepted` until it first says no, starting with the revocation so
 * a refusal visible before the revocation's response returns is counted too.
 */
async function measure(
  sts: Sts,
  token: string,
  accepted: (token: string) => Promise<boolean>,
  pollMs: number,
  deadlineMs: number,
): Promise<Sample> {
  const started = performance.now();
  const revoked = sts.post('/revoke', { token }).then(async (response) => {
    await response.body?.cancel();
    if (response.status !== 200) throw new Error(`revoke failed: HTTP ${response.status}`);
    return performance.now() - started;
  });
  revoked.catch(() => {}); // awaited below; this only keeps an early exit from leaving it unhandled
  for (;;) {
    if (!(await accepted(token))) {
      const lagMs = performance.now() - started;
      return { lagMs, revokeMs: await revoked };
    }
    if (performance.now() - started > deadlineMs) throw new Error(`no refusal within ${deadlineMs} ms`);
    await sleep(pollMs);
  }
}

const verifies = (verifier: AccessTokenVerifier) => async (token: string) => {
  try {
    await verifier.verify(token);
    return true;
  } catch (error) {
    if ((error as { code?: string }).code === 'invalid_token') return false;
    throw error;
  }
};

export async function measureRevocationLag(options: RevocationLagOptions = {}): Promise<RevocationLagResult> {
  const samples = Math.max(1, Math.min(options.samples ?? 5, 50));
  const maxStaleMs = Math.max(0, Math.min(options.maxStaleMs ?? 5000, 60_000));
  const pollMs = Math.max(1, options.pollMs ?? 10);
  const deadlineMs = maxStaleMs + 10_000;
  const sts = await openSts();
  try {
    const verifier = (staleness: number) =>
      createAccessTokenVerifier({
        issuer: sts.server.url,
        audience: AUDIENCE,
        revocation: { via: 'introspection', headers: sts.admin, maxStaleMs: staleness },
      });
    const introspects = async (token: string) => {
      const response = await sts.post('/introspect', { token }, sts.admin);
      if (response.status !== 200) throw new Error(`introspection failed: HTTP ${response.status}`);
      return ((await response.json()) as { active?: unknown }).active === true;
    };

    // Warm-up: the first exchange and verification load keys, discovery and connections.
    const uncached = verifier(0);
    const cached = verifier(maxStaleMs);
    await Promise.all([uncached.ready(), cached.ready()]);
    await verifies(uncached)(await sts.issue('warm-up'));

    const introspection: Sample[] = [];
    const direct: Sample[] = [];
    for (let i = 0; i < samples; i++) {
      introspection.push(
        await measure(sts, await sts.issue(`introspect-${i}`), introspects, pollMs, deadlineMs),
      );
      direct.push(
        await measure(sts, await sts.issue(`uncached-${i}`), verifies(uncached), pollMs, deadlineMs),
      );
    }

    // The cached verifier: its answer for a token is reused for maxStaleMs, so the lag depends on
    // when in that window the revocation lands. Samples run side by side, each at a random phase.
    const tokens = await Promise.all(Array.from({ length: samples }, (_, i) => sts.issue(`cached-${i}`)));
    const withCache = await Promise.all(
      tokens.map(async (token) => {
        if (!(await verifies(cached)(token))) throw new Error('fresh token refused');
        await sleep(Math.random() * maxStaleMs);
        return measure(sts, token, verifies(cached), pollMs, deadlineMs);
      }),
    );

    return {
      revokeCall: lagStats([...introspection, ...direct, ...withCache].map((sample) => sample.revokeMs)),
      introspection: lagStats(introspection.map((sample) => sample.lagMs)),
      verifierUncached: lagStats(direct.map((sample) => sample.lagMs)),
      verifierCached: lagStats(withCache.map((sample) => sample.lagMs)),
      maxStaleMs,
    };
  } finally {
    await sts.close();
  }
}

export function formatRevocationLag(result: RevocationLagResult): string {
  const row = (name: string, stats: LagStats) =>
    `${name.padEnd(46)} ${[stats.minMs, stats.medianMs, stats.meanMs, stats.maxMs]
      .map((value) => value.toFixed(1).padStart(9))
      .join('')}   n=${stats.samples}`;
  return [
    `revocation lag (ms; local server, loopback, embedded dynalite; verifier maxStaleMs=${result.maxStaleMs})`,
    `${''.padEnd(46)} ${['min', 'median', 'mean', 'max'].map((h) => h.padStart(9)).join('')}`,
    row('POST /revoke round trip', result.revokeCall),
    row('revoke -> first refusal: POST /introspect', result.introspection),
    row('revoke -> first refusal: verifier, no cache', result.verifierUncached),
    row(`revoke -> first refusal: verifier, ${result.maxStaleMs} ms cache`, result.verifierCached),
  ].join('\n');
}

async function main(): Promise<void> {
  const [samples, maxStaleMs] = process.argv.slice(2).map(Number);
  const result = await measureRevocationLag({
    samples: Number.isFinite(samples) ? samples : undefined,
    maxStaleMs: Number.isFinite(maxStaleMs) ? maxStaleMs : undefined,
  });
  process.stdout.write(`${formatRevocationLag(result)}\n`);
}

if (process.argv[1] && pathToFileURL(resolve(process.argv[1])).href === import.meta.url) {
  main().catch((error: unknown) => {
    process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
    process.exitCode = 1;
  });
}
