// The downstream verifier's SLIs as CloudWatch metrics: validation outcome (M1) and latency (M2)
// of every request, written as EMF lines (lib/shared/emf.ts) on stdout, which Lambda ships to
// CloudWatch Logs: no API call, no agent, no dependency beyond lib/shared. The names match the
// STS's own dashboard (lib/shared/metric-names.ts), so a platform team sees validation success
// of every consuming service on one graph (cdk/monitoring.ts, `consumerNamespace`).
import { createMetricsWriter, type DimensionName, isDimensionValue, roundMs } from '../shared/emf.ts';
import { VALIDATION_METRICS as M } from '../shared/metric-names.ts';
import type { ValidationResult } from './middleware.ts';

export interface ValidationMetricsOptions {
  /** CloudWatch namespace shared by the consuming services. Default `ServerlessSTS/Consumers`. */
  readonly namespace?: string;
  /**
   * This service's name, a dimension (letters, digits, `_.:-`; at most 64): with it, each outcome
   * is published per service and across services; without it, across services only.
   */
  readonly service?: string;
  /** Where each EMF line goes (default stdout). */
  readonly sink?: (line: string) => void;
}

export const DEFAULT_CONSUMER_NAMESPACE = 'ServerlessSTS/Consumers';

/**
 * A hook for `accessTokenAuth({ onResult })` that writes `TokenValidations` (Count) and
 * `TokenValidationLatency` (Milliseconds) by `outcome`, and by `service` and `outcome`.
 * Dimensions are the outcome (a closed list) and your fixed service name: never the token, its
 * subject or its jti.
 *
 * @example
 * middy(handler).use(accessTokenAuth({ verifier, onResult: validationMetrics({ service: 'orders' }) }))
 */
export function validationMetrics(
  options: ValidationMetricsOptions = {},
): (result: ValidationResult) => void {
  const writer = createMetricsWriter({
    namespace: options.namespace ?? DEFAULT_CONSUMER_NAMESPACE,
    sink: options.sink,
  });
  const { service } = options;
  const sets: DimensionName[][] =
    service === undefined ? [['outcome']] : [['outcome'], ['service', 'outcome']];
  // Fails at start-up, not on the first request, when the service name is no dimension value.
  if (service !== undefined && !isDimensionValue(service)) {
    throw new TypeError('service: expected letters, digits, "_", ".", ":" or "-" (at most 64)');
  }
  return (result) => {
    writer.write(
      [
        {
          dimensionSets: sets,
          metrics: [
            { name: M.validations, unit: 'Count', value: 1 },
            { name: M.latency, unit: 'Milliseconds', value: roundMs(result.durationMs) },
          ],
        },
      ],
      { outcome: result.outcome, service },
    );
  };
}
