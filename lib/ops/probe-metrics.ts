// The prober's results as CloudWatch metrics (EMF, lib/shared/emf.ts): per probe (dimension
// `probe`: exchange, refusal, revocation) `ProbeFailure` 0 or 1 and `ProbeLatency`; and
// `RevocationLag` (M9) without dimensions when it was measured. cdk/prober.ts alarms on them.
import { type MetricsWriter, roundMs } from '../shared/emf.ts';
import { PROBER_METRICS as M } from '../shared/metric-names.ts';
import type { ProbeReport } from './probe.ts';

/** Writes one EMF line per probe step, and one for the revocation lag. */
export function writeProbeMetrics(writer: MetricsWriter, report: ProbeReport): void {
  for (const step of report.steps) {
    writer.write(
      [
        {
          dimensionSets: [['probe']],
          metrics: [
            { name: M.failure, unit: 'Count', value: step.ok ? 0 : 1 },
            { name: M.latency, unit: 'Milliseconds', value: roundMs(step.latencyMs) },
          ],
        },
      ],
      { probe: step.probe },
    );
  }
  if (report.revocationLagMs !== undefined) {
    writer.write([
      {
        dimensionSets: [[]],
        metrics: [{ name: M.revocationLag, unit: 'Milliseconds', value: roundMs(report.revocationLagMs) }],
      },
    ]);
  }
}
