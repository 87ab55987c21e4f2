// The token service as one construct: KMS signing keys, the DynamoDB token table, one Lambda
// function per handler module of the route table (lambdas/routes.ts), the HTTP API with those
// routes and their authorization, and the metrics, alarms and dashboard that watch them. This
// module wires them together; the parts are modules of their own: its props
// (cdk/token-service-props.ts), the functions and their roles (cdk/handler-functions.ts), the
// routes (cdk/api-routes.ts), the custom domain (cdk/custom-domain.ts), throttles and reserved
// concurrency (cdk/throttling.ts), monitoring (cdk/monitoring.ts).

import { RemovalPolicy, Stack } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import {
  type DomainName,
  HttpApi,
  type HttpRoute,
  HttpStage,
  LogGroupLogDestination,
} from 'aws-cdk-lib/aws-apigatewayv2';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { ROUTES, type Route } from '../lambdas/routes.ts';
import type { Config } from '../lib/config/config.ts';
import { ACCESS_LOG_FORMAT } from './access-log.ts';
import { addRoutes } from './api-routes.ts';
import { CONFIG_PATH_IN_LAMBDA } from './bundling.ts';
import { createCustomDomain } from './custom-domain.ts';
import { DataKeySigning } from './data-key-signing.ts';
import { accessOf } from './handler-access.ts';
import { createHandlerFunctions } from './handler-functions.ts';
import { KeyUseAlerts } from './key-policy.ts';
import { TokenServiceMonitoring } from './monitoring.ts';
import { type ProberOptions, TokenServiceProber } from './prober.ts';
import { checkIssuerForDomain, stageConfig } from './service-config.ts';
import { SigningKeys } from './signing-keys.ts';
import { routeThrottles } from './throttling.ts';
import type { TokenServiceProps } from './token-service-props.ts';

export type { CustomDomainOptions } from './custom-domain.ts';
export { FUNCTION_TIMEOUT_SECONDS } from './handler-functions.ts';
export type { ExternalPublishedKey, KeyAlgorithm, SigningKeyOptions } from './signing-keys.ts';
export type { ThrottleOptions } from './throttling.ts';
export type { TokenServiceProps } from './token-service-props.ts';

export class TokenService extends Construct {
  /** The validated policy file, as the functions will load it (issuer aside, see `issuer`). */
  readonly config: Config;
  /** The issuer URL every token carries: `https://<custom domain>`, or the API's URL. */
  readonly issuer: string;
  readonly tokenEndpoint: string;
  readonly jwksUri: string;
  readonly table: dynamodb.Table;
  /** The active signing key, and every published key in `STS_KMS_KEY_IDS` order (active first). */
  readonly signingKey: kms.IKey;
  readonly publishedKeys: readonly kms.IKey[];
  /** Keys the construct created, by name. */
  readonly keys: ReadonlyMap<string, kms.Key>;
  readonly api: HttpApi;
  readonly stage: HttpStage;
  readonly domainName: DomainName | undefined;
  /**
   * One function per handler module, and where its code came from: the source module bundled at
   * synth (this repository) or the prebuilt bundle directory (the published package).
   */
  readonly functions: ReadonlyMap<string, lambda.Function>;
  readonly entries: ReadonlyMap<string, string>;
  /** The API routes, keyed `METHOD path` as in the route table. */
  readonly routes: ReadonlyMap<string, HttpRoute>;
  readonly monitoring: TokenServiceMonitoring;
  /** Data-key mode: the wrapping key, the rotation function and its schedule; else undefined. */
  readonly dataKeys: DataKeySigning | undefined;
  /** EventBridge rules: a Sign by anyone but the token function, and any change of the keys. */
  readonly keyAlerts: KeyUseAlerts;
  readonly prober: TokenServiceProber | undefined;

  constructor(scope: Construct, id: string, props: TokenServiceProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const staged = stageConfig(props.config);
    const domain = props.customDomain;
    if (domain) checkIssuerForDomain(staged, domain.domainName);
    this.config = staged.config;
    const records = props.tableRemovalPolicy ?? RemovalPolicy.RETAIN;
    const retention = props.logRetention ?? logs.RetentionDays.ONE_YEAR;

    // Signing keys: the active one signs; next, previous and external ones are only published.
    const keys = new SigningKeys(this, 'Keys', {
      signingKey: props.signingKey,
      nextKey: props.nextKey,
      previousKey: props.previousKey,
      externalPublishedKeys: props.externalPublishedKeys,
      aliasPrefix: props.keyAliasPrefix ?? `sts/${stack.stackName}`,
      removalPolicy: props.keyRemovalPolicy,
    });
    this.keys = keys.owned;
    this.signingKey = keys.active;
    this.publishedKeys = keys.published;

    // The token table (DESIGN.md): pk string, TTL attribute ttl.
    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: 'pk', type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
      timeToLiveAttribute: 'ttl',
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      deletionProtection: records !== RemovalPolicy.DESTROY,
      removalPolicy: records,
    });

    // The API first: without a custom domain its URL is the issuer the functions are told.
    this.api = new HttpApi(this, 'Api', {
      // Named from the stack, so the console and CLI tell several deployments apart.
      apiName: `${stack.stackName}-${id}`,
      description: `OAuth 2.0 Token Exchange (RFC 8693) STS: ${stack.stackName}`,
      createDefaultStage: false,
      // With a custom domain the issuer is the only address: IAM-authorized routes and tokens
      // are not reachable through a second, execute-api URL.
      disableExecuteApiEndpoint: domain !== undefined,
    });
    this.issuer = domain ? `https://${domain.domainName}` : this.api.apiEndpoint;
    this.tokenEndpoint = `${this.issuer}/token`;
    this.jwksUri = `${this.issuer}/.well-known/jwks.json`;

    this.domainName = domain ? createCustomDomain(this, domain) : undefined;
    const accessLogs = new logs.LogGroup(this, 'AccessLogs', { retention, removalPolicy: records });
    const throttles = routeThrottles(ROUTES, props.throttle, props.routeThrottles);
    this.stage = new HttpStage(this, 'Stage', {
      httpApi: this.api,
      stageName: '$default',
      autoDeploy: true,
      throttle: throttles.stage,
      accessLogSettings: {
        destination: new LogGroupLogDestination(accessLogs),
        format: AccessLogFormat.custom(ACCESS_LOG_FORMAT),
      },
      domainMapping: this.domainName ? { domainName: this.domainName } : undefined,
    });

    // One function per handler module of the route table.
    if (this.config.dpop.requireNonce && !props.dpopNonceSecret) {
      throw new Error('the config sets dpop.requireNonce: pass dpopNonceSecret (docs/dpop.md)');
    }
    const metricNamespace = props.metricNamespace ?? `ServerlessSTS/${stack.stackName}`;
    const baseEnvironment = {
      STS_CONFIG: CONFIG_PATH_IN_LAMBDA,
      STS_ISSUER: this.issuer,
      STS_SIGNER: 'kms',
      STS_KMS_KEY_IDS: keys.keyIds,
      STS_TABLE_NAME: this.table.tableName,
      STS_METRICS_NAMESPACE: metricNamespace,
      NODE_OPTIONS: '--enable-source-maps',
    };
    this.dataKeys =
      props.signingMode === 'data-key'
        ? new DataKeySigning(this, 'DataKeys', {
            table: this.table,
            environment: baseEnvironment,
            configFile: staged.file,
            aliasPrefix: props.keyAliasPrefix ?? `sts/${stack.stackName}`,
            keyRemovalPolicy: props.keyRemovalPolicy,
            logRetention: retention,
            logRemovalPolicy: records,
            memorySize: props.memorySize,
            rotation: props.dataKeyRotation,
          })
        : undefined;
    const environment = { ...baseEnvironment, ...this.dataKeys?.environment };
    const { functions, entries } = createHandlerFunctions(this, props, {
      table: this.table,
      environment,
      configFile: staged.file,
      retention,
      records,
      throttles,
    });
    this.functions = functions;
    this.entries = entries;

    // Key grants and key policies: every role reads the public keys; only the roles of signing
    // handlers may sign, and the key policies deny Sign to everyone else (cdk/key-policy.ts).
    const roles = [...functions.values()].map((fn) => fn.role as iam.Role);
    const minters = [...functions]
      .filter(([handler]) => accessOf(handler, props.handlerAccess).sign)
      .map(([, fn]) => fn.role as iam.Role);
    // Data-key mode: the minting roles Decrypt data keys instead; nobody signs with the KMS keys.
    const signers = this.dataKeys ? [] : minters;
    this.dataKeys?.grantUse(roles, minters, props.alarmTopic);
    const keyPolicies = keys.grantUse(roles, signers);
    for (const fn of functions.values()) for (const policy of keyPolicies) fn.node.addDependency(policy);
    this.keyAlerts = new KeyUseAlerts(this, 'KeyAlerts', {
      keys: [...keys.owned.values()],
      actions: ['kms:Sign'],
      principals: signers,
      topic: props.alarmTopic,
    });

    // The routes, exactly as the table says; `iam` routes use IAM authorization.
    this.routes = addRoutes(this.api, this.stage, functions, throttles);

    this.prober = props.prober
      ? this.createProber(props.prober, metricNamespace, retention, records)
      : undefined;
    this.monitoring = new TokenServiceMonitoring(this, 'Monitoring', {
      api: this.api,
      accessLogGroup: accessLogs,
      functions: [...functions].map(([handler, fn]) => ({ handler, function: fn })),
      namespace: metricNamespace,
      consumerNamespace: props.consumerMetricNamespace,
      alarmTopic: props.alarmTopic,
      thresholds: props.alarmThresholds,
      prober: this.prober !== undefined,
      kmsQuotaResource: String(props.signingKey?.keySpec ?? 'ECC').startsWith('RSA')
        ? 'CryptographicOperationsRsa'
        : 'CryptographicOperationsEcc',
    });
  }

  /**
   * Lets a principal call an IAM-authorized route, e.g. a resource server `POST /introspect` or
   * an operator `POST /admin/revoke`.
   */
  grantInvoke(grantee: iam.IGrantable, method: Route['method'], path: string): iam.Grant {
    const route = this.routes.get(`${method} ${path}`);
    if (!route) throw new Error(`TokenService: no route ${method} ${path} in lambdas/routes.ts`);
    return route.grantInvoke(grantee);
  }

  /** The prober, and what it needs of the service: its policy on, its key published. */
  private createProber(
    options: ProberOptions,
    metricNamespace: string,
    logRetention: logs.RetentionDays,
    removalPolicy: RemovalPolicy,
  ): TokenServiceProber {
    for (const fn of this.functions.values()) fn.addEnvironment('STS_PROBER', 'on');
    return new TokenServiceProber(this, 'Prober', {
      ...options,
      issuer: this.issuer,
      metricNamespace,
      jwksFunction: this.functions.get('prober-jwks')!,
      // This stage only: a wildcard stage is a broader grant than the prober needs (AwsSolutions-IAM5).
      grantIntrospection: (grantee) =>
        grantee.grantPrincipal.addToPrincipalPolicy(
          new iam.PolicyStatement({
            actions: ['execute-api:Invoke'],
            resources: [this.api.arnForExecuteApi('POST', '/introspect', this.stage.stageName)],
          }),
        ),
      logRetention,
      removalPolicy,
    });
  }
}
