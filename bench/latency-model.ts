// A latency model of one exchange on AWS (issue 14): the real engine (subject token verification,
// policy, minting, the audit log) with in-process stand-ins for KMS and DynamoDB that wait a
// stated latency per call, drawn from a log-normal distribution fitted to an assumed p50 and p99.
// Three modes:
//   kms + sequential writes   KMS Sign, then PutItem SEEN#, then PutItem TOKEN# (before issue 14)
//   kms + one round trip      KMS Sign, then one TransactWriteItems (SEEN# + TOKEN#)
//   data-key                  local ES256 signature, then one TransactWriteItems
// The latencies are assumptions (docs/PERFORMANCE.md, "Latency model"): AWS publishes no latency
// figure for KMS, and for DynamoDB only "single-digit milliseconds". Replace them with your own
// CloudWatch figures (KMS and DynamoDB SuccessfulRequestLatency, Lambda duration) to re-run the
// model for your region: `npm run bench -- --only=latency-model`.

import { createTokenExchange } from '../lib/exchange/token-exchange.ts';
import { systemClock } from '../lib/shared/clock.ts';
import { createLogger } from '../lib/shared/log.ts';
import { createLocalSigner, generateSigningKey } from '../lib/signers/local.ts';
import type { Signer } from '../lib/signers/signer.ts';
import { MemoryStore } from '../lib/stores/memory.ts';
import type { IssuedToken, OneTimeUse } from '../lib/stores/store.ts';
import { exchangeForm } from './engine.ts';
import { benchConfig, jwksFetch, type RsaKey, type TokenPool } from './fixtures.ts';

export interface CallLatency {
  readonly p50Ms: number;
  readonly p99Ms: number;
}

export const ASSUMED_LATENCY = {
  /** KMS Sign, ECC_NIST_P256, from Lambda in the same region (assumption). */
  kmsSign: { p50Ms: 10, p99Ms: 30 },
  /** DynamoDB PutItem, conditional, one item < 1 KB (assumption: "single-digit milliseconds"). */
  putItem: { p50Ms: 4, p99Ms: 12 },
  /** DynamoDB TransactWriteItems of two Puts (assumption: two phases, about twice a PutItem). */
  transactWrite: { p50Ms: 8, p99Ms: 22 },
} as const satisfies Record<string, CallLatency>;

export type LatencyMode = 'kms-sequential' | 'kms-one-trip' | 'data-key';
export const LATENCY_MODES: readonly LatencyMode[] = ['kms-sequential', 'kms-one-trip', 'data-key'];
export const LATENCY_MODE_NAMES: Readonly<Record<LatencyMode, string>> = {
  'kms-sequential': '`kms` mode, sequential writes (SEEN# then TOKEN#)',
  'kms-one-trip': '`kms` mode, one write round trip (TransactWriteItems)',
  'data-key': 'data-key mode, one write round trip',
};

export interface LatencyRow {
  readonly mode: LatencyMode;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly meanMs: number;
  /** KMS and DynamoDB calls per exchange in the run. */
  readonly kmsCalls: number;
  readonly dynamoCalls: number;
  readonly samples: number;
}

export interface LatencyModelOptions {
  readonly exchanges: number;
  /** Exchanges in flight at once (the stand-ins wait; the CPU work stays one at a time). */
  readonly concurrency: number;
  readonly latency?: typeof ASSUMED_LATENCY;
}

/** A log-normal sampler with the given median and 99th percentile. */
export function logNormal({ p50Ms, p99Ms }: CallLatency, random: () => number = Math.random): () => number {
  const sigma = Math.log(p99Ms / p50Ms) / 2.326;
  return () => {
    // Box-Muller.
    const u = 1 - random();
    const v = random();
    const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    return p50Ms * Math.exp(sigma * z);
  };
}

const wait = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A signer that waits a KMS Sign latency before signing (the signature itself is real). */
function kmsStandIn(signer: Signer, latency: () => number, calls: { kms: number }): Signer {
  return {
    activeKey: () => signer.activeKey(),
    publicKeys: () => signer.publicKeys(),
    sign: async (input) => {
      calls.kms++;
      await wait(latency());
      return signer.sign(input);
    },
  };
}

/** A MemoryStore whose exchange writes wait DynamoDB latencies: sequential puts or one transaction. */
class DynamoStandIn extends MemoryStore {
  constructor(
    readonly mode: 'sequential' | 'transaction',
    readonly put: () => number,
    readonly transact: () => number,
    readonly calls: { dynamo: number },
  ) {
    super();
  }

  override async recordIssuedSpending(token: IssuedToken, spend: readonly OneTimeUse[]) {
    if (this.mode === 'transaction') {
      this.calls.dynamo++;
      await wait(this.transact());
    } else {
      for (let index = 0; index <= spend.length; index++) {
        this.calls.dynamo++;
        await wait(this.put());
      }
    }
    return super.recordIssuedSpending(token, spend);
  }
}

const percentile = (sorted: readonly number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;

/** Runs the model for each mode; see the module comment. */
export async function benchLatencyModel(
  subjectIssuerKey: RsaKey,
  pool: TokenPool,
  options: LatencyModelOptions,
): Promise<LatencyRow[]> {
  const latency = options.latency ?? ASSUMED_LATENCY;
  await pool.ensure(options.exchanges);
  const forms = pool.tokens.slice(0, options.exchanges).map(exchangeForm);
  const rows: LatencyRow[] = [];
  for (const mode of LATENCY_MODES) {
    const calls = { kms: 0, dynamo: 0 };
    const local = await createLocalSigner(generateSigningKey('ES256'), 'ES256');
    const signer = mode === 'data-key' ? local : kmsStandIn(local, logNormal(latency.kmsSign), calls);
    const store = new DynamoStandIn(
      mode === 'kms-sequential' ? 'sequential' : 'transaction',
      logNormal(latency.putItem),
      logNormal(latency.transactWrite),
      calls,
    );
    const exchange = createTokenExchange({
      config: benchConfig(),
      signer,
      store,
      clock: systemClock,
      logger: createLogger('info', () => {}),
      fetch: jwksFetch([subjectIssuerKey.jwk]),
    });
    await exchange.exchange(forms[0]!).catch(() => undefined); // warm the issuer's key set
    store.seen.clear();
    Object.assign(calls, { kms: 0, dynamo: 0 });
    const times: number[] = [];
    let next = 0;
    const worker = async () => {
      while (next < forms.length) {
        const form = forms[next++]!;
        const started = performance.now();
        await exchange.exchange(form);
        times.push(performance.now() - started);
      }
    };
    await Promise.all(Array.from({ length: options.concurrency }, worker));
    const sorted = [...times].sort((a, b) => a - b);
    rows.push({
      mode,
      p50Ms: percentile(sorted, 50),
      p99Ms: percentile(sorted, 99),
      meanMs: times.reduce((sum, time) => sum + time, 0) / times.length,
      kmsCalls: calls.kms / times.length,
      dynamoCalls: calls.dynamo / times.length,
      samples: times.length,
    });
  }
  return rows;
}
