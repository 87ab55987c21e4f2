// The SLIs of the token service as CloudWatch metrics, alarms and a dashboard. Every service
// metric is an EMF line its function writes (lib/shared/emf.ts; names in
// lib/shared/metric-names.ts), so no metric filter reads the audit log; the one exception is API
// Gateway's own throttling (429), which only its access log records. Each alarm's meaning and
// first checks are in docs/operations.md, under the alarm's id. Thresholds default to the SLI
// targets and are props.
//
// The parts are modules of their own: the metrics, the metric filter and the SLI expressions
// (cdk/monitoring-metrics.ts), the alarms (cdk/monitoring-alarms.ts), the dashboard
// (cdk/monitoring-dashboard.ts).

import { Annotations } from 'aws-cdk-lib';
import type { HttpApi } from 'aws-cdk-lib/aws-apigatewayv2';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { DEFAULT_CONSUMER_NAMESPACE } from '../lib/verify/validation-metrics.ts';
import { type AlarmThresholds, createAlarms, type TokenServiceAlarms } from './monitoring-alarms.ts';
import { createDashboard } from './monitoring-dashboard.ts';
import { type MonitoredFunction, monitoringMetrics, type TokenServiceMetrics } from './monitoring-metrics.ts';

export type { AlarmThresholds, TokenServiceAlarms } from './monitoring-alarms.ts';
export type { MonitoredFunction, TokenServiceMetrics } from './monitoring-metrics.ts';
export { PROBES, THROTTLED_REQUESTS } from './monitoring-metrics.ts';

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

    const { metric, metrics, sli } = monitoringMetrics(this, {
      api,
      accessLogGroup: props.accessLogGroup,
      functions: props.functions,
      namespace,
      consumers,
      minRequests,
      kmsQuotaResource: props.kmsQuotaResource,
    });
    this.metrics = metrics;
    this.alarms = createAlarms(this, {
      metric,
      metrics,
      sli,
      thresholds: t,
      alarmTopic: props.alarmTopic,
      prober: props.prober,
    });

    if (!props.alarmTopic) {
      Annotations.of(this).addWarningV2(
        'sts:no-alarm-topic',
        'TokenService has no alarmTopic: its alarms notify no one. Set alarmTopic (or -c alarmTopicArn=...).',
      );
    }

    this.dashboard = createDashboard(this, {
      dashboardName: props.dashboardName,
      functions: props.functions,
      consumers,
      metric,
      metrics,
      sli,
      alarms: this.alarms,
      prober: props.prober,
    });
  }
}
