// The SLIs of the token service as CloudWatch metrics, alarms and a dashboard. Every service
// metric is an EMF line its function writes (lib/shared/emf.ts; names in
// lib/shared/metric-names.ts), so no metric filter reads the audit log; the one exception is API
// Gateway's own throttling (429), which only its access log records. Each alarm's meaning and
// first checks are in docs/operations.md, under the alarm's id. Thresholds default to the SLI
// targets and are props.

import { Annotations, Duration } from 'aws-cdk-lib';
import type { HttpApi } from 'aws-cdk-lib/aws-apigatewayv2';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import {
  EXCHANGE_METRICS,
  PROBER_METRICS,
  REQUEST_METRICS,
  VALIDATION_METRICS,
} from '../lib/shared/metric-names.ts';
import { REASONS, TOKEN_CHECKS } from '../lib/shared/reasons.ts';
import { DEFAULT_CONSUMER_NAMESPACE } from '../lib/verify/validation-metrics.ts';

const PERIOD = Duration.minutes(5);
const MINUTE = Duration.minutes(1);

/** Every alarm's threshold; defaults are the SLI targets (docs/operations.md). */
export interface AlarmThresholds {
  /** M5: percent of `POST /token` answers that are 5xx (2 of 3 five-minute periods). Default 1. */
  readonly tokenErrorRatePercent?: number;
  /** p99 of `POST /token` handling, milliseconds (three five-minute periods). Default 1000. */
  readonly tokenLatencyP99Ms?: number;
  /** M4: percent of exchanges refused (three five-minute periods). Default 25. */
  readonly denialRatePercent?: number;
  /** M3: p99 of the trust-policy decision, milliseconds (three periods). Default 5. */
  readonly policyEvaluationP99Ms?: number;
  /** M7: largest issued token, bytes (one period). Default 4096. */
  readonly maxTokenBytes?: number;
  /** KMS and DynamoDB failures per five minutes (2 of 3 periods). Default 1. */
  readonly dependencyErrorsPerPeriod?: number;
  /** Percent of API requests throttled (stage 429 or Lambda throttles; three periods). Default 5. */
  readonly throttledPercent?: number;
  /** Percent of the account's KMS cryptographic request quota used (3 of 5 minutes). Default 80. */
  readonly kmsQuotaPercent?: number;
  /** M1: percent of consumers' validations that failed because the STS could not be reached. Default 1. */
  readonly validationUnavailablePercent?: number;
  /** M2: p99 of consumers' successful validations, milliseconds (three periods). Default 50. */
  readonly validationLatencyP99Ms?: number;
  /** M9: revocation propagation lag seen by the prober, milliseconds (2 of 3 minutes). Default 15000. */
  readonly revocationLagMs?: number;
  /**
   * Requests per five minutes below which the rate alarms (5xx, denials, throttling, validation)
   * stay quiet, so a handful of requests (one stranger) cannot page; the prober covers a quiet
   * outage. Default 20.
   */
  readonly minRequestsPerPeriod?: number;
}

export interface MonitoredFunction {
  readonly handler: string;
  readonly function: lambda.IFunction;
}

export interface TokenServiceMonitoringProps {
  readonly api: HttpApi;
  readonly accessLogGroup: logs.ILogGroup;
  readonly functions: readonly MonitoredFunction[];
  /** Namespace of the service's EMF metrics (the functions' `STS_METRICS_NAMESPACE`). */
  readonly namespace: string;
  /** Namespace the consumers' verifiers write to (validationMetrics). Default `ServerlessSTS/Consumers`. */
  readonly consumerNamespace?: string;
  /** Where alarms and their recovery go. Without one, synth warns: the alarms would page no one. */
  readonly alarmTopic?: sns.ITopic;
  readonly thresholds?: AlarmThresholds;
  readonly dashboardName?: string;
  /** Whether the prober runs (cdk/prober.ts): adds its failure and revocation-lag alarms. */
  readonly prober?: boolean;
  /** The KMS request quota the signing key counts against (AWS/Usage `Resource`). Default ECC. */
  readonly kmsQuotaResource?: 'CryptographicOperationsEcc' | 'CryptographicOperationsRsa';
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

/** The alarms by SLI; the prober's exist only with `prober: true`. */
export interface TokenServiceAlarms {
  readonly tokenErrorRate: cloudwatch.Alarm;
  readonly tokenLatency: cloudwatch.Alarm;
  readonly denialRate: cloudwatch.Alarm;
  readonly policyEvaluation: cloudwatch.Alarm;
  readonly tokenSize: cloudwatch.Alarm;
  readonly dependencies: cloudwatch.Alarm;
  readonly throttling: cloudwatch.Alarm;
  readonly kmsQuota: cloudwatch.Alarm;
  readonly validationUnavailable: cloudwatch.Alarm;
  readonly validationLatency: cloudwatch.Alarm;
  readonly probeFailures?: Readonly<Record<'exchange' | 'refusal' | 'revocation', cloudwatch.Alarm>>;
  readonly revocationLag?: cloudwatch.Alarm;
}

/** Metric name of the one metric filter (API Gateway's 429s, from its access log). */
export const THROTTLED_REQUESTS = 'ThrottledRequests';
const VALIDATION_OUTCOMES = ['valid', 'missing', 'malformed', 'invalid', 'insufficient_scope', 'unavailable'];
export const PROBES = ['exchange', 'refusal', 'revocation'] as const;

export class TokenServiceMonitoring extends Construct {
  readonly metrics: TokenServiceMetrics;
  readonly alarms: TokenServiceAlarms;
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: TokenServiceMonitoringProps) {
    super(scope, id);
    const { api, namespace } = props;
    const t = props.thresholds ?? {};
    const consumers = props.consumerNamespace ?? DEFAULT_CONSUMER_NAMESPACE;
    const minRequests = t.minRequestsPerPeriod ?? 20;

    new logs.MetricFilter(this, THROTTLED_REQUESTS, {
      logGroup: props.accessLogGroup,
      metricNamespace: namespace,
      filterPattern: logs.FilterPattern.numberValue('$.status', '=', 429),
      metricName: THROTTLED_REQUESTS,
      metricValue: '1',
      unit: cloudwatch.Unit.COUNT,
    });

    const metric = (
      metricName: string,
      statistic: string,
      options: { dimensions?: Record<string, string>; period?: Duration; label?: string; ns?: string } = {},
    ) =>
      new cloudwatch.Metric({
        namespace: options.ns ?? namespace,
        metricName,
        statistic,
        period: options.period ?? PERIOD,
        dimensionsMap: options.dimensions,
        label: options.label ?? metricName,
      });
    const byHandler = (name: string, statistic: string, handler: string, label: string) =>
      metric(name, statistic, { dimensions: { handler }, label });
    const kmsUsage = new cloudwatch.Metric({
      namespace: 'AWS/Usage',
      metricName: 'CallCount',
      dimensionsMap: {
        Service: 'KMS',
        Type: 'API',
        Resource: props.kmsQuotaResource ?? 'CryptographicOperationsEcc',
        Class: 'None',
      },
      statistic: 'Sum',
      period: MINUTE,
    });
    this.metrics = {
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
    const m = this.metrics;

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
      props.functions.map((fn, index) => [
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

    const alarm = (
      id: string,
      source: cloudwatch.IMetric,
      threshold: number,
      evaluation: { periods: number; datapoints: number },
      missing: cloudwatch.TreatMissingData,
      description: string,
      comparisonOperator = cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    ) => {
      const created = new cloudwatch.Alarm(this, id, {
        metric: source,
        threshold,
        comparisonOperator,
        evaluationPeriods: evaluation.periods,
        datapointsToAlarm: evaluation.datapoints,
        treatMissingData: missing,
        alarmDescription: `${description} Runbook: docs/operations.md#${id.toLowerCase()}`,
      });
      if (props.alarmTopic) {
        created.addAlarmAction(new SnsAction(props.alarmTopic));
        created.addOkAction(new SnsAction(props.alarmTopic));
      }
      return created;
    };
    // No data means no traffic (nothing failed, nothing was slow); a silent outage is what the
    // prober's alarms catch, and they treat missing data as breaching.
    const quiet = cloudwatch.TreatMissingData.NOT_BREACHING;
    const atLeast = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD;
    const three = { periods: 3, datapoints: 3 };
    const twoOfThree = { periods: 3, datapoints: 2 };
    const alarms: Record<string, unknown> = {
      tokenErrorRate: alarm(
        'TokenErrorRateAlarm',
        tokenErrorRate,
        t.tokenErrorRatePercent ?? 1,
        twoOfThree,
        quiet,
        'POST /token answered 5xx to more than the allowed share of requests (M5).',
      ),
      tokenLatency: alarm(
        'TokenLatencyP99Alarm',
        m.latency('token'),
        t.tokenLatencyP99Ms ?? 1000,
        three,
        quiet,
        'POST /token p99 handling time stayed above its target for 15 minutes.',
      ),
      denialRate: alarm(
        'DenialRateAlarm',
        denialRate,
        t.denialRatePercent ?? 25,
        three,
        quiet,
        'A large share of token exchanges is refused (M4): a broken client or policy change, or probing.',
      ),
      policyEvaluation: alarm(
        'PolicyEvaluationAlarm',
        m.policyEvaluationTime,
        t.policyEvaluationP99Ms ?? 5,
        three,
        quiet,
        'Trust-policy evaluation p99 stayed above its target (M3): too many or too broad policies.',
      ),
      tokenSize: alarm(
        'TokenSizeAlarm',
        m.issuedTokenSize,
        t.maxTokenBytes ?? 4096,
        { periods: 1, datapoints: 1 },
        quiet,
        'An issued token was larger than relying parties may accept in a header (M7).',
      ),
      dependencies: alarm(
        'DependencyErrorsAlarm',
        dependencyErrors,
        t.dependencyErrorsPerPeriod ?? 1,
        twoOfThree,
        quiet,
        'KMS or DynamoDB calls failed (throttled, unavailable or denied): callers got 503 or 500.',
        atLeast,
      ),
      throttling: alarm(
        'ThrottlingAlarm',
        throttledRate,
        t.throttledPercent ?? 5,
        three,
        quiet,
        'A sustained share of API requests was throttled (stage 429 or Lambda concurrency).',
      ),
      kmsQuota: alarm(
        'KmsQuotaAlarm',
        m.kmsQuotaUsage,
        t.kmsQuotaPercent ?? 80,
        { periods: 5, datapoints: 3 },
        quiet,
        "The account's KMS cryptographic request rate is close to its quota: Sign will be throttled.",
      ),
      validationUnavailable: alarm(
        'ValidationUnavailableAlarm',
        validationUnavailable,
        t.validationUnavailablePercent ?? 1,
        three,
        quiet,
        'Consumers could not validate tokens because the STS JWKS, discovery or introspection was unreachable (M1).',
      ),
      validationLatency: alarm(
        'ValidationLatencyAlarm',
        validationLatency,
        t.validationLatencyP99Ms ?? 50,
        three,
        quiet,
        "Consumers' token validation p99 stayed above its target (M2).",
      ),
    };
    if (props.prober) {
      alarms.probeFailures = Object.fromEntries(
        PROBES.map((probe) => [
          probe,
          alarm(
            `ProbeFailure${probe[0]!.toUpperCase()}${probe.slice(1)}Alarm`,
            metric(PROBER_METRICS.failure, 'Maximum', {
              dimensions: { probe },
              period: MINUTE,
              label: probe,
            }),
            1,
            { periods: 5, datapoints: 3 },
            // The prober writes every minute: silence means it, or the region, is down.
            cloudwatch.TreatMissingData.BREACHING,
            `The ${probe} probe failed in 3 of the last 5 minutes, or the prober stopped reporting.`,
            atLeast,
          ),
        ]),
      );
      alarms.revocationLag = alarm(
        'RevocationLagAlarm',
        metric(PROBER_METRICS.revocationLag, 'Maximum', { period: MINUTE, label: 'Revocation lag (ms)' }),
        t.revocationLagMs ?? 15_000,
        twoOfThree,
        // A missing lag means the revocation probe failed, which its own alarm reports.
        quiet,
        'Introspection kept accepting a revoked token longer than the revocation SLO (M9).',
      );
    }
    this.alarms = alarms as unknown as TokenServiceAlarms;

    if (!props.alarmTopic) {
      Annotations.of(this).addWarningV2(
        'sts:no-alarm-topic',
        'TokenService has no alarmTopic: its alarms notify no one. Set alarmTopic (or -c alarmTopicArn=...).',
      );
    }

    const graph = (title: string, left: cloudwatch.IMetric[], width = 8, right: cloudwatch.IMetric[] = []) =>
      new cloudwatch.GraphWidget({ title, left, right, width, height: 6 });
    const handlers = props.functions.map((fn) => fn.handler);
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: props.dashboardName,
      defaultInterval: Duration.hours(3),
    });
    this.dashboard.addWidgets(
      new cloudwatch.AlarmStatusWidget({
        title: 'Alarms',
        alarms: collectAlarms(this.alarms),
        width: 24,
        height: 4,
      }),
    );
    this.dashboard.addWidgets(
      graph(
        'Exchanges: issued, refused, failed (M4, M5)',
        [m.tokensIssued, m.tokenRefusals, m.tokenFailures],
        8,
        [denialRate, tokenErrorRate],
      ),
      graph('Refusals by reason', [m.refusalsByReason]),
      graph('Exchange and policy time (M3)', [m.exchangeLatency, m.latency('token')], 8, [
        m.policyEvaluationTime,
      ]),
    );
    this.dashboard.addWidgets(new cloudwatch.TextWidget({ markdown: refusalLegend(), width: 24, height: 6 }));
    this.dashboard.addWidgets(
      graph('Issued token size, bytes (M7)', [
        metric(EXCHANGE_METRICS.tokenSize, 'p50', { label: 'p50' }),
        metric(EXCHANGE_METRICS.tokenSize, 'p99', { label: 'p99' }),
        m.issuedTokenSize,
      ]),
      graph('Consumers: validations by outcome (M1)', Object.values(validations), 8, [validationUnavailable]),
      graph('Consumers: validation p50 / p99, ms (M2)', [
        metric(VALIDATION_METRICS.latency, 'p50', {
          ns: consumers,
          dimensions: { outcome: 'valid' },
          label: 'p50',
        }),
        validationLatency,
      ]),
    );
    this.dashboard.addWidgets(
      graph(
        'Requests by route handler',
        handlers.map((handler) => m.requests(handler)),
      ),
      graph(
        '5xx by route handler',
        handlers.map((handler) => m.serverErrors(handler)),
      ),
      graph(
        'p99 by route handler, ms',
        handlers.map((handler) => m.latency(handler)),
      ),
    );
    this.dashboard.addWidgets(
      graph('KMS and DynamoDB errors', [m.kmsErrors, m.dynamoDbErrors], 8, [
        metric(REQUEST_METRICS.dependencyErrors, 'Sum', {
          dimensions: { dependency: 'issuer_jwks' },
          label: 'issuer JWKS',
        }),
      ]),
      graph('Throttling', [throttled], 8, [throttledRate]),
      graph('KMS request quota used (%)', [m.kmsQuotaUsage]),
    );
    if (props.prober) {
      this.dashboard.addWidgets(
        graph(
          'Prober: failures by probe',
          PROBES.map((probe) =>
            metric(PROBER_METRICS.failure, 'Maximum', {
              dimensions: { probe },
              period: MINUTE,
              label: probe,
            }),
          ),
          12,
        ),
        graph(
          'Prober: revocation lag, ms (M9)',
          [metric(PROBER_METRICS.revocationLag, 'Maximum', { period: MINUTE, label: 'Revocation lag (ms)' })],
          12,
        ),
      );
    }
  }
}

/** The dashboard's legend for "Refusals by reason": the refusals of `POST /token`, from the registry. */
function refusalLegend(): string {
  const line = ([reason, meaning]: [string, string]) => `| \`${reason}\` | ${meaning} |`;
  const exchange = Object.entries(REASONS).filter(([reason]) => /^(request|policy)\./.test(reason));
  return [
    '### Refusal reasons of `POST /token`',
    'A presented token is refused as `subject_token.<check>` or `actor_token.<check>`. The full list is lib/shared/reasons.ts.',
    '',
    '| reason | meaning |',
    '| --- | --- |',
    ...Object.entries(TOKEN_CHECKS).map(([check, meaning]) => line([`<role>_token.${check}`, meaning])),
    ...exchange.map(line),
  ].join('\n');
}

function collectAlarms(alarms: TokenServiceAlarms): cloudwatch.IAlarm[] {
  const { probeFailures, revocationLag, ...rest } = alarms;
  return [
    ...Object.values(rest),
    ...(probeFailures ? Object.values(probeFailures) : []),
    ...(revocationLag ? [revocationLag] : []),
  ];
}
