import type { Stack } from 'aws-cdk-lib';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import type { CfnElement } from 'aws-cdk-lib/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { HANDLERS } from '../../lambdas/routes.ts';
import { type Synthesized, synthStack } from './synth.ts';

/**
 * Data-key mode in one construct prop (issue 14): the rotation function and its schedule, and the
 * least-privilege grants and key policies of docs/data-key-signing.md.
 */
interface Statement {
  readonly Action: string | string[];
  readonly Resource: unknown;
  readonly Effect: string;
  readonly Condition?: Record<string, Record<string, unknown>>;
  readonly Principal?: unknown;
}
const list = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

/** Every Allow statement of the policies attached to a role. */
function statementsOf(template: Template, roleId: string): Statement[] {
  return Object.values(template.findResources('AWS::IAM::Policy')).flatMap((policy) =>
    (policy.Properties.Roles as unknown[]).some(
      (role) => JSON.stringify(role) === JSON.stringify({ Ref: roleId }),
    )
      ? (policy.Properties.PolicyDocument.Statement as Statement[])
      : [],
  );
}
const actionsOf = (statements: readonly Statement[]) => new Set(statements.flatMap((s) => list(s.Action)));
const logicalId = (stack: Stack, element: unknown) => stack.getLogicalId(element as CfnElement);

describe('TokenService with signingMode: data-key', () => {
  let synth: Synthesized;
  let template: Template;
  let wrappingKeyId: string;
  let rotationRoleId: string;
  const roleId = (handler: string) => {
    const fn = synth.stack.service.functions.get(handler)!;
    return logicalId(synth.stack, fn.role!.node.defaultChild);
  };

  beforeAll(() => {
    synth = synthStack({ signingMode: 'data-key' });
    template = synth.template;
    const dataKeys = synth.stack.service.dataKeys!;
    wrappingKeyId = logicalId(synth.stack, dataKeys.wrappingKey.node.defaultChild);
    rotationRoleId = logicalId(synth.stack, dataKeys.rotationFunction.role!.node.defaultChild);
  });

  it('runs a rotation function on a schedule, one at a time, told the wrapping key', () => {
    const rotation = synth.stack.service.dataKeys!.rotationFunction;
    const fnId = logicalId(synth.stack, rotation.node.defaultChild);
    const fn = template.findResources('AWS::Lambda::Function')[fnId]!;
    expect(fn.Properties.ReservedConcurrentExecutions).toBe(1);
    expect(fn.Properties.Environment.Variables).toMatchObject({
      STS_SIGNER: 'data-key',
      STS_DATA_KEY_KMS_KEY_ID: { 'Fn::GetAtt': [wrappingKeyId, 'Arn'] },
      STS_DATA_KEY_ROTATION_PERIOD: '86400s',
      STS_DATA_KEY_PUBLISH_LEAD: '600s',
    });
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(5 minutes)',
      Targets: Match.arrayWith([Match.objectLike({ Arn: { 'Fn::GetAtt': [fnId, 'Arn'] } })]),
    });
    template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true, KeySpec: Match.absent() });
  });

  it('every handler runs in data-key mode; none may Sign; only the token role may Decrypt', () => {
    for (const handler of HANDLERS) {
      const fn = synth.stack.service.functions.get(handler)!;
      const props =
        template.findResources('AWS::Lambda::Function')[logicalId(synth.stack, fn.node.defaultChild)]!;
      expect(props.Properties.Environment.Variables.STS_SIGNER, handler).toBe('data-key');
      const actions = actionsOf(statementsOf(template, roleId(handler)));
      expect(actions.has('kms:Sign'), handler).toBe(false);
      expect(actions.has('kms:Decrypt'), handler).toBe(handler === 'token');
      expect(actions.has('kms:GenerateDataKeyPairWithoutPlaintext'), handler).toBe(false);
    }
    const decrypt = statementsOf(template, roleId('token')).find((s) =>
      list(s.Action).includes('kms:Decrypt'),
    )!;
    expect(decrypt.Resource).toEqual({ 'Fn::GetAtt': [wrappingKeyId, 'Arn'] });
    expect(decrypt.Condition).toEqual({
      StringEquals: { 'kms:EncryptionContext:sts-purpose': ['token-signing-key'] },
    });
    // Every handler reads KEY# items only for the ring.
    const ring = statementsOf(template, roleId('jwks')).find((s) =>
      list(s.Action).includes('dynamodb:GetItem'),
    )!;
    expect(ring.Condition).toEqual({ 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['KEY#*'] } });
  });

  it('the rotation role may generate key pairs and write KEY# items, and nothing else', () => {
    const statements = statementsOf(template, rotationRoleId);
    const actions = actionsOf(statements);
    expect(actions.has('kms:Decrypt')).toBe(false);
    expect(actions.has('kms:Sign')).toBe(false);
    const generate = statements.find((s) =>
      list(s.Action).includes('kms:GenerateDataKeyPairWithoutPlaintext'),
    )!;
    expect(generate.Condition).toEqual({
      StringEquals: {
        'kms:DataKeyPairSpec': 'ECC_NIST_P256',
        'kms:EncryptionContext:sts-purpose': ['token-signing-key'],
      },
    });
    const table = statements.filter((s) => list(s.Action).some((action) => action.startsWith('dynamodb:')));
    expect(table.map((s) => s.Condition)).toEqual([
      { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['KEY#*'] } },
    ]);
  });

  it('key policies: Decrypt only by the token role, key pairs only by the rotation role, Sign by nobody', () => {
    const keys = template.findResources('AWS::KMS::Key');
    const wrapping = keys[wrappingKeyId]!.Properties.KeyPolicy.Statement as (Statement & { Sid?: string })[];
    const sid = (name: string) => wrapping.find((s) => s.Sid === name)!;
    expect(sid('DenyDecryptExceptNamedRoles').Condition).toEqual({
      ArnNotEquals: { 'aws:PrincipalArn': [{ 'Fn::GetAtt': [roleId('token'), 'Arn'] }] },
    });
    expect(list(sid('DenyGenerateDataKeyPairExceptNamedRoles').Action).sort()).toEqual([
      'kms:GenerateDataKeyPair',
      'kms:GenerateDataKeyPairWithoutPlaintext',
    ]);
    expect(sid('DenyGenerateDataKeyPairExceptNamedRoles').Condition).toEqual({
      ArnNotEquals: { 'aws:PrincipalArn': [{ 'Fn::GetAtt': [rotationRoleId, 'Arn'] }] },
    });
    expect(sid('DenyReEncrypt').Effect).toBe('Deny');
    const signing = logicalId(synth.stack, synth.stack.service.signingKey.node.defaultChild);
    const signingPolicy = keys[signing]!.Properties.KeyPolicy.Statement as (Statement & { Sid?: string })[];
    const denySign = signingPolicy.find((s) => s.Sid === 'DenySignExceptNamedRoles')!;
    expect(denySign.Effect).toBe('Deny');
    expect(denySign.Condition).toBeUndefined();
  });
});
