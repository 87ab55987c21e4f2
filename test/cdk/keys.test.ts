import type { CfnElement } from 'aws-cdk-lib';
import type { Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import type { IConstruct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import { KEY_CHANGE_EVENTS } from '../../cdk/key-policy.ts';
import type { TokenServiceProps } from '../../cdk/sts-construct.ts';
import type { StsStack } from '../../cdk/sts-stack.ts';
import { HANDLERS } from '../../lambdas/routes.ts';
import { type Synthesized, synthStack } from './synth.ts';

// Issue 18 items 1 and 2 on the synthesized template: only the token function's role can sign
// with a key the construct owns (key policy), and a rotation keeps every grant a running
// container needs (per-key IAM policies, and CloudFormation's order of update and cleanup).

type Json = Record<string, unknown>;
interface Statement {
  readonly Sid?: string;
  readonly Effect: 'Allow' | 'Deny';
  readonly Principal?: unknown;
  readonly Action: string | string[];
  readonly Resource: unknown;
  readonly Condition?: Record<string, Record<string, unknown>>;
}
const list = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);
const logicalId = (stack: StsStack, construct: IConstruct): string =>
  stack.getLogicalId(construct.node.defaultChild as CfnElement);
const arnOf = (id: string) => ({ 'Fn::GetAtt': [id, 'Arn'] });

const keyPolicy = (template: Template, keyId: string): Statement[] =>
  template.toJSON().Resources[keyId].Properties.KeyPolicy.Statement as Statement[];

/**
 * Evaluates the key policy's Deny statements for `kms:Sign` by `principalArn` (a resolved ARN
 * value of the template, or a literal) with the request's context. Enough IAM semantics for the
 * condition operators the construct writes: ArnNotEquals and StringNotEquals (a missing key
 * matches the negated operator, as in IAM).
 */
function keyPolicyDenies(statements: Statement[], principalArn: unknown, context: Record<string, string>) {
  const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);
  return statements.some((statement) => {
    if (statement.Effect !== 'Deny' || !list(statement.Action).includes('kms:Sign')) return false;
    return Object.entries(statement.Condition ?? {}).every(([operator, keys]) =>
      Object.entries(keys).every(([key, allowed]) => {
        const value = key === 'aws:PrincipalArn' ? principalArn : context[key];
        const matches = value !== undefined && list(allowed).some((candidate) => same(candidate, value));
        if (operator === 'ArnNotEquals' || operator === 'StringNotEquals') return !matches;
        throw new Error(`unexpected condition operator ${operator}`);
      }),
    );
  });
}

describe('signing key policy (item 1)', () => {
  let synth: Synthesized;
  let keyId: string;
  let tokenRole: { 'Fn::GetAtt': string[] };

  beforeAll(() => {
    synth = synthStack();
    keyId = logicalId(synth.stack, synth.stack.service.signingKey);
    tokenRole = arnOf(logicalId(synth.stack, synth.stack.service.functions.get('token')!.role!));
  });

  it('keeps key administration for the account and delegates Allow decisions to IAM', () => {
    const allows = keyPolicy(synth.template, keyId).filter((statement) => statement.Effect === 'Allow');
    expect(allows).toHaveLength(1);
    expect(allows[0]).toMatchObject({ Action: 'kms:*', Resource: '*' });
    expect(JSON.stringify(allows[0]!.Principal)).toContain(':root');
  });

  it('denies kms:Sign to every principal but the token role, and any Sign not a digest in ES256', () => {
    const statements = keyPolicy(synth.template, keyId);
    const denies = statements.filter((statement) => statement.Effect === 'Deny');
    expect(denies.map((statement) => statement.Sid).sort()).toEqual([
      'DenySignExceptNamedRoles',
      'DenySignWithoutMessageType',
      'DenySignWithoutSigningAlgorithm',
    ]);
    for (const deny of denies)
      expect(deny).toMatchObject({ Principal: { AWS: '*' }, Action: 'kms:Sign', Resource: '*' });
    expect(denies.find((deny) => deny.Sid === 'DenySignExceptNamedRoles')!.Condition).toEqual({
      ArnNotEquals: { 'aws:PrincipalArn': [tokenRole] },
    });

    const digest = { 'kms:MessageType': 'DIGEST', 'kms:SigningAlgorithm': 'ECDSA_SHA_256' };
    expect(keyPolicyDenies(statements, tokenRole, digest)).toBe(false);
    const others = [
      ...HANDLERS.filter((handler) => handler !== 'token').map((handler) =>
        arnOf(logicalId(synth.stack, synth.stack.service.functions.get(handler)!.role!)),
      ),
      'arn:aws:iam::111122223333:root',
      'arn:aws:iam::111122223333:role/Admin',
      'arn:aws:iam::111122223333:role/cdk-hnb659fds-cfn-exec-role-111122223333-eu-west-1',
    ];
    for (const principal of others)
      expect(keyPolicyDenies(statements, principal, digest), String(principal)).toBe(true);
    // The token role itself cannot sign raw messages (KMS would hash attacker-chosen input) or
    // with another algorithm, nor omit either value.
    expect(keyPolicyDenies(statements, tokenRole, { ...digest, 'kms:MessageType': 'RAW' })).toBe(true);
    expect(keyPolicyDenies(statements, tokenRole, { 'kms:SigningAlgorithm': 'ECDSA_SHA_256' })).toBe(true);
    expect(
      keyPolicyDenies(statements, tokenRole, { ...digest, 'kms:SigningAlgorithm': 'ECDSA_SHA_384' }),
    ).toBe(true);
  });

  it('grants the token role Sign with the same conditions in IAM, and no other role Sign', () => {
    const policies = Object.values(synth.template.findResources('AWS::IAM::Policy'));
    const signing = policies.filter((policy) =>
      (policy.Properties.PolicyDocument.Statement as Statement[]).some((s) =>
        list(s.Action).includes('kms:Sign'),
      ),
    );
    expect(signing).toHaveLength(1);
    expect(signing[0]!.Properties.Roles).toEqual([{ Ref: tokenRole['Fn::GetAtt'][0] }]);
    expect(signing[0]!.Properties.PolicyDocument.Statement).toEqual([
      {
        Effect: 'Allow',
        Action: 'kms:Sign',
        Resource: arnOf(keyId),
        Condition: {
          StringEquals: { 'kms:MessageType': ['DIGEST'], 'kms:SigningAlgorithm': ['ECDSA_SHA_256'] },
        },
      },
    ]);
  });

  it('pins each key to its own algorithm: RS256 and PS256 keys', () => {
    const { stack, template } = synthStack({
      signingKey: { name: 'rsa', keySpec: kms.KeySpec.RSA_2048 },
      nextKey: { name: 'pss', keySpec: kms.KeySpec.RSA_3072, algorithm: 'PS256' },
    });
    const algorithmOf = (name: string) =>
      keyPolicy(template, logicalId(stack, stack.service.keys.get(name)!)).find(
        (statement) => statement.Sid === 'DenySignWithoutSigningAlgorithm',
      )!.Condition!.StringNotEquals!['kms:SigningAlgorithm'];
    expect(algorithmOf('rsa')).toEqual(['RSASSA_PKCS1_V1_5_SHA_256']);
    expect(algorithmOf('pss')).toEqual(['RSASSA_PSS_SHA_256']);
  });

  it('reports a Sign by anyone else, and any change of the keys, through EventBridge to the alarm topic', () => {
    const topicArn = 'arn:aws:sns:eu-west-1:111122223333:ops';
    const { stack, template } = synthStack((imports) => ({
      alarmTopic: sns.Topic.fromTopicArn(imports, 'Topic', topicArn),
    }));
    const rules = template.toJSON().Resources as Record<string, { Type: string; Properties: Json }>;
    const rule = (construct: IConstruct) => rules[logicalId(stack, construct)]!.Properties;
    const key = arnOf(logicalId(stack, stack.service.signingKey));
    const role = arnOf(logicalId(stack, stack.service.functions.get('token')!.role!));

    const foreign = rule(stack.service.keyAlerts.foreignUse);
    // KMS Sign is a read-only management event: delivered only in this state.
    expect(foreign.State).toBe('ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS');
    expect(foreign.EventPattern).toEqual({
      source: ['aws.kms'],
      'detail-type': ['AWS API Call via CloudTrail'],
      detail: {
        eventSource: ['kms.amazonaws.com'],
        eventName: ['Sign'],
        resources: { ARN: [key] },
        userIdentity: {
          sessionContext: { sessionIssuer: { arn: [{ 'anything-but': [role] }, { exists: false }] } },
        },
      },
    });
    expect(foreign.Targets).toEqual([expect.objectContaining({ Arn: topicArn })]);

    const changes = rule(stack.service.keyAlerts.keyChanges);
    expect(changes.State).toBe('ENABLED');
    expect(changes.EventPattern).toMatchObject({
      detail: { eventName: [...KEY_CHANGE_EVENTS], resources: { ARN: [key] } },
    });
    expect(changes.Targets).toEqual([expect.objectContaining({ Arn: topicArn })]);
  });
});

// The rotation of docs/deploy.md, step by step, as construct props.
const STEPS: [string, Partial<TokenServiceProps>][] = [
  ['start', { signingKey: { name: 'primary' } }],
  ['1. publish', { signingKey: { name: 'primary' }, nextKey: { name: 'k2026' } }],
  ['2. activate', { signingKey: { name: 'k2026' }, previousKey: { name: 'primary' } }],
  ['3. retire', { signingKey: { name: 'k2026' } }],
];
const ALGORITHM_CHANGE: [string, Partial<TokenServiceProps>][] = [
  ['start', { signingKey: { name: 'primary' } }],
  [
    '1. publish',
    {
      signingKey: { name: 'primary' },
      nextKey: { name: 'rsa2026', keySpec: kms.KeySpec.RSA_3072, algorithm: 'PS256' },
    },
  ],
  [
    '2. activate',
    {
      signingKey: { name: 'rsa2026', keySpec: kms.KeySpec.RSA_3072, algorithm: 'PS256' },
      previousKey: { name: 'primary' },
    },
  ],
  ['3. retire', { signingKey: { name: 'rsa2026', keySpec: kms.KeySpec.RSA_3072, algorithm: 'PS256' } }],
];

interface Deployed {
  readonly synth: Synthesized;
  /** IAM policies by logical id: attached roles (logical ids) and `action keyLogicalId` grants. */
  readonly policies: Map<string, { roles: string[]; grants: string[] }>;
  /** What a container of this version calls: GetPublicKey on every listed key, Sign on the first. */
  readonly needs: (role: 'token' | 'jwks') => string[];
  readonly roleId: (handler: string) => string;
}

function deploy(props: Partial<TokenServiceProps>): Deployed {
  const synth = synthStack(props);
  const { stack, template } = synth;
  const policies = new Map<string, { roles: string[]; grants: string[] }>();
  for (const [id, policy] of Object.entries(template.findResources('AWS::IAM::Policy'))) {
    const grants = (policy.Properties.PolicyDocument.Statement as Statement[]).flatMap((statement) =>
      list(statement.Action).flatMap((action) =>
        list(statement.Resource).map(
          (resource) =>
            `${action} ${(resource as { 'Fn::GetAtt'?: string[] })['Fn::GetAtt']?.[0] ?? JSON.stringify(resource)}`,
        ),
      ),
    );
    policies.set(id, {
      roles: (policy.Properties.Roles as { Ref: string }[]).map((role) => role.Ref),
      grants,
    });
  }
  const listed = [props.signingKey, props.nextKey, props.previousKey]
    .filter((key) => key !== undefined)
    .map((key) => logicalId(stack, stack.service.keys.get(key.name)!));
  return {
    synth,
    policies,
    roleId: (handler) => logicalId(stack, stack.service.functions.get(handler)!.role!),
    needs: (role) => [
      ...listed.map((key) => `kms:GetPublicKey ${key}`),
      ...(role === 'token' ? [`kms:Sign ${listed[0]}`] : []),
    ],
  };
}

const grantsOf = (policies: Iterable<{ roles: string[]; grants: string[] }>, role: string): Set<string> =>
  new Set([...policies].filter((policy) => policy.roles.includes(role)).flatMap((policy) => policy.grants));

describe.each([
  ['same algorithm', STEPS],
  ['ES256 to PS256', ALGORITHM_CHANGE],
])('rotation grants, %s (item 2)', (_name, steps) => {
  const deployed = steps.map(([, props]) => deploy(props));

  it.each(steps.map(([step], index) => [step, index] as const))(
    'at %s, the token role may sign with every key the stack owns and read every listed key',
    (_step, index) => {
      const { synth, policies, roleId, needs } = deployed[index]!;
      const owned = [...synth.stack.service.keys.values()].map((key) => logicalId(synth.stack, key));
      const kmsGrants = (handler: string) =>
        [...grantsOf(policies.values(), roleId(handler))].filter((grant) => grant.startsWith('kms:')).sort();
      expect(kmsGrants('token')).toEqual([...owned.map((key) => `kms:Sign ${key}`), ...needs('jwks')].sort());
      expect(kmsGrants('jwks')).toEqual(needs('jwks').sort());
      // And every owned key's policy names the token role as its only signer.
      for (const key of owned) {
        const deny = keyPolicy(synth.template, key).find((s) => s.Sid === 'DenySignExceptNamedRoles');
        expect(deny?.Condition).toEqual({ ArnNotEquals: { 'aws:PrincipalArn': [arnOf(roleId('token'))] } });
      }
    },
  );

  it.each(steps.slice(1).map(([step], index) => [step, index] as const))(
    'deploying %s keeps every grant that old and new containers need until the update completes',
    (_step, index) => {
      const before = deployed[index]!;
      const after = deployed[index + 1]!;
      // CloudFormation updates and creates the new template's policies before the functions that
      // depend on them, and deletes the policies the new template lacks only in the cleanup phase,
      // after every function runs the new list. Meanwhile both versions' containers may start.
      const removed = [...before.policies].filter(([id]) => !after.policies.has(id)).map(([, p]) => p);
      const during = [...after.policies.values(), ...removed];
      for (const role of ['token', 'jwks'] as const) {
        const granted = grantsOf(during, after.roleId(role));
        for (const need of [...before.needs(role), ...after.needs(role)]) {
          expect(granted.has(need), `${role} needs ${need}`).toBe(true);
        }
      }
      // Every function waits for every key policy of the new template.
      const resources = after.synth.template.toJSON().Resources as Record<string, { DependsOn?: string[] }>;
      const keyPolicies = [...after.policies.keys()].filter((id) => !id.includes('DefaultPolicy'));
      for (const fn of after.synth.stack.service.functions.values()) {
        const dependsOn = resources[logicalId(after.synth.stack, fn)]!.DependsOn ?? [];
        for (const policy of keyPolicies) expect(dependsOn).toContain(policy);
      }
    },
  );

  it('retains the retired key when it leaves the template: tokens it signed may still be verified', () => {
    const before = deployed.at(-2)!.synth.template.findResources('AWS::KMS::Key');
    const after = deployed.at(-1)!.synth.template.findResources('AWS::KMS::Key');
    const retired = Object.keys(before).filter((id) => !(id in after));
    expect(retired).toHaveLength(1);
    expect(before[retired[0]!]).toMatchObject({ DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
  });
});
