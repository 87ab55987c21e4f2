// The exchange's metrics (M3 policy evaluation time, M4 refusals, M5 failures, M7 token size, and
// the exchange latency), one EMF line per exchange. Dimensions are only the policy that admitted
// the request (a name from the config, else "unknown") and the registered refusal reason (else
// "unregistered"): never a subject, jti, audience or token, whatever the request carried.
import type { Config } from '../config/config.ts';
import { type MetricsWriter, roundMs } from '../shared/emf.ts';
import { EXCHANGE_METRICS as M } from '../shared/metric-names.ts';
import { isReason } from '../shared/reasons.ts';

export type ExchangeOutcome =
  | {
      readonly outcome: 'issued';
      readonly policy: string;
      readonly durationMs: number;
      readonly policyMs: number;
      readonly tokenBytes: number;
    }
  | {
      readonly outcome: 'refused' | 'failed';
      readonly reason: string;
      readonly durationMs: number;
      /** Set when the policy engine ran before the refusal. */
      readonly policyMs?: number | undefined;
    };

export type ExchangeMetrics = (outcome: ExchangeOutcome) => void;

export const noExchangeMetrics: ExchangeMetrics = () => {};

/** Dimension value of a refusal reason: the registered reason, or `unregistered`. */
export const reasonDimension = (reason: string): string => (isReason(reason) ? reason : 'unregistered');

/** The exchange metrics of a config's policies, written through `writer`. */
export function createExchangeMetrics(writer: MetricsWriter, config: Config): ExchangeMetrics {
  if (!writer.enabled) return noExchangeMetrics;
  const policies = new Set(config.policies.map((policy) => policy.name));
  return (event) => {
    const latency = { name: M.latency, unit: 'Milliseconds', value: roundMs(event.durationMs) } as const;
    const policyTime =
      event.policyMs === undefined
        ? []
        : [{ name: M.policyTime, unit: 'Milliseconds', value: roundMs(event.policyMs) } as const];
    if (event.outcome === 'issued') {
      writer.write(
        [
          {
            dimensionSets: [[], ['policy']],
            metrics: [
              { name: M.issued, unit: 'Count', value: 1 },
              latency,
              ...policyTime,
              { name: M.tokenSize, unit: 'Bytes', value: event.tokenBytes },
            ],
          },
        ],
        { policy: policies.has(event.policy) ? event.policy : 'unknown' },
      );
      return;
    }
    const counter = event.outcome === 'refused' ? M.refused : M.failed;
    writer.write(
      [
        {
          dimensionSets: [[], ['reason']],
          metrics: [{ name: counter, unit: 'Count', value: 1 }, latency, ...policyTime],
        },
      ],
      { reason: reasonDimension(event.reason) },
    );
  };
}
