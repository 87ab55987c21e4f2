import type { CfnElement, Stack } from 'aws-cdk-lib';
import { Annotations, Match, type Template } from 'aws-cdk-lib/assertions';
import * as sns from 'aws-cdk-lib/aws-sns';
import type { IConstruct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import { PROBES, THROTTLED_REQUESTS } from '../../cdk/monitoring.ts';
import { HANDLERS } from '../../lambdas/routes.ts';
import {
  EXCHANGE_METRICS,
  PROBER_METRICS,
  REQUEST_METRICS,
  VALIDATION_METRICS,
} from '../../lib/shared/metric-names.ts';
import { type Synthesized, synthStack } from './synth.ts';

/**
 * The SLIs on the synthesized template: one metrics mechanism (EMF from the functions, whose
 * namespace they are told), an alarm per SLI with the targets as default thresholds and a chosen
 * missing-data treatment, a dashboard graphing every metric, and a warning when no one is paged.
 */
const NAMESPACE = 'ServerlessSTS/Sts';
const CONSUMERS = 'ServerlessSTS/Consumers';

type Properties = Record<string, unknown>;
const logicalId = (stack: Stack, construct: IConstruct): string =>
  stack.getLogicalId(construct.node.defaultChild as CfnElement);

/** Every metric an alarm reads, as `namespace metric {dimensions} stat`. */
function metricsOf(properties: Properties): string[] {
  const entries = (properties.Metrics as Array<{ MetricStat?: Properties }> | undefined) ?? [];
  return entries
    .filter((entry) => entry.MetricStat)
    .map((entry) => {
      const stat = entry.MetricStat!;
      const metric = stat.Metric as {
        Namespace: string;
        MetricName: string;
        Dimensions?: { Name: string; Value: string }[];
      };
      const dims = (metric.Dimensions ?? []).map((d) => `${d.Name}=${d.Value}`).join(',');
      return `${metric.Namespace} ${metric.MetricName} {${dims}} ${stat.Stat} ${stat.Period}`;
    });
}
const expressionsOf = (properties: Properties): string[] =>
  ((properties.Metrics as Array<{ Expression?: string }> | undefined) ?? [])
    .map((entry) => entry.Expression)
    .filter((expression): expression is string => expression !== undefined);

describe('TokenService monitoring (no prober, no topic)', () => {
  let synth: Synthesized;
  let template: Template;
  let alarm: (construct: IConstruct) => Properties;

  beforeAll(() => {
    synth = synthStack();
    template = synth.template;
    alarm = (construct) =>
      template.findResources('AWS::CloudWatch::Alarm')[logicalId(synth.stack, construct)]!
        .Properties as Properties;
  });

  it('tells every function its metrics namespace and keeps a single metric filter (API Gateway 429s)', () => {
    for (const fn of synth.stack.service.functions.values()) {
      const resource = template.findResources('AWS::Lambda::Function')[logicalId(synth.stack, fn)]!;
      expect(resource.Properties.Environment.Variables.STS_METRICS_NAMESPACE).toBe(NAMESPACE);
    }
    template.resourceCountIs('AWS::Logs::MetricFilter', 1);
    template.hasResourceProperties('AWS::Logs::MetricFilter', {
      FilterPattern: '{ $.status = 429 }',
      MetricTransformations: [
        Match.objectLike({ MetricName: THROTTLED_REQUESTS, MetricNamespace: NAMESPACE }),
      ],
    });
  });

  it('has one alarm per SLI, each naming its runbook section', () => {
    template.resourceCountIs('AWS::CloudWatch::Alarm', 10);
    for (const [id, resource] of Object.entries(template.findResources('AWS::CloudWatch::Alarm'))) {
      expect(resource.Properties.AlarmDescription, id).toMatch(
        /Runbook: docs\/operations\.md#[a-z0-9]+alarm$/,
      );
      expect(resource.Properties.AlarmActions, id).toBeUndefined();
    }
  });

  it('M5: alarms on the token route own 5xx rate, not diluted by JWKS traffic, above a minimum volume', () => {
    const properties = alarm(synth.stack.service.monitoring.alarms.tokenErrorRate);
    expect(properties).toMatchObject({
      Threshold: 1,
      EvaluationPeriods: 3,
      DatapointsToAlarm: 2,
      TreatMissingData: 'notBreaching',
    });
    expect(expressionsOf(properties)).toEqual(['IF(requests >= 20, 100 * errors / requests, 0)']);
    expect(metricsOf(properties).sort()).toEqual([
      `${NAMESPACE} ${REQUEST_METRICS.requests} {handler=token} Sum 300`,
      `${NAMESPACE} ${REQUEST_METRICS.serverErrors} {handler=token} Sum 300`,
    ]);
  });

  it('alarms on the token route p99, M3 policy p99, M7 token size and M2 validation p99', () => {
    const { alarms } = synth.stack.service.monitoring;
    expect(alarm(alarms.tokenLatency)).toMatchObject({
      Threshold: 1000,
      EvaluationPeriods: 3,
      DatapointsToAlarm: 3,
    });
    expect(metricsOf(alarm(alarms.tokenLatency))).toEqual([
      `${NAMESPACE} ${REQUEST_METRICS.latency} {handler=token} p99 300`,
    ]);
    expect(alarm(alarms.policyEvaluation)).toMatchObject({ Threshold: 5 });
    expect(metricsOf(alarm(alarms.policyEvaluation))).toEqual([
      `${NAMESPACE} ${EXCHANGE_METRICS.policyTime} {} p99 300`,
    ]);
    expect(alarm(alarms.tokenSize)).toMatchObject({ Threshold: 4096, EvaluationPeriods: 1 });
    expect(metricsOf(alarm(alarms.tokenSize))).toEqual([
      `${NAMESPACE} ${EXCHANGE_METRICS.tokenSize} {} Maximum 300`,
    ]);
    expect(alarm(alarms.validationLatency)).toMatchObject({ Threshold: 50 });
    expect(metricsOf(alarm(alarms.validationLatency))).toEqual([
      `${CONSUMERS} ${VALIDATION_METRICS.latency} {outcome=valid} p99 300`,
    ]);
  });

  it('M4 and M1 are rates with a minimum volume', () => {
    const { alarms } = synth.stack.service.monitoring;
    const denial = alarm(alarms.denialRate);
    expect(denial).toMatchObject({ Threshold: 25 });
    expect(expressionsOf(denial)).toEqual([
      'IF((FILL(issued, 0) + refused) >= 20, 100 * refused / (FILL(issued, 0) + refused), 0)',
    ]);
    expect(metricsOf(denial).sort()).toEqual(
      [
        `${NAMESPACE} ${EXCHANGE_METRICS.refused} {} Sum 300`,
        `${NAMESPACE} ${EXCHANGE_METRICS.issued} {} Sum 300`,
      ].sort(),
    );
    const validation = alarm(alarms.validationUnavailable);
    expect(validation).toMatchObject({ Threshold: 1 });
    expect(expressionsOf(validation)[0]).toMatch(
      /^IF\(\(FILL\(valid, 0\) \+ .*\) >= 20, 100 \* unavailable \/ /,
    );
    expect(metricsOf(validation)).toContain(
      `${CONSUMERS} ${VALIDATION_METRICS.validations} {outcome=unavailable} Sum 300`,
    );
  });

  it('the throttling alarm is a sustained rate, so one stranger cannot page the team', () => {
    const properties = alarm(synth.stack.service.monitoring.alarms.throttling);
    expect(properties).toMatchObject({
      Threshold: 5,
      EvaluationPeriods: 3,
      DatapointsToAlarm: 3,
      TreatMissingData: 'notBreaching',
    });
    expect(expressionsOf(properties)).toContain('IF(requests >= 20, 100 * throttled / requests, 0)');
    const metrics = metricsOf(properties).join('\n');
    expect(metrics).toContain(`${NAMESPACE} ${THROTTLED_REQUESTS} {} Sum 300`);
    expect(metrics.match(/AWS\/Lambda Throttles/g)).toHaveLength(HANDLERS.length);
  });

  it('alarms on KMS request-quota usage through AWS/Usage and SERVICE_QUOTA', () => {
    const properties = alarm(synth.stack.service.monitoring.alarms.kmsQuota);
    expect(properties).toMatchObject({ Threshold: 80, EvaluationPeriods: 5, DatapointsToAlarm: 3 });
    expect(expressionsOf(properties)).toEqual(['100 * (usage / 60) / SERVICE_QUOTA(usage)']);
    expect(metricsOf(properties)).toEqual([
      'AWS/Usage CallCount {Class=None,Resource=CryptographicOperationsEcc,Service=KMS,Type=API} Sum 60',
    ]);
  });

  it('alarms on KMS and DynamoDB failures from the dependency dimension', () => {
    const properties = alarm(synth.stack.service.monitoring.alarms.dependencies);
    expect(metricsOf(properties).sort()).toEqual([
      `${NAMESPACE} ${REQUEST_METRICS.dependencyErrors} {dependency=dynamodb} Sum 300`,
      `${NAMESPACE} ${REQUEST_METRICS.dependencyErrors} {dependency=kms} Sum 300`,
    ]);
  });

  it('treats missing data as not breaching on every traffic alarm (no traffic, nothing failed)', () => {
    for (const resource of Object.values(template.findResources('AWS::CloudWatch::Alarm'))) {
      expect(resource.Properties.TreatMissingData).toBe('notBreaching');
    }
  });

  it('graphs every service and consumer metric on the dashboard', () => {
    const body = JSON.stringify(
      Object.values(template.findResources('AWS::CloudWatch::Dashboard'))[0]!.Properties,
    );
    for (const name of [
      ...Object.values(EXCHANGE_METRICS),
      ...Object.values(REQUEST_METRICS),
      ...Object.values(VALIDATION_METRICS),
      THROTTLED_REQUESTS,
    ]) {
      expect(body, name).toContain(`\\"${name}\\"`);
    }
    expect(body).not.toContain(PROBER_METRICS.failure);
  });

  it('warns at synth that the alarms notify no one', () => {
    Annotations.fromStack(synth.stack).hasWarning(
      '*',
      Match.stringLikeRegexp('no alarmTopic: its alarms notify no one'),
    );
  });
});

describe('TokenService monitoring with a topic, thresholds and the prober', () => {
  const topicArn = 'arn:aws:sns:eu-west-1:111122223333:ops';
  let synth: Synthesized;

  beforeAll(() => {
    synth = synthStack((imports) => ({
      alarmTopic: sns.Topic.fromTopicArn(imports, 'Topic', topicArn),
      alarmThresholds: { tokenErrorRatePercent: 2, revocationLagMs: 5000, minRequestsPerPeriod: 100 },
      prober: {},
    }));
  });

  it('sends every alarm and its recovery to the topic and does not warn', () => {
    synth.template.allResourcesProperties('AWS::CloudWatch::Alarm', {
      AlarmActions: [topicArn],
      OKActions: [topicArn],
    });
    const warnings = Annotations.fromStack(synth.stack).findWarning(
      '*',
      Match.stringLikeRegexp('no alarmTopic'),
    );
    expect(warnings).toEqual([]);
  });

  it('takes thresholds from props', () => {
    const { alarms } = synth.stack.service.monitoring;
    const properties =
      synth.template.findResources('AWS::CloudWatch::Alarm')[logicalId(synth.stack, alarms.tokenErrorRate)]!
        .Properties;
    expect(properties.Threshold).toBe(2);
    expect(expressionsOf(properties)).toEqual(['IF(requests >= 100, 100 * errors / requests, 0)']);
  });

  it('adds a failure alarm per probe (silence breaches) and the M9 revocation-lag alarm', () => {
    const { alarms } = synth.stack.service.monitoring;
    synth.template.resourceCountIs('AWS::CloudWatch::Alarm', 10 + PROBES.length + 1);
    const find = (construct: IConstruct) =>
      synth.template.findResources('AWS::CloudWatch::Alarm')[logicalId(synth.stack, construct)]!
        .Properties as Properties;
    for (const probe of PROBES) {
      const properties = find(alarms.probeFailures![probe]);
      expect(properties).toMatchObject({
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        EvaluationPeriods: 5,
        DatapointsToAlarm: 3,
        TreatMissingData: 'breaching',
      });
      expect(metricsOf(properties)).toEqual([
        `${NAMESPACE} ${PROBER_METRICS.failure} {probe=${probe}} Maximum 60`,
      ]);
    }
    const lag = find(alarms.revocationLag!);
    expect(lag).toMatchObject({ Threshold: 5000, TreatMissingData: 'notBreaching' });
    expect(metricsOf(lag)).toEqual([`${NAMESPACE} ${PROBER_METRICS.revocationLag} {} Maximum 60`]);
  });
});
