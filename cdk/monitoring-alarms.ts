// The token service's alarms, one per SLI (the prober's only when it runs), each notifying the
// alarm topic on alarm and on recovery. No data means no traffic, except for the prober, which
// writes every minute. Each alarm's meaning and first checks are in docs/operations.md under its
// id; thresholds default to the SLI targets.

import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import { PROBER_METRICS } from '../lib/shared/metric-names.ts';
import {
  type MetricFactory,
  MINUTE,
  PROBES,
  type SliExpressions,
  type TokenServiceMetrics,
} from './monitoring-metrics.ts';

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

/** What the alarms watch and whom they notify. */
export interface AlarmsOptions {
  readonly metric: MetricFactory;
  readonly metrics: TokenServiceMetrics;
  readonly sli: SliExpressions;
  readonly thresholds: AlarmThresholds;
  readonly alarmTopic?: sns.ITopic;
  /** Whether the prober runs: adds its failure and revocation-lag alarms. */
  readonly prober?: boolean;
}

/** Every alarm, created in `scope` (the monitoring construct, so their ids stay its own). */
export function createAlarms(scope: Construct, options: AlarmsOptions): TokenServiceAlarms {
  const { metric, metrics: m, thresholds: t } = options;
  const {
    tokenErrorRate,
    denialRate,
    throttledRate,
    dependencyErrors,
    validationUnavailable,
    validationLatency,
  } = options.sli;
  const alarm = (
    id: string,
    source: cloudwatch.IMetric,
    threshold: number,
    evaluation: { periods: number; datapoints: number },
    missing: cloudwatch.TreatMissingData,
    description: string,
    comparisonOperator = cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
  ) => {
    const created = new cloudwatch.Alarm(scope, id, {
      metric: source,
      threshold,
      comparisonOperator,
      evaluationPeriods: evaluation.periods,
      datapointsToAlarm: evaluation.datapoints,
      treatMissingData: missing,
      alarmDescription: `${description} Runbook: docs/operations.md#${id.toLowerCase()}`,
    });
    if (options.alarmTopic) {
      created.addAlarmAction(new SnsAction(options.alarmTopic));
      created.addOkAction(new SnsAction(options.alarmTopic));
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
  if (options.prober) {
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
  return alarms as unknown as TokenServiceAlarms;
}
