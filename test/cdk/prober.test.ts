import { type CfnElement, Duration, type Stack } from 'aws-cdk-lib';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import type { IConstruct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import { type Synthesized, synthStack } from './synth.ts';

/**
 * The prober on the synthesized template: a function EventBridge runs every minute, its issuer key
 * in KMS that only it may Sign with, the key published by the prober-jwks route, the prober policy
 * switched on for the service, and introspection granted to the prober alone.
 */
const logicalId = (stack: Stack, construct: IConstruct): string =>
  stack.getLogicalId(construct.node.defaultChild as CfnElement);
const arnOf = (id: string) => ({ 'Fn::GetAtt': [id, 'Arn'] });

/** Every (action, resource) an IAM policy attached to `roleId` allows. */
function grantsOf(template: Template, roleId: string): string[] {
  const grants: string[] = [];
  for (const policy of Object.values(template.findResources('AWS::IAM::Policy'))) {
    if (!JSON.stringify(policy.Properties.Roles).includes(`"${roleId}"`)) continue;
    for (const statement of policy.Properties.PolicyDocument.Statement) {
      const actions = [statement.Action].flat();
      const resources = [statement.Resource].flat();
      for (const action of actions)
        for (const resource of resources) grants.push(`${action} ${JSON.stringify(resource)}`);
    }
  }
  return grants;
}

describe('TokenService with the prober', () => {
  let synth: Synthesized;
  let template: Template;
  let keyId: string;
  let proberRole: string;

  beforeAll(() => {
    synth = synthStack({ prober: {} });
    template = synth.template;
    const prober = synth.stack.service.prober!;
    keyId = logicalId(synth.stack, prober.key);
    proberRole = logicalId(synth.stack, prober.function.role!);
  });

  it('runs the prober every minute, without retries', () => {
    const functionId = logicalId(synth.stack, synth.stack.service.prober!.function);
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 minute)',
      State: 'ENABLED',
      Targets: [Match.objectLike({ Arn: arnOf(functionId), RetryPolicy: { MaximumRetryAttempts: 0 } })],
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('^STS prober'),
      ReservedConcurrentExecutions: 1,
      Timeout: 55,
      Environment: {
        Variables: Match.objectLike({
          STS_PROBER_KEY_ID: arnOf(keyId),
          STS_METRICS_NAMESPACE: 'ServerlessSTS/Sts',
          STS_ISSUER: Match.anyValue(),
        }),
      },
    });
  });

  it('keeps the prober issuer key in KMS: ECC P-256, Sign only for the prober role', () => {
    template.hasResourceProperties('AWS::KMS::Key', { KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' });
    const signers = Object.entries(template.findResources('AWS::IAM::Role'))
      .filter(([id]) => grantsOf(template, id).includes(`kms:Sign ${JSON.stringify(arnOf(keyId))}`))
      .map(([id]) => id);
    expect(signers).toEqual([proberRole]);
    expect(grantsOf(template, proberRole)).toEqual(
      expect.arrayContaining([
        `kms:Sign ${JSON.stringify(arnOf(keyId))}`,
        `kms:GetPublicKey ${JSON.stringify(arnOf(keyId))}`,
      ]),
    );
  });

  it("denies kms:Sign on the prober key, in the key's own policy, to every principal but the prober role", () => {
    const key = template.findResources('AWS::KMS::Key')[keyId]!;
    const statements = key.Properties.KeyPolicy.Statement as Record<string, unknown>[];
    const denies = statements.filter((statement) => statement.Effect === 'Deny');
    expect(denies).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          Sid: 'DenySignExceptNamedRoles',
          Action: 'kms:Sign',
          Principal: { AWS: '*' },
          Condition: { ArnNotEquals: { 'aws:PrincipalArn': [arnOf(proberRole)] } },
        }),
        expect.objectContaining({
          Sid: 'DenySignWithoutMessageType',
          Condition: { StringNotEquals: { 'kms:MessageType': ['DIGEST'] } },
        }),
        expect.objectContaining({
          Sid: 'DenySignWithoutSigningAlgorithm',
          Condition: { StringNotEquals: { 'kms:SigningAlgorithm': ['ECDSA_SHA_256'] } },
        }),
      ]),
    );
  });

  it('lets the prober invoke POST /introspect and nothing on the table', () => {
    const grants = grantsOf(template, proberRole);
    expect(grants.filter((grant) => grant.startsWith('execute-api:Invoke'))).toHaveLength(1);
    expect(grants.find((grant) => grant.startsWith('execute-api:Invoke'))).toContain('/POST/introspect');
    expect(grants.filter((grant) => grant.startsWith('dynamodb:'))).toEqual([]);
  });

  it('publishes the key through the prober-jwks function, which alone may read it', () => {
    const jwks = synth.stack.service.functions.get('prober-jwks')!;
    const jwksId = logicalId(synth.stack, jwks);
    expect(
      template.findResources('AWS::Lambda::Function')[jwksId]!.Properties.Environment.Variables
        .STS_PROBER_KEY_ID,
    ).toEqual(arnOf(keyId));
    const readers = Object.entries(template.findResources('AWS::IAM::Role'))
      .filter(([id]) => grantsOf(template, id).includes(`kms:GetPublicKey ${JSON.stringify(arnOf(keyId))}`))
      .map(([id]) => id)
      .sort();
    expect(readers).toEqual([proberRole, logicalId(synth.stack, jwks.role!)].sort());
  });

  it('switches the prober policy on in every service function', () => {
    for (const fn of synth.stack.service.functions.values()) {
      const variables =
        template.findResources('AWS::Lambda::Function')[logicalId(synth.stack, fn)]!.Properties.Environment
          .Variables;
      expect(variables.STS_PROBER).toBe('on');
    }
  });
});

describe('TokenService without the prober', () => {
  it('has no prober, no schedule, and the prober policy off', () => {
    const { stack, template } = synthStack();
    expect(stack.service.prober).toBeUndefined();
    template.resourcePropertiesCountIs('AWS::Events::Rule', { ScheduleExpression: Match.anyValue() }, 0);
    for (const fn of stack.service.functions.values()) {
      const variables =
        template.findResources('AWS::Lambda::Function')[logicalId(stack, fn)]!.Properties.Environment
          .Variables;
      expect(variables.STS_PROBER).toBeUndefined();
    }
  });
});

describe('the prober revocation wait', () => {
  const proberVariables = (synth: Synthesized) =>
    synth.template.findResources('AWS::Lambda::Function')[
      logicalId(synth.stack, synth.stack.service.prober!.function)
    ]!.Properties.Environment.Variables;

  it('is 30 s by default and tells the function a chosen one', () => {
    expect(proberVariables(synthStack({ prober: {} })).STS_PROBER_REVOCATION_WAIT).toBe('30s');
    const chosen = synthStack({ prober: { revocationWait: Duration.seconds(12) } });
    expect(proberVariables(chosen).STS_PROBER_REVOCATION_WAIT).toBe('12s');
  });

  it.each([
    ['longer than the run can wait', Duration.seconds(41)],
    ['zero', Duration.seconds(0)],
    ['not whole seconds', Duration.millis(1500)],
  ])('is refused at synth when %s', (_what, revocationWait) => {
    expect(() => synthStack({ prober: { revocationWait } })).toThrow(
      /^prober\.revocationWait: expected whole seconds from 1 to 40/,
    );
  });
});
