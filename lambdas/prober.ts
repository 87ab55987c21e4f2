// The prober's Lambda entry point (not a route: EventBridge runs it every minute, cdk/prober.ts).
// Per container: the prober issuer's KMS key (STS_PROBER_KEY_ID) as a signer, SigV4 from the same
// KMS client's credentials (the function's role), the metrics writer. Per run: one probe
// (lib/ops/probe.ts), its metrics, and one log line per step; a failed step is an `error` line
// with its detail (statuses and error codes, never a token).

import { KMSClient } from '@aws-sdk/client-kms';
import { ConfigError } from '../lib/config/config-error.ts';
import { loadSettings } from '../lib/config/settings.ts';
import { type ProbeReport, runProbe } from '../lib/ops/probe.ts';
import { writeProbeMetrics } from '../lib/ops/probe-metrics.ts';
import { mintProberToken } from '../lib/ops/prober-issuer.ts';
import { type CredentialsProvider, sigV4Authorizer } from '../lib/ops/sigv4.ts';
import { systemClock } from '../lib/shared/clock.ts';
import { createMetricsWriter } from '../lib/shared/emf.ts';
import { createLogger } from '../lib/shared/log.ts';
import { createKmsSigner } from '../lib/signers/kms.ts';

interface Prober {
  run(): Promise<ProbeReport>;
  readonly log: ReturnType<typeof createLogger>;
  readonly write: (report: ProbeReport) => void;
}

async function createProber(): Promise<Prober> {
  const settings = loadSettings();
  const { issuer, proberKeyId } = settings;
  if (!issuer || !proberKeyId) {
    throw new ConfigError('environment', ['STS_ISSUER and STS_PROBER_KEY_ID: required by the prober']);
  }
  const kms = new KMSClient({});
  const signer = await createKmsSigner({ client: kms, keyIds: [proberKeyId] });
  const authorize = sigV4Authorizer({
    region: () => kms.config.region(),
    credentials: (() => kms.config.credentials()) as CredentialsProvider,
  });
  const metrics = createMetricsWriter({ namespace: settings.metricsNamespace });
  return {
    run: () =>
      runProbe({
        issuer,
        subjectToken: () => mintProberToken(signer, issuer, systemClock),
        authorize,
        lagTimeoutMs: settings.proberRevocationWait * 1000,
      }),
    log: createLogger(settings.logLevel),
    write: (report) => writeProbeMetrics(metrics, report),
  };
}

let prober: Promise<Prober> | undefined;

/** The scheduled handler: one probe; a failed build is retried on the next run. */
export async function handler(): Promise<{
  ok: boolean;
  steps: ProbeReport['steps'];
  revocationLagMs?: number;
}> {
  prober ??= createProber().catch((error: unknown) => {
    prober = undefined;
    throw error;
  });
  const { run, log, write } = await prober;
  const report = await run();
  write(report);
  for (const step of report.steps) {
    const fields = { probe: step.probe, latency_ms: Math.round(step.latencyMs), detail: step.detail };
    if (step.ok) log.info('probe.passed', fields);
    else log.error('probe.failed', fields);
  }
  if (report.revocationLagMs !== undefined)
    log.info('probe.revocation_lag', { lag_ms: Math.round(report.revocationLagMs) });
  return { ok: report.steps.every((step) => step.ok), ...report };
}
