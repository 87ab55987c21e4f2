// Data-key signing mode of the TokenService (docs/data-key-signing.md): the symmetric KMS key that
// wraps the data keys' private keys, the rotation function and its schedule, and the grants:
// - the rotation role may only GenerateDataKeyPairWithoutPlaintext (ECC_NIST_P256, with the
//   purpose in the encryption context) and write `KEY#` items: it never sees a private key;
// - the token role may only Decrypt with that encryption context (and holds no kms:Sign);
// - every handler role may read `KEY#` items (the key ring it publishes);
// - the key policy denies Decrypt to everyone but the token role, GenerateDataKeyPair* to
//   everyone but the rotation role, and ReEncrypt* to everyone (cdk/key-policy.ts); EventBridge
//   reports anyone else trying.

import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { CONTEXT_PURPOSE, CONTEXT_PURPOSE_KEY } from '../lib/signers/data-key-rules.ts';
import { type TableAction, tableConditions } from './handler-access.ts';
import { handlerFunction } from './handler-code.ts';
import { KeyUseAlerts, restrictKeyUse } from './key-policy.ts';

export interface DataKeyRotationOptions {
  /** How long a key signs before the next takes over. Default 1 day. */
  readonly period?: Duration;
  /** How long a next key is published before it signs (>= JWKS max-age + refresh, 6 min). Default 10 min. */
  readonly publishLead?: Duration;
  /** How often the rotation function runs. Default 5 minutes. */
  readonly schedule?: Duration;
}

export interface DataKeySigningProps {
  readonly table: dynamodb.ITable;
  /** Environment of the service's functions (STS_CONFIG, STS_TABLE_NAME, ...). */
  readonly environment: Readonly<Record<string, string>>;
  /** The validated policy file shipped in the rotation function's asset. */
  readonly configFile: string;
  readonly aliasPrefix: string;
  readonly keyRemovalPolicy?: RemovalPolicy;
  readonly logRetention: logs.RetentionDays;
  readonly logRemovalPolicy: RemovalPolicy;
  readonly memorySize?: number;
  readonly rotation?: DataKeyRotationOptions;
  readonly alarmTopic?: sns.ITopic;
}

/** `KEY#` items only: the data-key ring (`KEY#ring`, `KEY#<kid>`). */
const keyItems = (actions: TableAction[]) => ({
  actions,
  conditions: tableConditions({ actions, items: ['key'] }),
});
const PURPOSE_CONDITION = { [`kms:EncryptionContext:${CONTEXT_PURPOSE_KEY}`]: [CONTEXT_PURPOSE] };
const GENERATE_ACTIONS = ['kms:GenerateDataKeyPair', 'kms:GenerateDataKeyPairWithoutPlaintext'];

export class DataKeySigning extends Construct {
  readonly wrappingKey: kms.Key;
  readonly rotationFunction: lambda.Function;
  readonly schedule: events.Rule;
  /** Environment the service's functions add in this mode. */
  readonly environment: Readonly<Record<string, string>>;
  readonly #table: dynamodb.ITable;

  constructor(scope: Construct, id: string, props: DataKeySigningProps) {
    super(scope, id);
    this.#table = props.table;
    const period = props.rotation?.period ?? Duration.days(1);
    const lead = props.rotation?.publishLead ?? Duration.minutes(10);
    this.wrappingKey = new kms.Key(this, 'WrappingKey', {
      description: 'STS data-key signing: wraps the private keys of the token signing key ring',
      enableKeyRotation: true,
      alias: `${props.aliasPrefix}/data-key-wrapping`,
      removalPolicy: props.keyRemovalPolicy ?? RemovalPolicy.RETAIN,
      pendingWindow: Duration.days(30),
    });
    this.environment = {
      STS_SIGNER: 'data-key',
      STS_DATA_KEY_ROTATION_PERIOD: `${period.toSeconds()}s`,
      STS_DATA_KEY_PUBLISH_LEAD: `${lead.toSeconds()}s`,
    };

    const logGroup = new logs.LogGroup(this, 'RotationLogs', {
      retention: props.logRetention,
      removalPolicy: props.logRemovalPolicy,
    });
    const role = new iam.Role(this, 'RotationRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: 'STS data-key rotation',
    });
    logGroup.grantWrite(role);
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'KeyRingItems',
        ...keyItems(['dynamodb:GetItem', 'dynamodb:PutItem']),
        resources: [props.table.tableArn],
      }),
    );
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: 'GenerateKeyPairs',
        actions: ['kms:GenerateDataKeyPairWithoutPlaintext'],
        resources: [this.wrappingKey.keyArn],
        conditions: { StringEquals: { 'kms:DataKeyPairSpec': 'ECC_NIST_P256', ...PURPOSE_CONDITION } },
      }),
    );
    this.rotationFunction = handlerFunction(this, 'RotationFunction', 'rotate-data-keys', {
      description: 'STS data-key rotation (scheduled)',
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize ?? 1024,
      timeout: Duration.seconds(30),
      // One writer at a time; the ring write is conditional anyway.
      reservedConcurrentExecutions: 1,
      role,
      logGroup,
      environment: {
        ...props.environment,
        ...this.environment,
        STS_DATA_KEY_KMS_KEY_ID: this.wrappingKey.keyArn,
      },
      configFile: props.configFile,
    });
    Validations.of(this.rotationFunction).acknowledge({
      id: 'AwsSolutions-L1',
      reason: 'Pinned to nodejs22.x with the service functions: the bundles target node22 (cdk/bundling.ts).',
    });
    this.schedule = new events.Rule(this, 'Schedule', {
      description: 'Runs the STS data-key rotation',
      schedule: events.Schedule.rate(props.rotation?.schedule ?? Duration.minutes(5)),
      targets: [new targets.LambdaFunction(this.rotationFunction, { retryAttempts: 2 })],
    });
  }

  /**
   * Grants: every handler role reads `KEY#` items; only `tokenRoles` may Decrypt (with the
   * purpose in the encryption context); key policy and alerts as in the module comment.
   */
  grantUse(handlerRoles: readonly iam.IRole[], tokenRoles: readonly iam.IRole[], alarmTopic?: sns.ITopic) {
    for (const role of handlerRoles) {
      role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          sid: 'DataKeyRingItems',
          ...keyItems(['dynamodb:GetItem']),
          resources: [this.#table.tableArn],
        }),
      );
    }
    for (const role of tokenRoles) {
      role.addToPrincipalPolicy(
        new iam.PolicyStatement({
          sid: 'DecryptDataKeys',
          actions: ['kms:Decrypt'],
          resources: [this.wrappingKey.keyArn],
          conditions: { StringEquals: PURPOSE_CONDITION },
        }),
      );
    }
    const rotationRole = this.rotationFunction.role as iam.IRole;
    restrictKeyUse(this.wrappingKey, {
      sid: 'Decrypt',
      actions: ['kms:Decrypt'],
      principals: tokenRoles,
      require: PURPOSE_CONDITION,
    });
    restrictKeyUse(this.wrappingKey, {
      sid: 'GenerateDataKeyPair',
      actions: GENERATE_ACTIONS,
      principals: [rotationRole],
      require: { 'kms:DataKeyPairSpec': ['ECC_NIST_P256'], ...PURPOSE_CONDITION },
    });
    // Nobody turns a wrapped private key into a ciphertext under another key.
    this.wrappingKey.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'DenyReEncrypt',
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: ['kms:ReEncryptFrom', 'kms:ReEncryptTo'],
        resources: ['*'],
      }),
    );
    return new KeyUseAlerts(this, 'KeyAlerts', {
      keys: [this.wrappingKey],
      actions: ['kms:Decrypt', ...GENERATE_ACTIONS],
      principals: [...tokenRoles, rotationRole],
      topic: alarmTopic,
    });
  }
}
