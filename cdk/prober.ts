// The prober (SLI issue, octo-sts style): a function that EventBridge runs every minute, which
// exchanges a token through the public endpoint, checks a refusal, revokes its token and measures
// how long introspection keeps accepting it (lib/ops/probe.ts). Its subject tokens come from
// the prober issuer (lib/ops/prober-issuer.ts): an ECC key in KMS that only this function may
// Sign with, whose public key the service publishes at /prober/jwks.json (the `prober-jwks` route,
// which alone may GetPublicKey on it). No secret is stored anywhere. The alarms on its metrics are
// in cdk/monitoring-alarms.ts.

import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { handlerFunction } from './handler-code.ts';
import { restrictKeyUse } from './key-policy.ts';

export interface ProberOptions {
  /** How often the prober runs. Default every minute. */
  readonly schedule?: events.Schedule;
  /**
   * How long the prober waits for introspection to see its revocation before that step fails
   * (M9's bound). Default 30 s; at most 40 s, so the run fits its 55 s timeout.
   */
  readonly revocationWait?: Duration;
}

/** The longest revocation wait: the function's 55 s less three exchanges and introspections. */
const MAX_REVOCATION_WAIT_SECONDS = 40;

export interface TokenServiceProberProps extends ProberOptions {
  /** The service's issuer (its base URL). */
  readonly issuer: string;
  /** The service's metrics namespace. */
  readonly metricNamespace: string;
  /** The function behind `GET /prober/jwks.json`: told the key, and allowed to read its public half. */
  readonly jwksFunction: lambda.Function;
  /** Lets the prober call `POST /introspect` (IAM-authorized). */
  readonly grantIntrospection: (grantee: iam.IGrantable) => void;
  readonly logRetention: logs.RetentionDays;
  readonly removalPolicy: RemovalPolicy;
}

export class TokenServiceProber extends Construct {
  /** The prober issuer's signing key. */
  readonly key: kms.Key;
  readonly function: lambda.Function;
  readonly rule: events.Rule;

  constructor(scope: Construct, id: string, props: TokenServiceProberProps) {
    super(scope, id);
    const revocationWait = props.revocationWait?.toSeconds({ integral: false }) ?? 30;
    if (
      !Number.isInteger(revocationWait) ||
      revocationWait < 1 ||
      revocationWait > MAX_REVOCATION_WAIT_SECONDS
    ) {
      throw new Error(
        `prober.revocationWait: expected whole seconds from 1 to ${MAX_REVOCATION_WAIT_SECONDS}, got ${props.revocationWait?.toHumanString()}`,
      );
    }
    this.key = new kms.Key(this, 'IssuerKey', {
      description: 'STS prober issuer: signs the prober subject tokens (Sign: the prober function only)',
      keySpec: kms.KeySpec.ECC_NIST_P256,
      keyUsage: kms.KeyUsage.SIGN_VERIFY,
      // It signs two-minute tokens for one policy that grants nothing a relying party accepts.
      removalPolicy: RemovalPolicy.DESTROY,
      pendingWindow: Duration.days(7),
    });
    const logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention,
      removalPolicy: props.removalPolicy,
    });
    const role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'STS prober',
    });
    logGroup.grantWrite(role);
    // The key policy, not only IAM: no other principal (an administrator with kms:Sign on *, the
    // deployment role) can mint prober subject tokens, and only digests in ES256 are signed.
    restrictKeyUse(this.key, {
      sid: 'Sign',
      actions: ['kms:Sign'],
      principals: [role],
      require: { 'kms:MessageType': ['DIGEST'], 'kms:SigningAlgorithm': ['ECDSA_SHA_256'] },
    });
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'SignProberTokens',
        actions: ['kms:Sign', 'kms:GetPublicKey'],
        resources: [this.key.keyArn],
      }),
    );
    props.grantIntrospection(role);

    this.function = handlerFunction(this, 'Function', 'prober', {
      description: 'STS prober: exchange, refusal and revocation lag through the public endpoint',
      architecture: lambda.Architecture.ARM_64,
      memorySize: 512,
      // The lag wait plus three exchanges and a few introspections, inside the one-minute schedule.
      timeout: Duration.seconds(55),
      // One probe at a time: a slow service must not stack probes on itself.
      reservedConcurrentExecutions: 1,
      role,
      logGroup,
      environment: {
        STS_ISSUER: props.issuer,
        STS_PROBER_KEY_ID: this.key.keyArn,
        STS_METRICS_NAMESPACE: props.metricNamespace,
        STS_PROBER_REVOCATION_WAIT: `${revocationWait}s`,
        NODE_OPTIONS: '--enable-source-maps',
      },
    });
    Validations.of(this.function).acknowledge({
      id: 'AwsSolutions-L1',
      reason: 'Pinned to nodejs22.x like the service functions (cdk/bundling.ts targets node22).',
    });
    this.rule = new events.Rule(this, 'Schedule', {
      description: 'Runs the STS prober',
      schedule: props.schedule ?? events.Schedule.rate(Duration.minutes(1)),
      targets: [new targets.LambdaFunction(this.function, { retryAttempts: 0 })],
    });

    props.jwksFunction.addEnvironment('STS_PROBER_KEY_ID', this.key.keyArn);
    props.jwksFunction.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'PublishProberKey',
        actions: ['kms:GetPublicKey'],
        resources: [this.key.keyArn],
      }),
    );
  }
}
