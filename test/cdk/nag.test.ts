import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Validations } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as sns from 'aws-cdk-lib/aws-sns';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { describe, expect, it } from 'vitest';
import { HANDLERS, ROUTES } from '../../lambdas/routes.ts';
import { type Synthesized, synthStack } from './synth.ts';

const variants: [string, () => Synthesized][] = [
  ['the default stack', () => synthStack()],
  ['a stack in data-key signing mode', () => synthStack({ signingMode: 'data-key' })],
  [
    'a stack with every option: custom domain, rotation keys, alarm topic, prober',
    () =>
      synthStack((imports) => ({
        customDomain: {
          domainName: 'sts.example.com',
          hostedZone: route53.HostedZone.fromHostedZoneAttributes(imports, 'Zone', {
            hostedZoneId: 'Z123',
            zoneName: 'example.com',
          }),
        },
        signingKey: { name: 'k2' },
        nextKey: { name: 'k3', keySpec: kms.KeySpec.RSA_3072, algorithm: 'PS256' },
        previousKey: { name: 'primary' },
        alarmTopic: sns.Topic.fromTopicArn(imports, 'Topic', 'arn:aws:sns:eu-west-1:111122223333:ops'),
        prober: {},
      })),
  ],
];

/** Every acknowledgment recorded in the tree under `scope`: rule id and reason. */
function acknowledgments(scope: IConstruct): { path: string; id: string; reason: string }[] {
  return scope.node.findAll().flatMap((construct) =>
    construct.node.metadata
      .filter((entry) => entry.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY)
      .flatMap((entry) =>
        Object.entries(entry.data as Record<string, string>).map(([id, reason]) => ({
          path: construct.node.path,
          id: id.replace(/^annotation::/i, ''),
          reason,
        })),
      ),
  );
}

describe.each(variants)('cdk-nag AwsSolutions on %s', (_name, synth) => {
  const { stack } = synth();

  it('reports no unacknowledged error or warning', () => {
    const report = new AwsSolutionsChecks().validateScope(stack);
    expect(report.violations.map((violation) => `${violation.ruleName} (${violation.severity})`)).toEqual([]);
    expect(report.success).toBe(true);
  });

  it('leaves no error or warning annotation on the stack (but the missing alarm topic: monitoring.test.ts)', () => {
    expect(Annotations.fromStack(stack).findError('*', Match.anyValue())).toEqual([]);
    const warnings = Annotations.fromStack(stack).findWarning('*', Match.anyValue());
    expect(warnings.filter((warning) => !String(warning.entry.data).includes('sts:no-alarm-topic'))).toEqual(
      [],
    );
  });

  it('gives every acknowledgment a reason, and acknowledges only the expected rules', () => {
    const acks = acknowledgments(stack);
    for (const ack of acks) expect(ack.reason.length, `${ack.path} ${ack.id}`).toBeGreaterThan(40);
    expect(new Set(acks.map((ack) => ack.id))).toEqual(new Set(['AwsSolutions-L1', 'AwsSolutions-APIG4']));
    // Public routes only: an IAM route is never acknowledged as unauthenticated.
    const publicRoutes = ROUTES.filter((route) => route.auth === 'none');
    expect(acks.filter((ack) => ack.id === 'AwsSolutions-APIG4')).toHaveLength(publicRoutes.length);
    // Each function (data-key mode's rotation function and the prober too) is pinned to nodejs22.x on purpose, and says so.
    const functions = HANDLERS.length + (stack.service.dataKeys ? 1 : 0) + (stack.service.prober ? 1 : 0);
    expect(acks.filter((ack) => ack.id === 'AwsSolutions-L1')).toHaveLength(functions);
  });
});

it('passes CDK’s built-in CloudFormation template validation', () => {
  const { app } = synthStack({}, { validate: true });
  const report = join(app.outdir, 'validation-report.json');
  const violations = existsSync(report)
    ? (
        JSON.parse(readFileSync(report, 'utf8')) as {
          pluginReports: { pluginName: string; violations: { ruleName: string }[] }[];
        }
      ).pluginReports.flatMap((plugin) => plugin.violations.map((v) => `${plugin.pluginName}: ${v.ruleName}`))
    : [];
  // The one annotation of a stack without an alarm topic is the warning that no one is paged.
  expect(violations.filter((violation) => !violation.includes('sts:no-alarm-topic'))).toEqual([]);
}, 120_000);
