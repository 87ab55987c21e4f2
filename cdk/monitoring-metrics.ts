// The metrics the token service's alarms and dashboard read: the service's EMF metrics (names
// in lib/shared/metric-names.ts), the consumers' validation metrics, the account's KMS usage, the
// one metric filter (API Gateway's 429s, which only its access log records), and the SLI
// expressions built from them (rates that stay 0 below a minimum volume, sums of throttles and
// dependency errors). The alarms are cdk/monitoring-alarms.ts, the dashboard
// cdk/monitoring-dashboard.ts.

import { Duration } from 'aws-cdk-lib';
import type { HttpApi } from 'aws-cdk-lib/aws-apigatewayv2';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { EXCHANGE_METRICS, REQUEST_METRICS, VALIDATION_METRICS } from '../lib/shared/metric-names.ts';

/** The period of the service's metrics and alarms. */
export const PERIOD = Duration.minutes(5);
/** The period of the per-minute metrics (KMS usage, the prober). */
export const MINUTE = Duration.minutes(1);

/** A function of the service, by the handler it runs (its Lambda throttles count as throttling). */
export interface MonitoredFunction {
  readonly handler: string;
  readonly function: lambda.IFunction;
}

/** The metrics the dashboard and alarms use, for callers who build their own. */
export interface TokenServiceMetrics {
  readonly tokensIssued: cloudwatch.Metric;
  readonly tokenRefusals: cloudwatch.Metric;
  readonly tokenFailures: cloudwatch.Metric;
  readonly refusalsByReason: cloudwatch.MathExpression;
  readonly exchangeLatency: cloudwatch.Metric;
  readonly policyEvaluationTime: cloudwatch.Metric;
  readonly issuedTokenSize: cloudwatch.Metric;
  readonly kmsErrors: cloudwatch.Metric;
  readonly dynamoDbErrors: cloudwatch.Metric;
  readonly throttledRequests: cloudwatch.Metric;
  readonly kmsQuotaUsage: cloudwatch.MathExpression;
  /** Per handler: requests, 5xx and latency. */
  requests(handler: string): cloudwatch.Metric;
  serverErrors(handler: string): cloudwatch.Metric;
  latency(handler: string, statistic?: string): cloudwatch.Metric;
}

/** Metric name of the one metric filter (API Gateway's 429s, from its access log). */
export const THROTTLED_REQUESTS = 'ThrottledRequests';
const VALIDATION_OUTCOMES = ['valid', 'missing', 'malformed', 'invalid', 'insufficient_scope', 'unavailable'];
/** The prober's probes, one failure metric (dimension `probe`) and alarm each. */
export const PROBES = ['exchange', 'refusal', 'revocation'] as const;

/** Options of one metric: the service's namespace and PERIOD unless given. */
export interface MetricOptions {
  dimensions?: Record<string, string>;
  period?: Duration;
  label?: string;
  ns?: string;
}

/** Makes a metric of the service's namespace (or `options.ns`) by name and statistic. */
export type MetricFactory = (
  metricName: string,
  statistic: string,
  options?: MetricOptions,
) => cloudwatch.Metric;

/** The SLI expressions the alarms and the dashboard share. */
export interface SliExpressions {
  readonly tokenErrorRate: cloudwatch.MathExpression;
  readonly denialRate: cloudwatch.MathExpression;
  readonly throttled: cloudwatch.MathExpression;
  readonly throttledRate: cloudwatch.MathExpression;
  readonly dependencyErrors: cloudwatch.MathExpression;
  /** Consumers' validations by outcome (VALIDATION_OUTCOMES). */
  readonly validations: Record<string, cloudwatch.Metric>;
  readonly validationUnavailable: cloudwatch.MathExpression;
  readonly validationLatency: cloudwatch.Metric;
}

/** What the metrics are read from. */
export interface MonitoringMetricsOptions {
  readonly api: HttpApi;
  readonly accessLogGroup: logs.ILogGroup;
  readonly functions: readonly MonitoredFunction[];
  /** Namespace of the service's EMF metrics. */
  readonly namespace: string;
  /** Namespace of the consumers' validation metrics. */
  readonly consumers: string;
  /** Requests per period below which a rate is 0 (AlarmThresholds.minRequestsPerPeriod). */
  readonly minRequests: number;
  readonly kmsQuotaResource?: 'CryptographicOperationsEcc' | 'CryptographicOperationsRsa';
}

/**
 * The metric filter of API Gateway's 429s, created in `scope` (the monitoring construct, so its
 * id stays `ThrottledRequests`), and the metrics and SLI expressions of the service, with the
 * factory that made them (the dashboard graphs a few more statistics of the same metrics).
 */
export function monitoringMetrics(
  scope: Construct,
  options: MonitoringMetricsOptions,
): { metric: MetricFactory; metrics: TokenServiceMetrics; sli: SliExpressions } {
  const { api, namespace, consumers, minRequests } = options;
  new logs.MetricFilter(scope, THROTTLED_REQUESTS, {
    logGroup: options.accessLogGroup,
    metricNamespace: namespace,
    filterPattern: logs.FilterPattern.numberValue('$.status', '=', 429),
    metricName: THROTTLED_REQUESTS,
    metricValue: '1',
    unit: cloudwatch.Unit.COUNT,
  });

  const metric: MetricFactory = (metricName, statistic, metricOptions = {}) =>
    new cloudwatch.Metric({
      namespace: metricOptions.ns ?? namespace,
      metricName,
      statistic,
      period: metricOptions.period ?? PERIOD,
      dimensionsMap: metricOptions.dimensions,
      label: metricOptions.label ?? metricName,
    });
  const byHandler = (name: string, statistic: string, handler: string, label: string) =>
    metric(name, statistic, { dimensions: { handler }, label });
  const kmsUsage = new cloudwatch.Metric({
    namespace: 'AWS/Usage',
    metricName: 'CallCount',
    dimensionsMap: {
      Service: 'KMS',
      Type: 'API',
      Resource: options.kmsQuotaResource ?? 'CryptographicOperationsEcc',
      Class: 'None',
    },
    statistic: 'Sum',
    period: MINUTE,
  });
  const metrics: TokenServiceMetrics = {
    tokensIssued: metric(EXCHANGE_METRICS.issued, 'Sum'),
    tokenRefusals: metric(EXCHANGE_METRICS.refused, 'Sum'),
    tokenFailures: metric(EXCHANGE_METRICS.failed, 'Sum'),
    refusalsByReason: new cloudwatch.MathExpression({
      expression: `SEARCH('{${namespace},reason} MetricName="${EXCHANGE_METRICS.refused}"', 'Sum', ${PERIOD.toSeconds()})`,
      usingMetrics: {},
      label: 'Refusals by reason',
      period: PERIOD,
    }),
    exchangeLatency: metric(EXCHANGE_METRICS.latency, 'p99', { label: 'Exchange p99 (ms)' }),
    policyEvaluationTime: metric(EXCHANGE_METRICS.policyTime, 'p99', {
      label: 'Policy evaluation p99 (ms)',
    }),
    issuedTokenSize: metric(EXCHANGE_METRICS.tokenSize, 'Maximum', { label: 'Largest token (bytes)' }),
    kmsErrors: metric(REQUEST_METRICS.dependencyErrors, 'Sum', {
      dimensions: { dependency: 'kms' },
      label: 'KMS',
    }),
    dynamoDbErrors: metric(REQUEST_METRICS.dependencyErrors, 'Sum', {
      dimensions: { dependency: 'dynamodb' },
      label: 'DynamoDB',
    }),
    throttledRequests: metric(THROTTLED_REQUESTS, 'Sum', { label: 'API 429' }),
    // Usage per second against the quota (per second); SERVICE_QUOTA reads the applied quota.
    kmsQuotaUsage: new cloudwatch.MathExpression({
      expression: '100 * (usage / 60) / SERVICE_QUOTA(usage)',
      usingMetrics: { usage: kmsUsage },
      label: 'KMS request quota used (%)',
      period: MINUTE,
    }),
    requests: (handler) => byHandler(REQUEST_METRICS.requests, 'Sum', handler, `${handler} requests`),
    serverErrors: (handler) => byHandler(REQUEST_METRICS.serverErrors, 'Sum', handler, `${handler} 5xx`),
    latency: (handler, statistic = 'p99') =>
      byHandler(REQUEST_METRICS.latency, statistic, handler, `${handler} ${statistic} (ms)`),
  };
  const m = metrics;

  /** `100 * part / whole` when `whole` reached the minimum volume, else 0. */
  const rate = (
    label: string,
    part: string,
    whole: string,
    usingMetrics: Record<string, cloudwatch.IMetric>,
  ) =>
    new cloudwatch.MathExpression({
      expression: `IF(${whole} >= ${minRequests}, 100 * ${part} / ${whole}, 0)`,
      usingMetrics,
      label,
      period: PERIOD,
    });
  const tokenErrorRate = rate('POST /token 5xx (%)', 'errors', 'requests', {
    errors: m.serverErrors('token'),
    requests: m.requests('token'),
  });
  const denialRate = rate('Refused exchanges (%)', 'refused', '(FILL(issued, 0) + refused)', {
    refused: m.tokenRefusals,
    issued: m.tokensIssued,
  });
  const apiRequests = api.metricCount({ statistic: 'Sum', period: PERIOD, label: 'API requests' });
  const lambdaThrottles = Object.fromEntries(
    options.functions.map((fn, index) => [
      `lambda${index}`,
      fn.function.metricThrottles({ statistic: 'Sum', period: PERIOD }),
    ]),
  );
  const throttled = new cloudwatch.MathExpression({
    expression: `SUM([${['api429', ...Object.keys(lambdaThrottles)].map((name) => `FILL(${name}, 0)`).join(', ')}])`,
    usingMetrics: { api429: m.throttledRequests, ...lambdaThrottles },
    label: 'Throttled (429 + Lambda)',
    period: PERIOD,
  });
  const throttledRate = rate('Throttled (%)', 'throttled', 'requests', {
    throttled,
    requests: apiRequests,
  });
  const dependencyErrors = new cloudwatch.MathExpression({
    expression: 'FILL(kms, 0) + FILL(dynamodb, 0)',
    usingMetrics: { kms: m.kmsErrors, dynamodb: m.dynamoDbErrors },
    label: 'KMS + DynamoDB errors',
    period: PERIOD,
  });
  const validations = Object.fromEntries(
    VALIDATION_OUTCOMES.map((outcome) => [
      outcome,
      metric(VALIDATION_METRICS.validations, 'Sum', {
        ns: consumers,
        dimensions: { outcome },
        label: outcome,
      }),
    ]),
  );
  const validationTotal = `(${VALIDATION_OUTCOMES.map((outcome) => `FILL(${outcome}, 0)`).join(' + ')})`;
  const validationUnavailable = rate(
    'Validations the STS could not decide (%)',
    'unavailable',
    validationTotal,
    validations,
  );
  const validationLatency = metric(VALIDATION_METRICS.latency, 'p99', {
    ns: consumers,
    dimensions: { outcome: 'valid' },
    label: 'Validation p99 (ms)',
  });
  return {
    metric,
    metrics,
    sli: {
      tokenErrorRate,
      denialRate,
      throttled,
      throttledRate,
      dependencyErrors,
      validations,
      validationUnavailable,
      validationLatency,
    },
  };
}
