// The deployable stack's settings from CDK context, so a platform team can `cdk deploy` without
// writing code: keep them in cdk.json's `context` (committed, reviewed), or pass `-c key=value`.
//
// | key | meaning |
// | --- | --- |
// | `config` | path of sts.config.json (`STS_CONFIG` wins when set) |
// | `signingKey`, `nextKey`, `previousKey` | a key name (ECC_NIST_P256), or `{ "name", "keySpec", "algorithm" }` |
// | `domainName`, `certificateArn`, `hostedZoneId`, `hostedZoneName` | custom domain |
// | `alarmTopicArn` | SNS topic for alarms |
// | `rateLimit`, `burstLimit` | every route's throttle (each route has its own bucket) |
// | `routeThrottles` | `{ "POST /token": { "rateLimit": 50, "burstLimit": 100 } }`: buckets of single routes |
// | `tokenReservedConcurrency` | the token function's reserved concurrency, or `false` for none |
// | `logRetentionDays` | a CloudWatch retention value, e.g. 365 |
// | `removalPolicy` | `retain` (default) or `destroy` for the table and logs (throwaway stacks) |

import { RemovalPolicy } from 'aws-cdk-lib';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import type { KeyAlgorithm, SigningKeyOptions, TokenServiceProps } from './sts-construct.ts';

export class ContextError extends Error {
  override readonly name = 'ContextError';
}

type ServiceProps = Omit<TokenServiceProps, 'config'>;

export function servicePropsFromContext(scope: Construct): ServiceProps {
  const get = (key: string): unknown => {
    const value = scope.node.tryGetContext(key);
    return value === '' ? undefined : value;
  };
  const text = (key: string): string | undefined => {
    const value = get(key);
    if (value === undefined || typeof value === 'string') return value;
    throw new ContextError(`context ${key}: expected a string`);
  };
  const number = (key: string): number | undefined => {
    const value = get(key);
    if (value === undefined) return undefined;
    const parsed = typeof value === 'number' ? value : Number(value);
    if (!Number.isFinite(parsed) || parsed <= 0)
      throw new ContextError(`context ${key}: expected a positive number`);
    return parsed;
  };

  const props: { -readonly [K in keyof ServiceProps]: ServiceProps[K] } = {};
  props.signingKey = keyOption('signingKey', get('signingKey'));
  props.nextKey = keyOption('nextKey', get('nextKey'));
  props.previousKey = keyOption('previousKey', get('previousKey'));

  const domainName = text('domainName');
  if (domainName) {
    const certificateArn = text('certificateArn');
    const hostedZoneId = text('hostedZoneId');
    const hostedZoneName = text('hostedZoneName');
    if (Boolean(hostedZoneId) !== Boolean(hostedZoneName)) {
      throw new ContextError('context hostedZoneId and hostedZoneName: give both or neither');
    }
    props.customDomain = {
      domainName,
      certificate: certificateArn
        ? acm.Certificate.fromCertificateArn(scope, 'Certificate', certificateArn)
        : undefined,
      hostedZone:
        hostedZoneId && hostedZoneName
          ? route53.HostedZone.fromHostedZoneAttributes(scope, 'HostedZone', {
              hostedZoneId,
              zoneName: hostedZoneName,
            })
          : undefined,
    };
  }
  const alarmTopicArn = text('alarmTopicArn');
  if (alarmTopicArn) props.alarmTopic = sns.Topic.fromTopicArn(scope, 'AlarmTopic', alarmTopicArn);
  const rateLimit = number('rateLimit');
  const burstLimit = number('burstLimit');
  if (rateLimit !== undefined || burstLimit !== undefined) props.throttle = { rateLimit, burstLimit };
  const routes = get('routeThrottles');
  if (routes !== undefined) {
    const parsed = typeof routes === 'string' ? parseJson('routeThrottles', routes) : routes;
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
      throw new ContextError(
        'context routeThrottles: expected { "<METHOD> <path>": { "rateLimit", "burstLimit" } }',
      );
    }
    props.routeThrottles = parsed as Record<string, { rateLimit?: number; burstLimit?: number }>;
  }
  const reserved = get('tokenReservedConcurrency');
  if (reserved === false || reserved === 'false') props.tokenReservedConcurrency = false;
  else if (reserved !== undefined) props.tokenReservedConcurrency = number('tokenReservedConcurrency');
  const days = number('logRetentionDays');
  if (days !== undefined) {
    if (!(Object.values(logs.RetentionDays) as number[]).includes(days)) {
      throw new ContextError(`context logRetentionDays: ${days} is not a CloudWatch Logs retention value`);
    }
    props.logRetention = days as logs.RetentionDays;
  }
  const removal = text('removalPolicy');
  if (removal !== undefined) {
    if (removal !== 'retain' && removal !== 'destroy') {
      throw new ContextError('context removalPolicy: expected "retain" or "destroy"');
    }
    props.tableRemovalPolicy = removal === 'destroy' ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN;
  }
  return Object.fromEntries(Object.entries(props).filter(([, value]) => value !== undefined)) as ServiceProps;
}

const KEY_SPECS = new Set<string>(['ECC_NIST_P256', 'RSA_2048', 'RSA_3072', 'RSA_4096']);
const ALGORITHMS = new Set<string>(['ES256', 'RS256', 'PS256']);

function keyOption(key: string, value: unknown): SigningKeyOptions | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string') return { name: value };
  const { name, keySpec, algorithm, ...rest } = (value ?? {}) as Record<string, unknown>;
  if (typeof name !== 'string' || Object.keys(rest).length > 0) {
    throw new ContextError(`context ${key}: expected a key name, or { "name", "keySpec"?, "algorithm"? }`);
  }
  if (keySpec !== undefined && (typeof keySpec !== 'string' || !KEY_SPECS.has(keySpec))) {
    throw new ContextError(`context ${key}.keySpec: expected one of ${[...KEY_SPECS].join(', ')}`);
  }
  if (algorithm !== undefined && (typeof algorithm !== 'string' || !ALGORITHMS.has(algorithm))) {
    throw new ContextError(`context ${key}.algorithm: expected one of ${[...ALGORITHMS].join(', ')}`);
  }
  return {
    name,
    keySpec: keySpec as kms.KeySpec | undefined,
    algorithm: algorithm as KeyAlgorithm | undefined,
  };
}

function parseJson(key: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    throw new ContextError(`context ${key}: expected JSON`);
  }
}
