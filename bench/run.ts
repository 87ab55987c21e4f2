import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { benchColdStart, type ColdStartResult } from './cold-start.ts';
import { benchDpop, type DpopResult } from './dpop.ts';
import { benchEngine, type EngineResult } from './engine.ts';
import { createParties } from './fixtures.ts';
import { benchHttp, type HttpRow, summarizeHttp, TARGET_NAMES } from './http.ts';
import { ASSUMED_LATENCY, benchLatencyModel, LATENCY_MODE_NAMES, type LatencyRow } from './latency-model.ts';
import {
  formatRevocationLag,
  type LagStats,
  measureRevocationLag,
  type RevocationLagResult,
} from './revocation-lag.ts';
import { fixed, loadAverage, type Machine, machine, markdownTable } from './stats.ts';
import { benchVerifier, type VerifierResult } from './verifier.ts';

/**
 * `npm run bench`: every measurement of issue 8 in one run on one machine, printed as markdown
 * and, for a complete run, written to bench/results.md and into the marked block of
 * docs/PERFORMANCE.md.
 *
 *   npm run bench                      complete run (about 6-8 minutes)
 *   npm run bench -- --quick           short smoke run; prints only
 *   npm run bench -- --only=engine,http   some parts (engine, verifier, dpop, http, cold-start,
 *                                      revocation-lag, latency-model); prints only
 */
const PARTS = [
  'engine',
  'verifier',
  'dpop',
  'http',
  'cold-start',
  'revocation-lag',
  'latency-model',
] as const;
type Part = (typeof PARTS)[number];

interface Settings {
  readonly quick: boolean;
  readonly parts: ReadonlySet<Part>;
  readonly engineRounds: number;
  readonly engineOps: number;
  readonly verifierRounds: number;
  readonly verifierOps: number;
  readonly httpRounds: number;
  readonly httpWarmup: number;
  readonly httpSeconds: number;
  readonly connections: readonly number[];
  readonly coldSamples: number;
  readonly latencyExchanges: number;
  readonly poolLimit: number;
}

function settingsFrom(args: readonly string[]): Settings {
  const quick = args.includes('--quick');
  const only = args.find((arg) => arg.startsWith('--only='))?.slice('--only='.length);
  const parts = new Set<Part>(only ? (only.split(',') as Part[]) : PARTS);
  for (const part of parts) {
    if (!PARTS.includes(part))
      throw new Error(`unknown part "${part}"; expected some of ${PARTS.join(', ')}`);
  }
  return {
    quick,
    parts,
    engineRounds: quick ? 3 : 9,
    engineOps: quick ? 1000 : 2000,
    verifierRounds: quick ? 3 : 9,
    verifierOps: quick ? 2000 : 5000,
    httpRounds: quick ? 1 : 3,
    httpWarmup: 1,
    httpSeconds: quick ? 2 : 5,
    connections: [1, 16, 64],
    coldSamples: quick ? 2 : 7,
    latencyExchanges: quick ? 100 : 500,
    poolLimit: 60_000,
  };
}

interface Results {
  readonly machine: Machine;
  readonly settings: Settings;
  readonly seconds: number;
  readonly engine?: EngineResult;
  readonly verifier?: VerifierResult;
  readonly dpop?: DpopResult;
  readonly http?: readonly HttpRow[];
  readonly mintSeconds?: number;
  readonly coldStart?: ColdStartResult;
  readonly revocationLag?: RevocationLagResult;
  readonly latencyModel?: readonly LatencyRow[];
}

const verdict = (met: boolean | undefined) => (met === undefined ? 'n/a' : met ? 'yes' : '**no**');
const ratio = (value: number) => `${fixed(value, 2)}`;
const kib = (bytes: number) => fixed(bytes / 1024, 0);

function httpRatios(rows: readonly HttpRow[]) {
  const find = (target: HttpRow['target'], connections: number) =>
    rows.find((row) => row.target === target && row.connections === connections);
  const connections = [...new Set(rows.map((row) => row.connections))];
  return connections.map((count) => {
    const memory = find('memory', count);
    const dynalite = find('dynalite', count);
    const peer = find('peer', count);
    return {
      connections: count,
      memoryVsPeer: memory && peer ? memory.requestsPerSecond / peer.requestsPerSecond : Number.NaN,
      dynaliteVsPeer: dynalite && peer ? dynalite.requestsPerSecond / peer.requestsPerSecond : Number.NaN,
      memory,
      dynalite,
      peer,
    };
  });
}

function summary(results: Results): string {
  const rows: string[][] = [];
  const { engine, verifier, dpop, http, coldStart, revocationLag, latencyModel } = results;
  if (engine) {
    rows.push([
      '1',
      'engine in process / crypto floor',
      ratio(engine.ratio),
      '≥ 0.80',
      verdict(engine.ratio >= 0.8),
    ]);
  }
  if (http) {
    const ratios = httpRatios(http);
    rows.push([
      '2',
      `ours (MemoryStore) / oidc-provider, req/s at ${ratios.map((r) => r.connections).join(' / ')} connections`,
      ratios.map((r) => ratio(r.memoryVsPeer)).join(' / '),
      '≥ 1.50',
      verdict(ratios.every((r) => r.memoryVsPeer >= 1.5)),
    ]);
    rows.push([
      '2',
      `ours (embedded dynalite) / oidc-provider, req/s at ${ratios.map((r) => r.connections).join(' / ')} connections`,
      ratios.map((r) => ratio(r.dynaliteVsPeer)).join(' / '),
      'what the embedded store costs',
      'n/a',
    ]);
    const most = ratios[ratios.length - 1];
    if (most?.memory) {
      rows.push([
        '2',
        `p99 at ${most.connections} connections, ours (MemoryStore)`,
        `${fixed(most.memory.p99, 1)} ms`,
        '< 25 ms',
        verdict(most.memory.p99 < 25),
      ]);
    }
  }
  if (coldStart) {
    const worst = Math.max(...coldStart.rows.map((row) => row.ratio));
    rows.push([
      '3',
      'cold start, bundled / unbundled first response (worst handler)',
      ratio(worst),
      '≤ 0.50',
      verdict(worst <= 0.5),
    ]);
  }
  if (verifier) {
    rows.push([
      '4',
      'verifier / bare jose jwtVerify',
      ratio(verifier.ratio),
      '≥ 0.90',
      verdict(verifier.ratio >= 0.9),
    ]);
  }
  if (dpop) {
    rows.push([
      '6',
      'DPoP proof check: time a proof adds to one downstream verification',
      `${fixed(dpop.addedMicros, 0)} µs`,
      '(reported)',
      'n/a',
    ]);
  }
  if (revocationLag) {
    rows.push([
      '5',
      'revocation lag, revoke → first refusal by introspection (median)',
      `${fixed(revocationLag.introspection.medianMs, 1)} ms`,
      '(reported)',
      'n/a',
    ]);
  } else if (results.settings.parts.has('revocation-lag')) {
    rows.push(['5', 'revocation lag', 'pending', '(reported)', 'n/a']);
  }
  for (const row of latencyModel ?? []) {
    rows.push([
      '6',
      `latency model, p50 / p99 per exchange: ${LATENCY_MODE_NAMES[row.mode]}`,
      `${fixed(row.p50Ms, 1)} / ${fixed(row.p99Ms, 1)} ms`,
      '(reported)',
      'n/a',
    ]);
  }
  return markdownTable(['#', 'measure', 'result:', 'target', 'met'], rows);
}

function engineSection(engine: EngineResult): string {
  return [
    '### 1. Exchange engine in process, one request at a time (one core)',
    '',
    markdownTable(
      ['path', 'ops/s:', 'vs floor:'],
      [
        [
          'crypto floor: jose `jwtVerify` RS256 (imported key) + node:crypto ES256 sign',
          fixed(engine.floorPerSecond),
          '1.00',
        ],
        [
          '`createTokenExchange` (local ES256 signer, MemoryStore, cached JWKS, audit log serialized to a no-op sink)',
          fixed(engine.enginePerSecond),
          ratio(engine.ratio),
        ],
      ],
    ),
    '',
    `Medians of ${engine.rounds} alternating rounds of ${engine.opsPerRound} distinct one-time subject tokens (RS256, about 1.3 KB); the ratio is the median of per-round ratios.`,
  ].join('\n');
}

function httpSection(rows: readonly HttpRow[], settings: Settings, mintSeconds: number | undefined): string {
  const ratios = httpRatios(rows);
  const vsPeer = (row: HttpRow) => {
    const peer = ratios.find((r) => r.connections === row.connections)?.peer;
    return row.target === 'peer' || !peer ? '' : ratio(row.requestsPerSecond / peer.requestsPerSecond);
  };
  const table = markdownTable(
    ['server', 'connections:', 'req/s:', 'p50 ms:', 'p99 ms:', 'vs peer:', 'failed:'],
    rows.map((row) => [
      TARGET_NAMES[row.target],
      String(row.connections),
      fixed(row.requestsPerSecond),
      fixed(row.p50, 2),
      fixed(row.p99, 2),
      vsPeer(row),
      `${row.failures}${row.shortened ? ` (${row.shortened} run(s) cut short: token pool exhausted)` : ''}`,
    ]),
  );
  return [
    '### 2. Local HTTP service, `POST /token`',
    '',
    table,
    '',
    `Medians of ${settings.httpRounds} round(s); each run is a fresh server process, ${settings.httpWarmup} s warm-up, ${settings.httpSeconds} s measured, autocannon in the parent process, every request a distinct pre-minted RS256 token` +
      `${mintSeconds === undefined ? '' : ` (minting them took ${fixed(mintSeconds, 1)} s, outside the runs)`}. ` +
      'Ours: token exchange of a one-time GitHub-like subject token (writes `SEEN#` and `TOKEN#`), local ES256 signer, audit log serialized to a no-op sink. ' +
      'Peer: client_credentials with private_key_jwt (RS256 assertion, `jti` replay check in memory), ES256 JWT access token.',
  ].join('\n');
}

function coldStartSection(cold: ColdStartResult): string {
  return [
    '### 3. Cold start of each Lambda handler (fresh Node process: import + first response)',
    '',
    markdownTable(
      [
        'handler',
        'bundle KiB:',
        'map KiB:',
        'bundled import ms:',
        'bundled first response ms:',
        'same, no source maps ms:',
        'unbundled first response ms:',
        'bundled / unbundled:',
      ],
      cold.rows.map((row) => [
        row.handler,
        kib(row.bundleBytes),
        kib(row.mapBytes),
        fixed(row.bundledImportMs),
        fixed(row.bundledFirstMs),
        fixed(row.bundledNoMapsFirstMs),
        fixed(row.unbundledFirstMs),
        ratio(row.ratio),
      ]),
    ),
    '',
    `Medians of ${cold.samples} fresh processes each; times from the process's time origin, so each includes Node's own start (${fixed(cold.nodeStartMs)} ms for an empty script). ` +
      `Bundles: esbuild with the CDK stack's options (cdk/bundling.ts, target ${cold.target}, ESM, minified, AWS SDK bundled), run with \`--enable-source-maps\` as the stack sets it. ` +
      'Unbundled: the same sources compiled file by file, dependencies from node_modules. The first response builds the layers its route uses (lambdas/container*.ts): KMSClient and GetPublicKey (loopback stub) for all, the config file for all but `jwks`, a DynamoDBClient for the revocation routes and `token`, the exchange engine for `token`.',
  ].join('\n');
}

function verifierSection(verifier: VerifierResult): string {
  return [
    '### 4. Downstream verifier (cached JWKS, no revocation check)',
    '',
    markdownTable(
      ['path', 'verifications/s:', 'vs jose:'],
      [
        [
          'bare jose `jwtVerify` (imported key; issuer, audience, ES256)',
          fixed(verifier.josePerSecond),
          '1.00',
        ],
        ['`createAccessTokenVerifier(...).verify`', fixed(verifier.verifierPerSecond), ratio(verifier.ratio)],
      ],
    ),
    '',
    `Medians of ${verifier.rounds} alternating rounds of ${verifier.opsPerRound} verifications, one at a time.`,
  ].join('\n');
}

function dpopSection(dpop: DpopResult): string {
  return [
    '### 6. DPoP proof check (RFC 9449)',
    '',
    markdownTable(
      ['path', 'per second', 'µs each'],
      [
        ['verifier `verify` (bearer token)', fixed(dpop.bearerPerSecond), fixed(1e6 / dpop.bearerPerSecond)],
        [
          'verifier `verifyDpop` (bound token + proof)',
          fixed(dpop.dpopPerSecond),
          fixed(1e6 / dpop.dpopPerSecond),
        ],
        [
          '`verifyDpopProof` alone (token endpoint, before its SEEN# write)',
          fixed(dpop.proofPerSecond),
          fixed(1e6 / dpop.proofPerSecond),
        ],
      ],
    ),
    '',
    `Medians of ${dpop.rounds} rounds of ${dpop.opsPerRound} verifications, one at a time, each proof fresh (signed before the round, ES256).`,
  ].join('\n');
}

function revocationSection(lag: RevocationLagResult | undefined): string {
  if (!lag) return '### 5. Revocation lag\n\npending';
  const row = (name: string, stats: LagStats) => [
    name,
    fixed(stats.minMs, 1),
    fixed(stats.medianMs, 1),
    fixed(stats.meanMs, 1),
    fixed(stats.maxMs, 1),
    String(stats.samples),
  ];
  return [
    '### 5. Revocation lag (local server, embedded dynalite, loopback)',
    '',
    markdownTable(
      ['path', 'min ms:', 'median ms:', 'mean ms:', 'max ms:', 'n:'],
      [
        row('`POST /revoke` round trip', lag.revokeCall),
        row('revoke → first refusal: `POST /introspect`', lag.introspection),
        row('revoke → first refusal: verifier checking introspection, no cache', lag.verifierUncached),
        row(`revoke → first refusal: verifier, ${lag.maxStaleMs} ms cache`, lag.verifierCached),
      ],
    ),
    '',
    'From bench/revocation-lag.ts (`measureRevocationLag` with its defaults).',
  ].join('\n');
}

function latencySection(rows: readonly LatencyRow[]): string {
  const { kmsSign, putItem, transactWrite } = ASSUMED_LATENCY;
  const assumed = (name: string, call: { p50Ms: number; p99Ms: number }) =>
    `${name} p50 ${call.p50Ms} ms, p99 ${call.p99Ms} ms`;
  return [
    '### 6. Latency model of one exchange on AWS (engine + stand-ins waiting assumed AWS latencies)',
    '',
    markdownTable(
      ['mode', 'p50 ms:', 'p99 ms:', 'mean ms:', 'KMS calls / exchange:', 'DynamoDB calls / exchange:'],
      rows.map((row) => [
        LATENCY_MODE_NAMES[row.mode],
        fixed(row.p50Ms, 1),
        fixed(row.p99Ms, 1),
        fixed(row.meanMs, 1),
        fixed(row.kmsCalls, 2),
        fixed(row.dynamoCalls, 2),
      ]),
    ),
    '',
    `${rows[0]?.samples ?? 0} one-time subject tokens per mode, one at a time (as one Lambda container serves them). Assumed per call (log-normal): ${assumed('KMS Sign', kmsSign)}; ${assumed('PutItem', putItem)}; ${assumed('TransactWriteItems', transactWrite)} (bench/latency-model.ts; sources and caveats in docs/PERFORMANCE.md). Lambda and API Gateway overheads are not modelled.`,
  ].join('\n');
}

export function renderResults(results: Results): string {
  const { machine: m, settings } = results;
  const sections = [
    `Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, Node ${m.node}, ${m.os}; load average ${m.loadAverage} at start, ${m.loadAverageAtEnd ?? 'n/a'} at the end. ` +
      `Date: ${m.date}. Command: \`npm run bench${settings.quick ? ' -- --quick' : ''}\` (${fixed(results.seconds)} s).`,
    '',
    summary(results),
  ];
  if (results.engine) sections.push('', engineSection(results.engine));
  if (results.http) sections.push('', httpSection(results.http, settings, results.mintSeconds));
  if (results.coldStart) sections.push('', coldStartSection(results.coldStart));
  if (results.verifier) sections.push('', verifierSection(results.verifier));
  if (results.dpop) sections.push('', dpopSection(results.dpop));
  if (settings.parts.has('revocation-lag')) sections.push('', revocationSection(results.revocationLag));
  if (results.latencyModel) sections.push('', latencySection(results.latencyModel));
  return sections.join('\n');
}

const BEGIN = '<!-- bench:results:begin -->';
const END = '<!-- bench:results:end -->';

/** Replaces the block between the markers in docs/PERFORMANCE.md, if the markers are there. */
function updateDocs(path: string, body: string): boolean {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return false;
  }
  const start = text.indexOf(BEGIN);
  const end = text.indexOf(END);
  if (start < 0 || end < start) return false;
  writeFileSync(path, `${text.slice(0, start + BEGIN.length)}\n${body}\n${text.slice(end)}`);
  return true;
}

async function main(): Promise<void> {
  const settings = settingsFrom(process.argv.slice(2));
  const started = performance.now();
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const phase = (name: string) => log(`[${fixed((performance.now() - started) / 1000)} s] ${name}`);
  const at = machine();
  const parties = await createParties(settings.poolLimit);
  const results: { -readonly [K in keyof Results]?: Results[K] } = { machine: at, settings };

  if (settings.parts.has('engine')) {
    phase('exchange engine vs crypto floor');
    results.engine = await benchEngine(parties.subjectIssuerKey, parties.subjectTokens, {
      rounds: settings.engineRounds,
      opsPerRound: settings.engineOps,
      log,
    });
  }
  if (settings.parts.has('verifier')) {
    phase('verifier vs jose');
    results.verifier = await benchVerifier({
      rounds: settings.verifierRounds,
      opsPerRound: settings.verifierOps,
      tokens: 2000,
      log,
    });
  }
  if (settings.parts.has('dpop')) {
    phase('DPoP proof check');
    results.dpop = await benchDpop({
      rounds: settings.verifierRounds,
      opsPerRound: settings.verifierOps / 5,
      log,
    });
  }
  if (settings.parts.has('http')) {
    phase('local HTTP service vs oidc-provider');
    const runs = await benchHttp(parties, {
      connections: settings.connections,
      rounds: settings.httpRounds,
      warmupSeconds: settings.httpWarmup,
      seconds: settings.httpSeconds,
      log,
    });
    results.http = summarizeHttp(runs);
    results.mintSeconds = parties.subjectTokens.mintSeconds + parties.clientAssertions.mintSeconds;
  }
  if (settings.parts.has('cold-start')) {
    phase('cold start, bundled vs unbundled');
    results.coldStart = await benchColdStart({ samples: settings.coldSamples, log });
  }
  if (settings.parts.has('revocation-lag')) {
    phase('revocation lag');
    results.revocationLag = await measureRevocationLag();
    log(formatRevocationLag(results.revocationLag));
  }
  if (settings.parts.has('latency-model')) {
    phase('latency model of one exchange on AWS');
    results.latencyModel = await benchLatencyModel(parties.subjectIssuerKey, parties.subjectTokens, {
      exchanges: settings.latencyExchanges,
      concurrency: 1,
    });
  }
  phase('done');
  results.seconds = (performance.now() - started) / 1000;
  at.loadAverageAtEnd = loadAverage();

  const markdown = renderResults(results as Results);
  process.stdout.write(`\n${markdown}\n`);
  if (!settings.quick && settings.parts.size === PARTS.length) {
    const resultsFile = fileURLToPath(new URL('./results.md', import.meta.url));
    writeFileSync(
      resultsFile,
      `# Benchmark results\n\nWritten by \`npm run bench\` (bench/run.ts); see docs/PERFORMANCE.md for what each number means.\n\n${markdown}\n`,
    );
    const docs = fileURLToPath(new URL('../docs/PERFORMANCE.md', import.meta.url));
    log(
      `wrote bench/results.md${updateDocs(docs, markdown) ? ' and the results block of docs/PERFORMANCE.md' : ''}`,
    );
  }
}

main().then(
  // The AWS SDK and dynalite may leave sockets or timers behind; the run is over.
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
