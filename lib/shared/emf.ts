// CloudWatch Embedded Metric Format (EMF): one JSON line on stdout that CloudWatch Logs turns into
// metrics, with no API call and no agent. The one metrics mechanism of the project: the token
// service (lambdas/request-metrics.ts, lib/exchange/exchange-metrics.ts), the downstream verifier
// (lib/verify/validation-metrics.ts) and the prober (lib/ops/) all write these lines, so a
// metric keeps one name wherever it is measured. The spec is small enough to write here rather
// than import Powertools Metrics: lib/verify may depend on lib/shared and jose only.
// https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
//
// Cardinality is a security property here: every distinct dimension value is a new (billed)
// metric, and a dimension is readable by anyone with cloudwatch:ListMetrics. So dimension names
// come from a closed list (DIMENSION_NAMES: never a subject, jti or token) and each value must
// match a short identifier pattern; the writers map their values onto closed lists first
// (policy names from the config, reasons from lib/shared/reasons.ts).

/** The only dimension names a metric of this project may carry. */
export const DIMENSION_NAMES = [
  'policy',
  'reason',
  'handler',
  'outcome',
  'service',
  'dependency',
  'probe',
] as const;
export type DimensionName = (typeof DIMENSION_NAMES)[number];

export type MetricUnit = 'Count' | 'Milliseconds' | 'Seconds' | 'Bytes' | 'Percent' | 'None';

export interface MetricValue {
  readonly name: string;
  readonly unit: MetricUnit;
  readonly value: number;
}

/** One group of metrics sharing dimension sets (an EMF `CloudWatchMetrics` directive). */
export interface MetricGroup {
  /** Each set publishes every metric of the group once; `[]` is the set without dimensions. */
  readonly dimensionSets: readonly (readonly DimensionName[])[];
  readonly metrics: readonly MetricValue[];
}

export interface EmfInput {
  readonly namespace: string;
  readonly groups: readonly MetricGroup[];
  readonly dimensions?: Readonly<Partial<Record<DimensionName, string>>>;
  /** Epoch milliseconds. */
  readonly timestamp: number;
}

/** A dimension value: a short identifier (policy names, registered reasons, handler names). */
const DIMENSION_VALUE = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/;
const METRIC_NAME = /^[A-Za-z][A-Za-z0-9]{0,63}$/;
const KNOWN = new Set<string>(DIMENSION_NAMES);

/** Whether `value` can be a dimension value at all (a closed-list mapping comes first). */
export const isDimensionValue = (value: unknown): value is string =>
  typeof value === 'string' && DIMENSION_VALUE.test(value);

/**
 * The EMF document for `input`, as an object (JSON.stringify it for the log line). Throws a
 * TypeError for a dimension outside DIMENSION_NAMES, a dimension value that is no identifier, a
 * dimension a set names without a value, a bad metric name or a non-finite value: a bug in the
 * caller, never a metric with unknown content.
 */
export function emfDocument(input: EmfInput): Record<string, unknown> {
  const dimensions = input.dimensions ?? {};
  const root: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(dimensions)) {
    if (!KNOWN.has(name)) throw new TypeError(`EMF: "${name}" is not a dimension name`);
    if (value === undefined) continue;
    if (!isDimensionValue(value)) throw new TypeError(`EMF: dimension ${name} is not an identifier`);
    root[name] = value;
  }
  const directives = input.groups.map((group) => {
    for (const set of group.dimensionSets) {
      for (const name of set) {
        if (!KNOWN.has(name)) throw new TypeError(`EMF: "${name}" is not a dimension name`);
        if (root[name] === undefined) throw new TypeError(`EMF: dimension ${name} has no value`);
      }
    }
    for (const metric of group.metrics) {
      if (!METRIC_NAME.test(metric.name) || KNOWN.has(metric.name)) {
        throw new TypeError(`EMF: "${metric.name}" is not a metric name`);
      }
      if (!Number.isFinite(metric.value)) throw new TypeError(`EMF: ${metric.name} is not a finite number`);
      root[metric.name] = metric.value;
    }
    return {
      Namespace: input.namespace,
      Dimensions: group.dimensionSets.map((set) => [...set]),
      Metrics: group.metrics.map((metric) => ({ Name: metric.name, Unit: metric.unit })),
    };
  });
  return { _aws: { Timestamp: input.timestamp, CloudWatchMetrics: directives }, ...root };
}

/** Writes EMF lines; `namespace` undefined turns metrics off (the local server, most tests). */
export interface MetricsWriter {
  readonly enabled: boolean;
  write(groups: readonly MetricGroup[], dimensions?: EmfInput['dimensions']): void;
}

export interface MetricsWriterOptions {
  readonly namespace: string | undefined;
  /** Where each line goes (default: stdout, which Lambda ships to CloudWatch Logs). */
  readonly sink?: (line: string) => void;
  /** Epoch milliseconds (default Date.now). */
  readonly now?: () => number;
}

/** A metrics writer for one namespace. */
export function createMetricsWriter(options: MetricsWriterOptions): MetricsWriter {
  const { namespace } = options;
  const sink = options.sink ?? ((line: string) => process.stdout.write(`${line}\n`));
  const now = options.now ?? Date.now;
  if (!namespace) return { enabled: false, write: () => {} };
  return {
    enabled: true,
    write(groups, dimensions) {
      sink(JSON.stringify(emfDocument({ namespace, groups, dimensions, timestamp: now() })));
    },
  };
}

export const noMetrics: MetricsWriter = createMetricsWriter({ namespace: undefined });

/** Milliseconds rounded to hundredths, as every latency metric of the project is written. */
export const roundMs = (ms: number): number => Math.round(ms * 100) / 100;
