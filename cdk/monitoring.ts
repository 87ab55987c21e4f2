// Metrics, alarms and a dashboard for the token service, with no cost on the request path: the
// handlers already write one JSON line per decision (lib/shared/log.ts: `token.issued`,
// `token.refused` with `error` and `reason`, `request.failed` for every 5xx, each exchange with
// `duration_ms`), and CloudWatch metric filters turn those lines into metrics. API Gateway's own
// metrics give request counts, 5xx and latency; its JSON access log gives stage throttling (429).

import { Duration } from 'aws-cdk-lib';
import type { HttpApi } from 'aws-cdk-lib/aws-apigatewayv2';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { REASONS, reasonPrefix, TOKEN_CHECKS } from '../lib/shared/reasons.ts';

const PERIOD = Duration.minutes(5);

export interface AlarmThresholds {
  /** Percent of requests answered 5xx, per 5 minutes, in 2 of 3 periods. Default 1. */
  readonly errorRatePercent?: number;
  /** Refused token requests per 5 minutes (a burst of bad or hostile subject tokens). Default 100. */
  readonly refusalsPerPeriod?: number;
  /** API p95 latency in milliseconds, for 3 consecutive 5-minute periods. Default 1000. */
  readonly p95LatencyMs?: number;
  /** Throttled requests (stage 429s plus Lambda throttles) per 5 minutes. Default 1. */
  readonly throttledPerPeriod?: number;
  /** KMS or DynamoDB failures per 5 minutes, in 2 of 3 periods. Default 1. */
  readonly dependencyErrorsPerPeriod?: number;
}

export interface MonitoredFunction {
  readonly handler: string;
  readonly function: lambda.IFunction;
  readonly logGroup: logs.ILogGroup;
  /** Whether this function serves `POST /token` and so writes `token.*` lines. */
  readonly exchangesTokens: boolean;
}

export interface TokenServiceMonitoringProps {
  readonly api: HttpApi;
  readonly accessLogGroup: logs.ILogGroup;
  readonly functions: readonly MonitoredFunction[];
  /** Namespace of the log-derived metrics. */
  readonly namespace: string;
  readonly alarmTopic?: sns.ITopic;
  readonly thresholds?: AlarmThresholds;
  readonly dashboardName?: string;
}

/** The log-derived metrics, for callers who build their own alarms or widgets. */
export interface TokenServiceMetrics {
  readonly tokensIssued: cloudwatch.Metric;
  readonly tokenRefusals: cloudwatch.Metric;
  /** `TokenRefusals` by `reason` (one series per reason; the reasons are listed in lib/shared/reasons.ts). */
  readonly refusalsByReason: cloudwatch.MathExpression;
  readonly exchangeLatency: cloudwatch.Metric;
  readonly serverErrors: cloudwatch.Metric;
  readonly kmsErrors: cloudwatch.Metric;
  readonly dynamoDbErrors: cloudwatch.Metric;
  readonly throttledRequests: cloudwatch.Metric;
}

export const METRIC_NAMES = {
  tokensIssued: 'TokensIssued',
  tokenRefusals: 'TokenRefusals',
  exchangeLatency: 'ExchangeLatency',
  serverErrors: 'ServerErrors',
  kmsErrors: 'KmsErrors',
  dynamoDbErrors: 'DynamoDbErrors',
  throttledRequests: 'ThrottledRequests',
} as const;

const message = (text: string) => logs.FilterPattern.stringValue('$.message', '=', text);
const failedWith = (prefix: string) =>
  logs.FilterPattern.all(
    message('request.failed'),
    logs.FilterPattern.stringValue('$.reason', '=', `${prefix}*`),
  );

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

export class TokenServiceMonitoring extends Construct {
  readonly metrics: TokenServiceMetrics;
  readonly alarms: {
    readonly errorRate: cloudwatch.Alarm;
    readonly refusals: cloudwatch.Alarm;
    readonly latency: cloudwatch.Alarm;
    readonly throttling: cloudwatch.Alarm;
    readonly dependencies: cloudwatch.Alarm;
  };
  readonly dashboard: cloudwatch.Dashboard;

  constructor(scope: Construct, id: string, props: TokenServiceMonitoringProps) {
    super(scope, id);
    const { api, namespace } = props;
    const thresholds = props.thresholds ?? {};

    const filter = (
      logGroup: logs.ILogGroup,
      id: string,
      options: Omit<logs.MetricFilterOptions, 'metricNamespace'>,
    ) => new logs.MetricFilter(this, id, { logGroup, metricNamespace: namespace, ...options });

    props.functions.forEach((fn) => {
      const at = (name: string) => `${name}-${fn.handler}`;
      if (fn.exchangesTokens) {
        filter(fn.logGroup, at('TokensIssued'), {
          filterPattern: message('token.issued'),
          metricName: METRIC_NAMES.tokensIssued,
          metricValue: '1',
          unit: cloudwatch.Unit.COUNT,
        });
        filter(fn.logGroup, at('TokenRefusals'), {
          filterPattern: message('token.refused'),
          metricName: METRIC_NAMES.tokenRefusals,
          metricValue: '1',
          unit: cloudwatch.Unit.COUNT,
        });
        filter(fn.logGroup, at('TokenRefusalsByReason'), {
          filterPattern: message('token.refused'),
          metricName: METRIC_NAMES.tokenRefusals,
          metricValue: '1',
          dimensions: { reason: '$.reason' },
          unit: cloudwatch.Unit.COUNT,
        });
        filter(fn.logGroup, at('ExchangeLatency'), {
          filterPattern: logs.FilterPattern.any(
            message('token.issued'),
            message('token.refused'),
            message('request.failed'),
          ),
          metricName: METRIC_NAMES.exchangeLatency,
          metricValue: '$.duration_ms',
          unit: cloudwatch.Unit.MILLISECONDS,
        });
      }
      // `request.failed` is written once per 5xx by every handler (lambdas/http.ts), with the
      // reason the store or signer gave at its edge: `kms.<operation>.*`, `dynamodb.<operation>.*`.
      filter(fn.logGroup, at('ServerErrors'), {
        filterPattern: message('request.failed'),
        metricName: METRIC_NAMES.serverErrors,
        metricValue: '1',
        unit: cloudwatch.Unit.COUNT,
      });
      filter(fn.logGroup, at('KmsErrors'), {
        filterPattern: failedWith(reasonPrefix('kms')),
        metricName: METRIC_NAMES.kmsErrors,
        metricValue: '1',
        unit: cloudwatch.Unit.COUNT,
      });
      filter(fn.logGroup, at('DynamoDbErrors'), {
        filterPattern: failedWith(reasonPrefix('dynamodb')),
        metricName: METRIC_NAMES.dynamoDbErrors,
        metricValue: '1',
        unit: cloudwatch.Unit.COUNT,
      });
    });
    filter(props.accessLogGroup, 'ThrottledRequests', {
      filterPattern: logs.FilterPattern.numberValue('$.status', '=', 429),
      metricName: METRIC_NAMES.throttledRequests,
      metricValue: '1',
      unit: cloudwatch.Unit.COUNT,
    });

    const logMetric = (metricName: string, statistic = 'Sum', label?: string) =>
      new cloudwatch.Metric({ namespace, metricName, statistic, period: PERIOD, label: label ?? metricName });
    this.metrics = {
      tokensIssued: logMetric(METRIC_NAMES.tokensIssued),
      tokenRefusals: logMetric(METRIC_NAMES.tokenRefusals),
      refusalsByReason: new cloudwatch.MathExpression({
        expression: `SEARCH('{${namespace},reason} MetricName="${METRIC_NAMES.tokenRefusals}"', 'Sum', ${PERIOD.toSeconds()})`,
        usingMetrics: {},
        label: 'Refusals by reason',
        period: PERIOD,
      }),
      exchangeLatency: logMetric(METRIC_NAMES.exchangeLatency, 'p95', 'Exchange p95 (ms)'),
      serverErrors: logMetric(METRIC_NAMES.serverErrors),
      kmsErrors: logMetric(METRIC_NAMES.kmsErrors),
      dynamoDbErrors: logMetric(METRIC_NAMES.dynamoDbErrors),
      throttledRequests: logMetric(METRIC_NAMES.throttledRequests),
    };

    const requests = api.metricCount({ statistic: 'Sum', period: PERIOD, label: 'Requests' });
    const server5xx = api.metricServerError({ period: PERIOD, label: '5xx' });
    const client4xx = api.metricClientError({ period: PERIOD, label: '4xx' });
    const latency = (statistic: string) =>
      api.metricLatency({ statistic, period: PERIOD, label: `Latency ${statistic}` });

    const errorRate = new cloudwatch.MathExpression({
      expression: 'IF(requests > 0, 100 * errors / requests, 0)',
      usingMetrics: { requests, errors: server5xx },
      label: '5xx rate (%)',
      period: PERIOD,
    });
    const lambdaThrottles = Object.fromEntries(
      props.functions.map((fn, index) => [
        `lambda${index}`,
        fn.function.metricThrottles({ statistic: 'Sum', period: PERIOD }),
      ]),
    );
    const throttled = new cloudwatch.MathExpression({
      expression: `SUM([${['api429', ...Object.keys(lambdaThrottles)].map((name) => `FILL(${name}, 0)`).join(', ')}])`,
      usingMetrics: { api429: this.metrics.throttledRequests, ...lambdaThrottles },
      label: 'Throttled (429 + Lambda)',
      period: PERIOD,
    });
    const dependencyErrors = new cloudwatch.MathExpression({
      expression: 'FILL(kms, 0) + FILL(dynamodb, 0)',
      usingMetrics: { kms: this.metrics.kmsErrors, dynamodb: this.metrics.dynamoDbErrors },
      label: 'KMS + DynamoDB errors',
      period: PERIOD,
    });

    const alarm = (
      id: string,
      metric: cloudwatch.IMetric,
      threshold: number,
      description: string,
      evaluation: { periods: number; datapoints: number },
      comparisonOperator = cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
    ) => {
      const created = new cloudwatch.Alarm(this, id, {
        metric,
        threshold,
        comparisonOperator,
        evaluationPeriods: evaluation.periods,
        datapointsToAlarm: evaluation.datapoints,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        alarmDescription: description,
      });
      if (props.alarmTopic) {
        created.addAlarmAction(new SnsAction(props.alarmTopic));
        created.addOkAction(new SnsAction(props.alarmTopic));
      }
      return created;
    };
    const atLeast = cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD;
    this.alarms = {
      errorRate: alarm(
        'ErrorRateAlarm',
        errorRate,
        thresholds.errorRatePercent ?? 1,
        'More than the allowed percentage of STS requests ended in 5xx (KMS, DynamoDB or a bug): see ServerErrors, KmsErrors, DynamoDbErrors and the request.failed log lines.',
        { periods: 3, datapoints: 2 },
      ),
      refusals: alarm(
        'RefusalSpikeAlarm',
        this.metrics.tokenRefusals,
        thresholds.refusalsPerPeriod ?? 100,
        'A spike of refused token exchanges: a misconfigured client or policy, or someone probing. The dashboard splits refusals by reason.',
        { periods: 1, datapoints: 1 },
      ),
      latency: alarm(
        'LatencyP95Alarm',
        latency('p95'),
        thresholds.p95LatencyMs ?? 1000,
        'STS p95 latency stayed high for 15 minutes (KMS or DynamoDB slow, cold starts, or a slow issuer JWKS).',
        { periods: 3, datapoints: 3 },
      ),
      throttling: alarm(
        'ThrottlingAlarm',
        throttled,
        thresholds.throttledPerPeriod ?? 1,
        'Requests were throttled by the API stage (429) or by Lambda concurrency: raise the throttling props or the account limits.',
        { periods: 1, datapoints: 1 },
        atLeast,
      ),
      dependencies: alarm(
        'DependencyErrorsAlarm',
        dependencyErrors,
        thresholds.dependencyErrorsPerPeriod ?? 1,
        'KMS or DynamoDB calls failed (throttled, unavailable or denied); callers got 503 or 500.',
        { periods: 3, datapoints: 2 },
        atLeast,
      ),
    };

    const graph = (title: string, left: cloudwatch.IMetric[], width = 8) =>
      new cloudwatch.GraphWidget({ title, left, width, height: 6 });
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: props.dashboardName,
      defaultInterval: Duration.hours(3),
    });
    this.dashboard.addWidgets(
      new cloudwatch.AlarmStatusWidget({
        title: 'Alarms',
        alarms: Object.values(this.alarms),
        width: 24,
        height: 3,
      }),
    );
    this.dashboard.addWidgets(
      graph('Tokens issued and refused', [this.metrics.tokensIssued, this.metrics.tokenRefusals]),
      graph('Refusals by reason', [this.metrics.refusalsByReason]),
      graph('Requests, 4xx, 5xx', [requests, client4xx, server5xx]),
    );
    this.dashboard.addWidgets(new cloudwatch.TextWidget({ markdown: refusalLegend(), width: 24, height: 6 }));
    this.dashboard.addWidgets(
      graph('Latency (API, ms)', [
        latency('p50'),
        latency('p95'),
        latency('p99'),
        this.metrics.exchangeLatency,
      ]),
      graph('Errors: server, KMS, DynamoDB', [
        errorRate,
        this.metrics.serverErrors,
        this.metrics.kmsErrors,
        this.metrics.dynamoDbErrors,
      ]),
      graph('Throttling', [throttled]),
    );
    this.dashboard.addWidgets(
      graph(
        'Lambda duration p95 (ms)',
        props.functions.map((fn) => fn.function.metricDuration({ statistic: 'p95', label: fn.handler })),
        12,
      ),
      graph(
        'Lambda errors and throttles',
        props.functions.flatMap((fn) => [
          fn.function.metricErrors({ label: `${fn.handler} errors` }),
          fn.function.metricThrottles({ label: `${fn.handler} throttles` }),
        ]),
        12,
      ),
    );
  }
}
