// The token service as one construct: KMS signing keys, the DynamoDB token table, one Lambda
// function per handler module of the route table (lambdas/routes.ts), the HTTP API with those
// routes and their authorization, and the metrics, alarms and dashboard that watch them.

import { Annotations, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import {
  type CfnStage,
  DomainName,
  HttpApi,
  HttpMethod,
  type HttpRoute,
  HttpStage,
  LogGroupLogDestination,
  SecurityPolicy,
} from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpIamAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as route53 from 'aws-cdk-lib/aws-route53';
import { ApiGatewayv2DomainProperties } from 'aws-cdk-lib/aws-route53-targets';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { HANDLERS, ROUTES, type Route } from '../lambdas/routes.ts';
import type { Config } from '../lib/config/config.ts';
import { ACCESS_LOG_FORMAT } from './access-log.ts';
import { CONFIG_PATH_IN_LAMBDA } from './bundling.ts';
import { type DataKeyRotationOptions, DataKeySigning } from './data-key-signing.ts';
import { accessOf, type HandlerAccess, tableConditions } from './handler-access.ts';
import { handlerFunction, handlerSource } from './handler-code.ts';
import { KeyUseAlerts } from './key-policy.ts';
import { type AlarmThresholds, TokenServiceMonitoring } from './monitoring.ts';
import { type ProberOptions, TokenServiceProber } from './prober.ts';
import { type ConfigSource, checkIssuerForDomain, stageConfig } from './service-config.ts';
import { type ExternalPublishedKey, type SigningKeyOptions, SigningKeys } from './signing-keys.ts';
import { concurrencyFor, routeThrottles, type Throttle, type ThrottleOptions } from './throttling.ts';

export type { ExternalPublishedKey, KeyAlgorithm, SigningKeyOptions } from './signing-keys.ts';
export type { ThrottleOptions } from './throttling.ts';

/** Every function's timeout; the service answers by itself before it (lambdas/define-handler.ts). */
export const FUNCTION_TIMEOUT_SECONDS = 10;

export interface CustomDomainOptions {
  /** e.g. `sts.example.com`; the config's `issuer` must then be `https://sts.example.com`. */
  readonly domainName: string;
  /** Regional ACM certificate for the name; created and DNS-validated in `hostedZone` when omitted. */
  readonly certificate?: acm.ICertificate;
  /** When given, an alias A record points the name at the API (and validates a created certificate). */
  readonly hostedZone?: route53.IHostedZone;
}

export interface TokenServiceProps {
  /**
   * The policy file (`sts.config.json`): a path, or the same document as an object. Validated at
   * synth exactly as the service validates it at start (an invalid one throws the same
   * `ConfigError`), then copied into every function's asset as `/var/task/sts.config.json`.
   */
  readonly config: ConfigSource;
  /** The key that signs new tokens. Default `{ name: 'primary', keySpec: ECC_NIST_P256 }`. */
  readonly signingKey?: SigningKeyOptions;
  /** The key that will sign next: published now, so verifiers cache it before it signs. */
  readonly nextKey?: SigningKeyOptions;
  /** The key that signed before: published until the last token it signed has expired. */
  readonly previousKey?: SigningKeyOptions;
  /** Keys from elsewhere that are published too (never signing). */
  readonly externalPublishedKeys?: readonly ExternalPublishedKey[];
  /** Alias prefix of the keys the construct creates. Default `sts/<stack name>`. */
  readonly keyAliasPrefix?: string;
  /** Default RETAIN: a deleted key can never verify again, and relying parties may still cache it. */
  readonly keyRemovalPolicy?: RemovalPolicy;
  /**
   * The token table and the log groups (the service's records). Default RETAIN, with the
   * table's deletion protection on; DESTROY (for throwaway stacks) turns deletion protection off.
   */
  readonly tableRemovalPolicy?: RemovalPolicy;
  /**
   * Every route's own bucket (the stage's default route settings). HTTP APIs have no stage-wide
   * bucket: each route is throttled separately. Default 100 requests/s, burst 200.
   */
  readonly throttle?: ThrottleOptions;
  /**
   * Buckets of single routes, by route key (`'POST /token'`), replacing `throttle` for them.
   * Default `{ 'POST /token': { rateLimit: 25, burstLimit: 50 } }` (cdk/throttling.ts).
   */
  readonly routeThrottles?: Readonly<Record<string, ThrottleOptions>>;
  /**
   * Reserved concurrency of the token function: a floor no other function can take, and a
   * ceiling a flood cannot pass. Default: the token route's burst plus its rate for the function
   * timeout (50 + 25 x 10 s = 300), what that throttle can keep busy. `false`: none (the
   * account's pool is shared, e.g. where the account's concurrency quota is small).
   */
  readonly tokenReservedConcurrency?: number | false;
  /**
   * Serve the issuer at a custom domain (recommended for production: the issuer outlives the
   * stack). Without one, the issuer is the API's execute-api URL, injected at deploy time
   * (`STS_ISSUER`), and the config's `issuer` is replaced by it.
   */
  readonly customDomain?: CustomDomainOptions;
  /** Retention of the function and access logs. Default one year (the audit trail). */
  readonly logRetention?: logs.RetentionDays;
  /** Where alarms (and their recovery) are sent. Default none: alarms only show in CloudWatch. */
  readonly alarmTopic?: sns.ITopic;
  readonly alarmThresholds?: AlarmThresholds;
  /** Namespace of the service's metrics (EMF, docs/operations.md). Default `ServerlessSTS/<stack name>`. */
  readonly metricNamespace?: string;
  /** Namespace consumers' verifiers write validation metrics to. Default `ServerlessSTS/Consumers`. */
  readonly consumerMetricNamespace?: string;
  /** Memory of every function, MB. Default 1024 (CPU scales with it; cold starts shrink). */
  readonly memorySize?: number;
  /**
   * `kms` (default): every token is one KMS `Sign`; the private key never leaves KMS.
   * `data-key`: a scheduled rotation function creates ES256 key pairs with KMS
   * `GenerateDataKeyPairWithoutPlaintext`; the token function decrypts the active one once per
   * container and signs locally: no KMS call per token, past the KMS request quota, with the
   * private key in Lambda memory for its rotation period (docs/data-key-signing.md). The KMS
   * signing keys stay published (tokens they signed keep verifying) but nobody may Sign.
   */
  readonly signingMode?: 'kms' | 'data-key';
  /** Data-key mode: rotation period, publish lead and schedule (defaults 1 day, 10 min, 5 min). */
  readonly dataKeyRotation?: DataKeyRotationOptions;
  /**
   * Run the prober (cdk/prober.ts): every minute an exchange, a refusal and a revocation through
   * the public endpoint, with alarms on failures and on revocation lag. Default off.
   */
  readonly prober?: ProberOptions;
  /** Per-handler KMS and DynamoDB access, added to or replacing cdk/handler-access.ts entries. */
  readonly handlerAccess?: Readonly<Record<string, HandlerAccess>>;
  /**
   * The key of the stateless DPoP nonces (base64, 32+ bytes, e.g. `openssl rand -base64 32`),
   * set as `STS_DPOP_NONCE_SECRET` on the token function only. Required when the config sets
   * `dpop.requireNonce` (every container must accept every other's nonces). It lives in the
   * function's environment (encrypted at rest; readable with lambda:GetFunctionConfiguration
   * and in the template): a leak lets one precompute nonces, never forge a proof or a token.
   */
  readonly dpopNonceSecret?: string;
}

/** Why a route without IAM authorization is public, for the cdk-nag acknowledgment. */
const PUBLIC_ROUTE_REASONS: Readonly<Record<string, string>> = {
  '/token':
    'RFC 8693 token exchange: the subject token is the credential; it is verified against a trusted issuer and a trust policy.',
  '/.well-known/jwks.json': 'The public key set must be public so relying parties can verify tokens offline.',
  '/.well-known/oauth-authorization-server': 'RFC 8414 metadata is public by definition.',
  '/.well-known/openid-configuration':
    'OIDC discovery must be public (AWS IAM OIDC providers and other consumers fetch it anonymously).',
  '/revoke': 'RFC 7009: the presented token itself authorizes its revocation (its signature is verified).',
  '/prober/jwks.json':
    "The prober issuer's public key, which the token function fetches like any issuer's JWKS.",
};

const pascal = (text: string) =>
  text.replace(/(^|[^A-Za-z0-9]+)([A-Za-z0-9])/g, (_match, _sep, char: string) => char.toUpperCase());

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

    this.domainName = domain ? this.createDomain(domain) : undefined;
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
    const functions = new Map<string, lambda.Function>();
    const entryPaths = new Map<string, string>();
    for (const handler of HANDLERS) {
      const access = accessOf(handler, props.handlerAccess);
      const source = handlerSource(handler);
      const name = pascal(handler);
      const logGroup = new logs.LogGroup(this, `${name}Logs`, { retention, removalPolicy: records });
      const role = this.createRole(name, handler, access, logGroup);
      const fn = handlerFunction(this, `${name}Function`, handler, {
        description: `STS ${routesOf(handler)
          .map((route) => `${route.method} ${route.path}`)
          .join(', ')}`,
        architecture: lambda.Architecture.ARM_64,
        memorySize: props.memorySize ?? 1024,
        timeout: Duration.seconds(FUNCTION_TIMEOUT_SECONDS),
        reservedConcurrentExecutions: this.reservedConcurrency(handler, throttles, props),
        role,
        logGroup,
        environment:
          handler === 'token' && props.dpopNonceSecret
            ? { ...environment, STS_DPOP_NONCE_SECRET: props.dpopNonceSecret }
            : environment,
        configFile: staged.file,
      });
      Validations.of(fn).acknowledge({
        id: 'AwsSolutions-L1',
        reason:
          'Pinned to nodejs22.x on purpose: the bundles target node22 (cdk/bundling.ts) and the service is tested on Node 22; move runtime and target together.',
      });
      functions.set(handler, fn);
      entryPaths.set(handler, source.kind === 'source' ? source.entry : source.dir);
    }
    this.functions = functions;
    this.entries = entryPaths;

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
    const iamAuthorizer = new HttpIamAuthorizer();
    const integrations = new Map(
      [...functions].map(([handler, fn]) => [
        handler,
        new HttpLambdaIntegration(`${pascal(handler)}Integration`, fn),
      ]),
    );
    const routes = new Map<string, HttpRoute>();
    for (const route of ROUTES) {
      const [created] = this.api.addRoutes({
        path: route.path,
        methods: [HttpMethod[route.method]],
        integration: integrations.get(route.handler)!,
        authorizer: route.auth === 'iam' ? iamAuthorizer : undefined,
      });
      if (route.auth === 'none') {
        Validations.of(created!).acknowledge({
          id: 'AwsSolutions-APIG4',
          reason:
            PUBLIC_ROUTE_REASONS[route.path] ??
            `The route table (lambdas/routes.ts) declares ${route.method} ${route.path} public (auth "none").`,
        });
      }
      routes.set(`${route.method} ${route.path}`, created!);
    }
    this.routes = routes;
    // Routes with buckets of their own; the stage can name a route only once it exists.
    if (throttles.routes.size > 0) {
      (this.stage.node.defaultChild as CfnStage).routeSettings = Object.fromEntries(
        [...throttles.routes].map(([key, throttle]) => {
          this.stage.node.addDependency(routes.get(key)!);
          // A JSON map in CloudFormation: its members are spelled as CloudFormation spells them.
          return [
            key,
            { ThrottlingRateLimit: throttle.rateLimit, ThrottlingBurstLimit: throttle.burstLimit },
          ];
        }),
      );
    }

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

  /** The token function's reserved concurrency (see `tokenReservedConcurrency`); none for the others. */
  private reservedConcurrency(
    handler: string,
    throttles: { readonly stage: Throttle; readonly routes: ReadonlyMap<string, Throttle> },
    props: TokenServiceProps,
  ): number | undefined {
    const route = routesOf(handler).find((candidate) => candidate.path === '/token');
    if (!route || props.tokenReservedConcurrency === false) return undefined;
    const throttle = throttles.routes.get(`${route.method} ${route.path}`) ?? throttles.stage;
    const reserved = props.tokenReservedConcurrency ?? concurrencyFor(throttle, FUNCTION_TIMEOUT_SECONDS);
    if (!Number.isInteger(reserved) || reserved < 1) {
      throw new Error(`TokenService: tokenReservedConcurrency must be a whole number >= 1 (got ${reserved})`);
    }
    if (reserved > 900) {
      Annotations.of(this).addWarningV2(
        'sts:reserved-concurrency',
        `The token function reserves ${reserved} concurrent executions: more than an account with the default quota (1000, of which 100 stay unreserved) can give. Raise the quota, or set tokenReservedConcurrency or a smaller POST /token throttle.`,
      );
    }
    return reserved;
  }

  /** Least privilege: its own log group and table access here; key access in SigningKeys.grantUse. */
  private createRole(
    name: string,
    handler: string,
    access: HandlerAccess,
    logGroup: logs.LogGroup,
  ): iam.Role {
    const role = new iam.Role(this, `${name}Role`, {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `STS ${handler} handler`,
    });
    logGroup.grantWrite(role);
    // One statement per grant: its actions on the item kinds' key prefixes only (handler-access.ts).
    for (const grant of access.table) {
      role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          sid: pascal(
            [...grant.actions.map((action) => action.replace('dynamodb:', '')), ...grant.items].join(' '),
          ),
          actions: [...grant.actions],
          resources: [this.table.tableArn],
          conditions: tableConditions(grant),
        }),
      );
    }
    return role;
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

  private createDomain(options: CustomDomainOptions): DomainName {
    const { domainName, hostedZone } = options;
    let certificate = options.certificate;
    if (!certificate) {
      if (!hostedZone) {
        throw new Error('TokenService: customDomain needs a certificate, or a hostedZone to validate one in');
      }
      certificate = new acm.Certificate(this, 'Certificate', {
        domainName,
        validation: acm.CertificateValidation.fromDns(hostedZone),
      });
    }
    const domain = new DomainName(this, 'DomainName', {
      domainName,
      certificate,
      securityPolicy: SecurityPolicy.TLS_1_2,
    });
    if (hostedZone) {
      new route53.ARecord(this, 'AliasRecord', {
        zone: hostedZone,
        recordName: domainName,
        target: route53.RecordTarget.fromAlias(
          new ApiGatewayv2DomainProperties(domain.regionalDomainName, domain.regionalHostedZoneId),
        ),
      });
    }
    return domain;
  }
}

const routesOf = (handler: string): Route[] => ROUTES.filter((route) => route.handler === handler);
