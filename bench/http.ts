import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { type BenchParties, clientCredentialsBody, exchangeBody, type TokenPool } from './fixtures.ts';
import type { TargetKind, TargetSpec } from './http-target.ts';
import { median, percentile } from './stats.ts';

/**
 * The local HTTP service under load, side by side with the oidc-provider peer: for each round,
 * each connection count and each target, a fresh server process (forked, so autocannon in this
 * process never shares its event loop), a warm-up, then a measured run. Every request carries a
 * distinct pre-minted RS256 token (subject token or client assertion); a fresh process starts
 * with an empty store, so the token pools are reused from their start by each run.
 *
 * Throughput counts 2xx answers over the measured time; latencies are every 2xx answer's time
 * as autocannon measured it (sub-millisecond resolution, not its 1 ms histogram buckets).
 */
export const TARGETS: readonly TargetKind[] = ['memory', 'dynalite', 'peer'];

export const TARGET_NAMES: Readonly<Record<TargetKind, string>> = {
  memory: 'ours, MemoryStore',
  dynalite: 'ours, embedded dynalite',
  peer: 'oidc-provider 9',
};

export interface HttpOptions {
  readonly connections: readonly number[];
  readonly rounds: number;
  readonly warmupSeconds: number;
  readonly seconds: number;
  readonly log?: (line: string) => void;
}

export interface RunResult {
  readonly target: TargetKind;
  readonly connections: number;
  readonly round: number;
  readonly requestsPerSecond: number;
  readonly p50: number;
  readonly p99: number;
  readonly ok: number;
  /** Non-2xx answers, connection errors and timeouts, warm-up included. */
  readonly failures: number;
  readonly measuredSeconds: number;
  /** The pool ran out before the planned end: the run was measured over a shorter time. */
  readonly shortened: boolean;
}

export interface HttpRow {
  readonly target: TargetKind;
  readonly connections: number;
  /** Medians over rounds. */
  readonly requestsPerSecond: number;
  readonly p50: number;
  readonly p99: number;
  readonly failures: number;
  readonly runs: number;
  readonly shortened: number;
}

interface Target {
  readonly url: string;
  stop(): Promise<void>;
}

const TARGET_MODULE = fileURLToPath(new URL('./http-target.ts', import.meta.url));

async function startTarget(spec: TargetSpec): Promise<Target> {
  // The child inherits this process's execArgv (tsx's loader), so it runs the TypeScript module.
  const child: ChildProcess = fork(TARGET_MODULE, [JSON.stringify(spec)], {
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${spec.kind}: not listening after 60 s`)), 60_000);
    child.once('message', (message: { url: string }) => {
      clearTimeout(timer);
      resolve(message.url);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${spec.kind} exited with ${code} before listening:\n${stderr}`));
    });
  }).catch((error: unknown) => {
    child.kill();
    throw error;
  });
  return {
    url,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        child.once('exit', () => {
          clearTimeout(timer);
          resolve();
        });
        child.disconnect();
      }),
  };
}

interface Phase {
  ok: number;
  failures: number;
  latencies: number[];
  seconds: number;
  exhausted: boolean;
}

/** One autocannon run; `next` hands out request bodies and returns undefined when none is left. */
function load(url: string, connections: number, seconds: number, next: () => string | undefined) {
  return new Promise<Phase>((resolve, reject) => {
    const phase: Phase = { ok: 0, failures: 0, latencies: [], seconds: 0, exhausted: false };
    const started = performance.now();
    const instance = autocannon(
      {
        url,
        connections,
        duration: seconds,
        pipelining: 1,
        timeout: 10,
        requests: [
          {
            method: 'POST',
            path: '/token',
            headers: { 'content-type': 'application/x-www-form-urlencoded' },
            setupRequest: (request) => {
              const body = next();
              if (body !== undefined) return { ...request, body };
              // Out of distinct tokens: end the run here. A request already built goes out without a
              // body and is refused; answers after this point are not counted as failures.
              if (!phase.exhausted) {
                phase.exhausted = true;
                instance.stop();
              }
              return request;
            },
          },
        ],
      },
      (error, result) => {
        if (error) return reject(error);
        phase.seconds = (performance.now() - started) / 1000;
        phase.failures += result.errors + result.timeouts;
        resolve(phase);
      },
    );
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      if (statusCode >= 200 && statusCode < 300) {
        phase.ok++;
        phase.latencies.push(responseTime);
      } else if (!phase.exhausted) {
        phase.failures++;
      }
    });
  });
}

async function measureRun(
  target: Target,
  pool: TokenPool,
  body: (token: string) => string,
  connections: number,
  options: HttpOptions,
): Promise<Phase & { warmupFailures: number }> {
  let cursor = 0;
  const next = () => (cursor < pool.tokens.length ? body(pool.tokens[cursor++]!) : undefined);
  const warm = await load(target.url, connections, options.warmupSeconds, next);
  const run = await load(target.url, connections, options.seconds, next);
  return { ...run, exhausted: run.exhausted || warm.exhausted, warmupFailures: warm.failures };
}

export async function benchHttp(parties: BenchParties, options: HttpOptions): Promise<RunResult[]> {
  const runs: RunResult[] = [];
  const best = new Map<string, number>();
  const planned = options.warmupSeconds + options.seconds;
  for (let round = 0; round < options.rounds; round++) {
    for (const connections of options.connections) {
      // Rotate the order of targets each round so none always runs first or last.
      const order = TARGETS.map((_, i) => TARGETS[(i + round) % TARGETS.length]!);
      for (const kind of order) {
        const pool = kind === 'peer' ? parties.clientAssertions : parties.subjectTokens;
        const body = kind === 'peer' ? clientCredentialsBody : exchangeBody;
        // Enough distinct tokens for this run: the best rate seen so far for this target at this
        // connection count (or twice its best at any, or a first guess), with a margin.
        const seen =
          best.get(`${kind}:${connections}`) ??
          2 * Math.max(0, ...[...best].filter(([key]) => key.startsWith(`${kind}:`)).map(([, v]) => v));
        await pool.ensure(Math.ceil((seen || 2000) * planned * 1.3) + connections);

        const jwk = kind === 'peer' ? parties.clientKey.jwk : parties.subjectIssuerKey.jwk;
        const target = await startTarget({ kind, jwk });
        let phase: Awaited<ReturnType<typeof measureRun>>;
        try {
          phase = await measureRun(target, pool, body, connections, options);
        } finally {
          await target.stop();
        }
        const sorted = Float64Array.from(phase.latencies).sort();
        const result: RunResult = {
          target: kind,
          connections,
          round,
          requestsPerSecond: phase.ok / phase.seconds,
          p50: percentile(sorted, 50),
          p99: percentile(sorted, 99),
          ok: phase.ok,
          failures: phase.failures + phase.warmupFailures,
          measuredSeconds: phase.seconds,
          shortened: phase.exhausted,
        };
        runs.push(result);
        const key = `${kind}:${connections}`;
        best.set(key, Math.max(best.get(key) ?? 0, result.requestsPerSecond));
        options.log?.(
          `  http round ${round + 1}/${options.rounds} ${TARGET_NAMES[kind]}, ${connections} conn: ` +
            `${result.requestsPerSecond.toFixed(0)} req/s, p50 ${result.p50.toFixed(2)} ms, ` +
            `p99 ${result.p99.toFixed(2)} ms${result.failures ? `, ${result.failures} failures` : ''}` +
            `${result.shortened ? `, pool exhausted after ${result.measuredSeconds.toFixed(1)} s` : ''}`,
        );
      }
    }
  }
  return runs;
}

/** Medians over rounds for each target and connection count. */
export function summarizeHttp(runs: readonly RunResult[]): HttpRow[] {
  const rows: HttpRow[] = [];
  const connections = [...new Set(runs.map((run) => run.connections))];
  for (const kind of TARGETS) {
    for (const count of connections) {
      const mine = runs.filter((run) => run.target === kind && run.connections === count);
      if (mine.length === 0) continue;
      rows.push({
        target: kind,
        connections: count,
        requestsPerSecond: median(mine.map((run) => run.requestsPerSecond)),
        p50: median(mine.map((run) => run.p50)),
        p99: median(mine.map((run) => run.p99)),
        failures: mine.reduce((sum, run) => sum + run.failures, 0),
        runs: mine.length,
        shortened: mine.filter((run) => run.shortened).length,
      });
    }
  }
  return rows;
}
