// What a TokenService is configured with: its props, every one optional but the policy file,
// with the default each one takes. The construct itself is cdk/sts-construct.ts.

import type { RemovalPolicy } from 'aws-cdk-lib';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type { CustomDomainOptions } from './custom-domain.ts';
import type { DataKeyRotationOptions } from './data-key-signing.ts';
import type { HandlerAccess } from './handler-access.ts';
import type { AlarmThresholds } from './monitoring.ts';
import type { ProberOptions } from './prober.ts';
import type { ConfigSource } from './service-config.ts';
import type { ExternalPublishedKey, SigningKeyOptions } from './signing-keys.ts';
import type { ThrottleOptions } from './throttling.ts';

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
