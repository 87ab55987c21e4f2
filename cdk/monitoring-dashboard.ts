// The token service's dashboard: the alarms' states, then the SLIs (exchanges, refusals with
// the reason registry as legend, token size, consumers' validations), requests, errors and
// latency by handler, dependencies, throttling and the KMS quota, and the prober when it runs.

import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type { Construct } from 'constructs';
import {
  EXCHANGE_METRICS,
  PROBER_METRICS,
  REQUEST_METRICS,
  VALIDATION_METRICS,
} from '../lib/shared/metric-names.ts';
import { REASONS, TOKEN_CHECKS } from '../lib/shared/reasons.ts';
import type { TokenServiceAlarms } from './monitoring-alarms.ts';
import {
  type MetricFactory,
  MINUTE,
  type MonitoredFunction,
  PROBES,
  type SliExpressions,
  type TokenServiceMetrics,
} from './monitoring-metrics.ts';

/** What the dashboard shows. */
export interface DashboardOptions {
  readonly dashboardName?: string;
  readonly functions: readonly MonitoredFunction[];
  /** Namespace of the consumers' validation metrics. */
  readonly consumers: string;
  readonly metric: MetricFactory;
  readonly metrics: TokenServiceMetrics;
  readonly sli: SliExpressions;
  readonly alarms: TokenServiceAlarms;
  /** Whether the prober runs: adds its graphs. */
  readonly prober?: boolean;
}

/** The dashboard, created in `scope` (the monitoring construct) as `Dashboard`. */
export function createDashboard(scope: Construct, options: DashboardOptions): cloudwatch.Dashboard {
  const { consumers, metric, metrics: m } = options;
  const {
    tokenErrorRate,
    denialRate,
    throttled,
    throttledRate,
    validations,
    validationUnavailable,
    validationLatency,
  } = options.sli;
  const graph = (title: string, left: cloudwatch.IMetric[], width = 8, right: cloudwatch.IMetric[] = []) =>
    new cloudwatch.GraphWidget({ title, left, right, width, height: 6 });
  const handlers = options.functions.map((fn) => fn.handler);
  const dashboard = new cloudwatch.Dashboard(scope, 'Dashboard', {
    dashboardName: options.dashboardName,
    defaultInterval: Duration.hours(3),
  });
  dashboard.addWidgets(
    new cloudwatch.AlarmStatusWidget({
      title: 'Alarms',
      alarms: collectAlarms(options.alarms),
      width: 24,
      height: 4,
    }),
  );
  dashboard.addWidgets(
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
  dashboard.addWidgets(new cloudwatch.TextWidget({ markdown: refusalLegend(), width: 24, height: 6 }));
  dashboard.addWidgets(
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
  dashboard.addWidgets(
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
  dashboard.addWidgets(
    graph('KMS and DynamoDB errors', [m.kmsErrors, m.dynamoDbErrors], 8, [
      metric(REQUEST_METRICS.dependencyErrors, 'Sum', {
        dimensions: { dependency: 'issuer_jwks' },
        label: 'issuer JWKS',
      }),
    ]),
    graph('Throttling', [throttled], 8, [throttledRate]),
    graph('KMS request quota used (%)', [m.kmsQuotaUsage]),
  );
  if (options.prober) {
    dashboard.addWidgets(
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
  return dashboard;
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
