import { type CfnElement, RemovalPolicy, type Stack } from 'aws-cdk-lib';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as sns from 'aws-cdk-lib/aws-sns';
import type { IConstruct } from 'constructs';
import { beforeAll, describe, expect, it } from 'vitest';
import { ACCESS_LOG_FIELDS, ACCESS_LOG_FORMAT } from '../../cdk/access-log.ts';
import { accessOf, HANDLER_ACCESS } from '../../cdk/handler-access.ts';
import { HANDLERS, ROUTES } from '../../lambdas/routes.ts';
import { ConfigError } from '../../lib/config/config.ts';
import { exampleConfig, type Synthesized, synthStack } from './synth.ts';

const logicalId = (stack: Stack, construct: IConstruct): string =>
  stack.getLogicalId(construct.node.defaultChild as CfnElement);
const ref = (id: string) => ({ Ref: id });
const arnOf = (id: string) => ({ 'Fn::GetAtt': [id, 'Arn'] });

interface Statement {
  readonly Action: string | string[];
  readonly Resource: unknown;
  readonly Effect: string;
}
const list = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

/** The statements of the policies attached to a role, flattened to (action, resource) pairs. */
function grantsOf(template: Template, roleId: string): Set<string> {
  const grants = new Set<string>();
  for (const policy of Object.values(template.findResources('AWS::IAM::Policy'))) {
    const roles = policy.Properties.Roles as unknown[];
    if (!roles.some((role) => JSON.stringify(role) === JSON.stringify(ref(roleId)))) continue;
    for (const statement of policy.Properties.PolicyDocument.Statement as Statement[]) {
      expect(statement.Effect).toBe('Allow');
      for (const action of list(statement.Action))
        for (const resource of list(statement.Resource)) grants.add(`${action} ${JSON.stringify(resource)}`);
    }
  }
  return grants;
}

describe('TokenService stack (example config)', () => {
  let synth: Synthesized;
  let template: Template;
  let keyId: string;
  let tableId: string;
  let apiId: string;

  beforeAll(() => {
    synth = synthStack();
    template = synth.template;
    keyId = logicalId(synth.stack, synth.stack.service.signingKey);
    tableId = logicalId(synth.stack, synth.stack.service.table);
    apiId = logicalId(synth.stack, synth.stack.service.api);
  });

  it('creates one asymmetric ECC_NIST_P256 signing key, retained, with an alias', () => {
    template.resourceCountIs('AWS::KMS::Key', 1);
    template.hasResource('AWS::KMS::Key', {
      Properties: { KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY', PendingWindowInDays: 30 },
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
    template.hasResourceProperties('AWS::KMS::Alias', {
      AliasName: 'alias/sts/Sts/primary',
      TargetKeyId: arnOf(keyId),
    });
  });

  it('creates the token table of DESIGN.md: pk string, TTL ttl, on-demand, PITR, protected and retained', () => {
    template.resourceCountIs('AWS::DynamoDB::Table', 1);
    template.hasResource('AWS::DynamoDB::Table', {
      Properties: {
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        BillingMode: 'PAY_PER_REQUEST',
        TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true },
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        DeletionProtectionEnabled: true,
      },
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
  });

  it('deploys one Node 22 arm64 function per handler module of the route table', () => {
    template.resourceCountIs('AWS::Lambda::Function', HANDLERS.length);
    expect([...synth.stack.service.functions.keys()].sort()).toEqual([...HANDLERS].sort());
    for (const [handler, fn] of synth.stack.service.functions) {
      const logGroup = fn.logGroup;
      template.hasResourceProperties('AWS::Lambda::Function', {
        Description: Match.stringLikeRegexp(ROUTES.find((route) => route.handler === handler)!.path),
        Runtime: 'nodejs22.x',
        Architectures: ['arm64'],
        Handler: 'index.handler',
        Timeout: 10,
        MemorySize: 1024,
        LoggingConfig: { LogGroup: ref(logicalId(synth.stack, logGroup)) },
        Environment: {
          Variables: {
            STS_CONFIG: '/var/task/sts.config.json',
            STS_ISSUER: { 'Fn::GetAtt': [apiId, 'ApiEndpoint'] },
            STS_SIGNER: 'kms',
            STS_KMS_KEY_IDS: arnOf(keyId),
            STS_TABLE_NAME: ref(tableId),
            NODE_OPTIONS: '--enable-source-maps',
          },
        },
      });
    }
  });

  it('routes exactly the route table, with IAM authorization where the table says iam', () => {
    template.resourceCountIs('AWS::ApiGatewayV2::Route', ROUTES.length);
    const routes = Object.values(template.findResources('AWS::ApiGatewayV2::Route'));
    const integrations = template.findResources('AWS::ApiGatewayV2::Integration');
    for (const route of ROUTES) {
      const found = routes.filter((r) => r.Properties.RouteKey === `${route.method} ${route.path}`);
      expect(found, `${route.method} ${route.path}`).toHaveLength(1);
      const properties = found[0]!.Properties;
      expect(properties.AuthorizationType).toBe(route.auth === 'iam' ? 'AWS_IAM' : 'NONE');
      // The route's integration invokes the function bundled from lambdas/<route.handler>.ts.
      const integrationId = properties.Target['Fn::Join'][1][1].Ref as string;
      const fn = synth.stack.service.functions.get(route.handler)!;
      expect(integrations[integrationId]!.Properties).toMatchObject({
        IntegrationType: 'AWS_PROXY',
        PayloadFormatVersion: '2.0',
        IntegrationUri: arnOf(logicalId(synth.stack, fn)),
      });
    }
    expect(ROUTES.some((route) => route.auth === 'iam')).toBe(true);
  });

  it('serves the $default stage with throttling and a JSON access log free of headers and bodies', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Api', {
      ProtocolType: 'HTTP',
      DisableExecuteApiEndpoint: false,
    });
    template.resourceCountIs('AWS::ApiGatewayV2::Stage', 1);
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200 },
      AccessLogSettings: {
        DestinationArn: Match.anyValue(),
        Format: Match.stringLikeRegexp('"status":\\$context.status'),
      },
    });
    const stage = Object.values(template.findResources('AWS::ApiGatewayV2::Stage'))[0]!;
    const format = stage.Properties.AccessLogSettings.Format as string;
    expect(format).toBe(ACCESS_LOG_FORMAT);
    expect(() => JSON.parse(format.replaceAll(/\$context\.[A-Za-z.]+/g, '0'))).not.toThrow();
    expect(format).not.toMatch(/requestBody|header|authorization/i);
  });

  it('logs method and route, and only values API Gateway chooses, so any request leaves valid JSON', () => {
    const variables = [...ACCESS_LOG_FORMAT.matchAll(/\$context\.[A-Za-z.]+/g)].map(([name]) => name);
    expect(variables).toEqual(Object.values(ACCESS_LOG_FIELDS));
    expect(variables).toEqual(expect.arrayContaining(['$context.httpMethod', '$context.routeKey']));
    // Client-controlled or free-text values API Gateway does not escape: never logged.
    for (const forbidden of [
      'userAgent',
      'path',
      'querystring',
      'header',
      'error',
      'integrationErrorMessage',
      'domainPrefix',
    ])
      expect(
        variables.some((name) => name.toLowerCase().includes(forbidden.toLowerCase())),
        forbidden,
      ).toBe(false);
    // What API Gateway writes for each (the widest values it produces), pasted unescaped: JSON.
    const values: Record<string, string> = {
      '$context.requestId': 'KL3jZgVRoAMEbXg=',
      '$context.requestTime': '30/Nov/2026:10:00:00 +0000',
      '$context.identity.sourceIp': '2001:db8::1',
      '$context.httpMethod': 'PROPFIND',
      '$context.routeKey': '-',
      '$context.status': '404',
      '$context.responseLength': '-',
      '$context.responseLatency': '12',
      '$context.integrationLatency': '-',
      '$context.integrationStatus': '-',
      '$context.integration.requestId': '-',
      '$context.identity.userArn':
        'arn:aws:sts::111122223333:assumed-role/ops-admin/alice+ops=x,y.z@example.com',
    };
    const line = ACCESS_LOG_FORMAT.replaceAll(/\$context\.[A-Za-z.]+/g, (name) => values[name]!);
    expect(JSON.parse(line)).toMatchObject({ method: 'PROPFIND', routeKey: '-', status: 404 });
    // The reason: a User-Agent pasted the same way breaks the line (negative control).
    expect(() => JSON.parse(`{"userAgent":"${'curl/8 "x\\'}"}`)).toThrow();
  });

  it('names the API from the stack', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Api', { Name: 'Sts-TokenService' });
  });

  describe('IAM', () => {
    it('uses no wildcard action or resource, and no managed policy', () => {
      for (const [id, policy] of Object.entries(template.findResources('AWS::IAM::Policy'))) {
        for (const statement of policy.Properties.PolicyDocument.Statement as Statement[]) {
          for (const action of list(statement.Action)) expect(action, id).not.toContain('*');
          for (const resource of list(statement.Resource))
            expect(JSON.stringify(resource), id).not.toContain('*');
        }
      }
      for (const role of Object.values(template.findResources('AWS::IAM::Role'))) {
        expect(role.Properties.ManagedPolicyArns).toBeUndefined();
      }
    });

    it.each(HANDLERS)(
      'grants %s exactly its logs, the published keys and its own table access',
      (handler) => {
        const fn = synth.stack.service.functions.get(handler)!;
        const roleId = logicalId(synth.stack, fn.role!);
        const logGroupId = logicalId(synth.stack, fn.logGroup);
        const access = HANDLER_ACCESS[handler]!;
        const expected = new Set([
          `logs:CreateLogStream ${JSON.stringify(arnOf(logGroupId))}`,
          `logs:PutLogEvents ${JSON.stringify(arnOf(logGroupId))}`,
          `kms:GetPublicKey ${JSON.stringify(arnOf(keyId))}`,
          ...(access.sign ? [`kms:Sign ${JSON.stringify(arnOf(keyId))}`] : []),
          ...access.table.flatMap((grant) =>
            grant.actions.map((action) => `${action} ${JSON.stringify(arnOf(tableId))}`),
          ),
        ]);
        expect(grantsOf(template, roleId)).toEqual(expected);
      },
    );

    it('lets only the token handler sign, and the public-key handlers never touch the table', () => {
      const signers = HANDLERS.filter((handler) =>
        [
          ...grantsOf(template, logicalId(synth.stack, synth.stack.service.functions.get(handler)!.role!)),
        ].some((grant) => grant.startsWith('kms:Sign ')),
      );
      expect(signers).toEqual(['token']);
      for (const handler of ['jwks', 'metadata']) {
        const grants = grantsOf(
          template,
          logicalId(synth.stack, synth.stack.service.functions.get(handler)!.role!),
        );
        expect([...grants].filter((grant) => grant.startsWith('dynamodb:'))).toEqual([]);
      }
    });
  });

  describe('operations', () => {
    // Metrics, alarms and the dashboard: test/cdk/monitoring.test.ts.
    it('builds a dashboard and keeps every log group a year', () => {
      template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
      template.resourceCountIs('AWS::Logs::LogGroup', HANDLERS.length + 1);
      template.allResourcesProperties('AWS::Logs::LogGroup', { RetentionInDays: 365 });
    });

    it('outputs the issuer URL, token endpoint and JWKS URL', () => {
      const endpoint = { 'Fn::GetAtt': [apiId, 'ApiEndpoint'] };
      template.hasOutput('IssuerUrl', { Value: endpoint });
      template.hasOutput('TokenEndpoint', { Value: { 'Fn::Join': ['', [endpoint, '/token']] } });
      template.hasOutput('JwksUrl', { Value: { 'Fn::Join': ['', [endpoint, '/.well-known/jwks.json']] } });
    });
  });
});

describe('TokenService props', () => {
  it('serves a custom domain: the issuer is the domain, the execute-api URL is disabled', () => {
    const { stack, template } = synthStack((imports) => ({
      customDomain: { domainName: 'sts.example.com', hostedZone: zone(imports) },
    }));
    expect(stack.service.issuer).toBe('https://sts.example.com');
    template.hasResourceProperties('AWS::ApiGatewayV2::Api', { DisableExecuteApiEndpoint: true });
    template.hasResourceProperties('AWS::ApiGatewayV2::DomainName', {
      DomainName: 'sts.example.com',
      DomainNameConfigurations: [Match.objectLike({ SecurityPolicy: 'TLS_1_2', EndpointType: 'REGIONAL' })],
    });
    template.resourceCountIs('AWS::ApiGatewayV2::ApiMapping', 1);
    template.hasResourceProperties('AWS::CertificateManager::Certificate', {
      DomainName: 'sts.example.com',
      ValidationMethod: 'DNS',
    });
    template.hasResourceProperties('AWS::Route53::RecordSet', { Name: 'sts.example.com.', Type: 'A' });
    template.hasOutput('IssuerUrl', { Value: 'https://sts.example.com' });
    template.hasOutput('TokenEndpoint', { Value: 'https://sts.example.com/token' });
    template.allResourcesProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ STS_ISSUER: 'https://sts.example.com' }) },
    });
  });

  it('refuses a custom domain the config issuer does not name, with a ConfigError', () => {
    const synth = () =>
      synthStack((imports) => ({
        customDomain: { domainName: 'auth.example.com', hostedZone: zone(imports) },
      }));
    expect(synth).toThrow(ConfigError);
    expect(synth).toThrow(/issuer: "https:\/\/sts\.example\.com" must be "https:\/\/auth\.example\.com"/);
  });

  it('publishes next, previous and external keys; lists the active key first', () => {
    const externalArn = 'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';
    const { stack, template } = synthStack((imports) => ({
      signingKey: { name: 'k2' },
      nextKey: { name: 'k3', keySpec: kms.KeySpec.RSA_2048, algorithm: 'PS256' },
      previousKey: { name: 'primary' },
      externalPublishedKeys: [{ key: kms.Key.fromKeyArn(imports, 'External', externalArn) }],
    }));
    const id = (name: string) => logicalId(stack, stack.service.keys.get(name)!);
    template.resourceCountIs('AWS::KMS::Key', 3);
    template.hasResourceProperties('AWS::KMS::Key', { KeySpec: 'RSA_2048', KeyUsage: 'SIGN_VERIFY' });
    template.allResourcesProperties('AWS::Lambda::Function', {
      Environment: {
        Variables: Match.objectLike({
          STS_KMS_KEY_IDS: {
            'Fn::Join': [
              '',
              [arnOf(id('k2')), ',', arnOf(id('k3')), '#PS256,', arnOf(id('primary')), `,${externalArn}`],
            ],
          },
        }),
      },
    });
    // The key keeps its logical id (and so its KMS key) when it moves from signing to previous.
    const initial = synthStack().stack;
    expect(id('primary')).toBe(logicalId(initial, initial.service.signingKey));

    const tokenRole = logicalId(stack, stack.service.functions.get('token')!.role!);
    const grants = [...grantsOf(template, tokenRole)];
    // Only the first key signs (STS_KMS_KEY_IDS), but the token role may sign with every key the
    // stack owns, so a rotation never takes the grant from a running container
    // (test/cdk/keys.test.ts); an external key is never signed with.
    expect(grants.filter((grant) => grant.startsWith('kms:Sign ')).sort()).toEqual(
      ['k2', 'k3', 'primary'].map((name) => `kms:Sign ${JSON.stringify(arnOf(id(name)))}`).sort(),
    );
    expect(grants.filter((grant) => grant.startsWith('kms:GetPublicKey ')).sort()).toEqual(
      [...['k2', 'k3', 'primary'].map((name) => JSON.stringify(arnOf(id(name)))), JSON.stringify(externalArn)]
        .map((resource) => `kms:GetPublicKey ${resource}`)
        .sort(),
    );
  });

  it.each([
    [{ signingKey: { name: 'a' }, previousKey: { name: 'a' } }, /key "a" is named twice/],
    [
      { signingKey: { name: 'a', keySpec: kms.KeySpec.RSA_2048, algorithm: 'ES256' as const } },
      /signs RS256 or PS256/,
    ],
    [{ signingKey: { name: 'a', algorithm: 'PS256' as const } }, /ECC_NIST_P256, which signs ES256/],
    [{ signingKey: { name: 'a', keySpec: kms.KeySpec.ECC_SECG_P256K1 } }, /has spec ECC_SECG_P256K1/],
    [{ signingKey: { name: 'a b' } }, /key name "a b"/],
  ])('refuses key props %#', (props, message) => {
    expect(() => synthStack(props)).toThrow(message);
  });

  it('sends alarms to the topic, throttles and retains as told', () => {
    const topicArn = 'arn:aws:sns:eu-west-1:111122223333:ops';
    const { template } = synthStack((imports) => ({
      alarmTopic: sns.Topic.fromTopicArn(imports, 'Topic', topicArn),
      throttle: { rateLimit: 5, burstLimit: 10 },
      tableRemovalPolicy: RemovalPolicy.DESTROY,
      alarmThresholds: { tokenLatencyP99Ms: 250 },
    }));
    template.allResourcesProperties('AWS::CloudWatch::Alarm', {
      AlarmActions: [topicArn],
      OKActions: [topicArn],
    });
    const latency = Object.values(template.findResources('AWS::CloudWatch::Alarm')).filter(
      (alarm) =>
        singleMetric(alarm.Properties)?.Metric.MetricName === 'Latency' &&
        JSON.stringify(singleMetric(alarm.Properties)).includes('"token"'),
    );
    expect(latency.map((alarm) => alarm.Properties.Threshold)).toEqual([250]);
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      DefaultRouteSettings: { ThrottlingRateLimit: 5, ThrottlingBurstLimit: 10 },
    });
    template.hasResource('AWS::DynamoDB::Table', {
      Properties: Match.objectLike({ DeletionProtectionEnabled: false }),
      DeletionPolicy: 'Delete',
    });
    template.allResources('AWS::Logs::LogGroup', { DeletionPolicy: 'Delete' });
    template.allResources('AWS::KMS::Key', { DeletionPolicy: 'Retain' });
  });

  it('names a handler without declared access instead of guessing its grants', () => {
    expect(accessOf('token')).toBe(HANDLER_ACCESS.token);
    expect(() => accessOf('reports')).toThrow(
      /handler "reports", which cdk\/handler-access.ts does not describe/,
    );
    const reports = {
      sign: false,
      table: [{ actions: ['dynamodb:GetItem' as const], items: ['token' as const] }],
    };
    expect(accessOf('reports', { reports })).toBe(reports);
  });

  it('gives the DPoP nonce secret to the token function only, and requires it when nonces are', () => {
    const config = { ...exampleConfig(), dpop: { requireNonce: true } };
    expect(() => synthStack({ config })).toThrow(/dpopNonceSecret/);
    const secret = Buffer.alloc(32, 7).toString('base64');
    const { template } = synthStack({ config, dpopNonceSecret: secret });
    const functions = Object.values(template.findResources('AWS::Lambda::Function')).filter(
      (fn) => fn.Properties.Environment?.Variables?.STS_CONFIG !== undefined,
    );
    const holders = functions.filter(
      (fn) => fn.Properties.Environment.Variables.STS_DPOP_NONCE_SECRET === secret,
    );
    expect(functions.length).toBeGreaterThan(1);
    expect(holders.map((fn) => fn.Properties.Description)).toEqual(['STS POST /token']);
  });

  it('accepts the config as an object', () => {
    const config = { ...exampleConfig(), tokenLifetime: { default: '2m', max: '10m' } };
    const { stack } = synthStack({ config });
    expect(stack.service.config.tokenLifetime).toEqual({ default: 120, max: 600 });
  });
});

/** The one metric of an alarm on a plain (labelled) metric. */
const singleMetric = (properties: { Metrics?: { MetricStat?: { Metric: { MetricName: string } } }[] }) =>
  properties.Metrics?.length === 1 ? properties.Metrics[0]!.MetricStat : undefined;

const zone = (scope: Stack) =>
  route53.HostedZone.fromHostedZoneAttributes(scope, 'Zone', {
    hostedZoneId: 'Z123',
    zoneName: 'example.com',
  });
