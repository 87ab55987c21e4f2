// Key policies that reserve a KMS key's dangerous actions for named roles, and the EventBridge
// rules that report anyone else trying them.
//
// The default key policy (`arn:...:root` may do `kms:*`) delegates every decision to IAM, so any
// principal whose IAM policy allows `kms:Sign` on `*` (administrators, power users, deployment
// and CI roles) could mint tokens that relying parties and IAM OIDC providers trust. The key
// policy is the one document that binds them all: an explicit Deny there beats every Allow in
// IAM, in grants, and of the account root. The account keeps `kms:*` (key administration,
// including changing this policy, stays possible; the alert below reports it).
//
// The Deny names the allowed roles by `aws:PrincipalArn` in a condition rather than as
// principals: the key then depends on the role (its ARN), the role's IAM policy depends on the
// key (its ARN), and no cycle forms, because the grant lives in a separate AWS::IAM::Policy.
//
// Reuse for other actions and roles (data-key mode, issue 14): on the data-key KMS key,
//   restrictKeyUse(key, { sid: 'Decrypt', actions: ['kms:Decrypt'], principals: [tokenRole] });
//   restrictKeyUse(key, {
//     sid: 'GenerateDataKeyPair',
//     actions: ['kms:GenerateDataKeyPair', 'kms:GenerateDataKeyPairWithoutPlaintext'],
//     principals: [rotationRole],
//   });
// and `new KeyUseAlerts(...)` with the same actions and roles.
import { Annotations } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';

export interface KeyUseRestriction {
  /** Names the statements (`Deny<sid>ExceptNamedRoles`, ...): letters and digits. */
  readonly sid: string;
  /** The key actions only `principals` may call, e.g. `['kms:Sign']`. */
  readonly actions: readonly string[];
  /** The only roles that may call them; everyone else (the account root included) is denied. */
  readonly principals: readonly iam.IRole[];
  /**
   * Request values every such call must carry, whoever makes it (condition key to allowed values),
   * e.g. `{ 'kms:MessageType': ['DIGEST'] }`. A call without the key is denied too.
   */
  readonly require?: Readonly<Record<string, readonly string[]>>;
}

/**
 * Adds Deny statements to `key`'s policy so that only `principals` may call `actions`, and only
 * with the `require`d request values. IAM must still allow the principals (the key policy keeps
 * delegating Allow decisions to IAM).
 *
 * @example
 * restrictKeyUse(signingKey, {
 *   sid: 'Sign',
 *   actions: ['kms:Sign'],
 *   principals: [tokenRole],
 *   require: { 'kms:MessageType': ['DIGEST'], 'kms:SigningAlgorithm': ['ECDSA_SHA_256'] },
 * });
 */
export function restrictKeyUse(key: kms.Key, restriction: KeyUseRestriction): void {
  const { sid, actions, principals, require = {} } = restriction;
  if (!/^[A-Za-z0-9]+$/.test(sid)) throw new Error(`restrictKeyUse: sid "${sid}" must be letters and digits`);
  const deny = (statementSid: string, conditions: Record<string, unknown>) =>
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: statementSid,
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: [...actions],
        resources: ['*'],
        conditions,
      }),
    );
  // No principals: nobody may (data-key mode keeps the signing keys published, never signing).
  deny(
    `Deny${sid}ExceptNamedRoles`,
    principals.length === 0
      ? {}
      : { ArnNotEquals: { 'aws:PrincipalArn': principals.map((role) => role.roleArn) } },
  );
  for (const [conditionKey, values] of Object.entries(require)) {
    const name = conditionKey.replace(/^[a-z]+:/, '').replace(/[^A-Za-z0-9]/g, '');
    deny(`Deny${sid}Without${name}`, { StringNotEquals: { [conditionKey]: [...values] } });
  }
}

export interface KeyUseAlertsProps {
  /** The keys watched. */
  readonly keys: readonly kms.IKey[];
  /** The actions only `principals` may call (as given to `restrictKeyUse`), e.g. `['kms:Sign']`. */
  readonly actions: readonly string[];
  readonly principals: readonly iam.IRole[];
  /** Receives the matching CloudTrail events. None: the rules only match (add targets yourself). */
  readonly topic?: sns.ITopic;
}

/** The key-policy and key-state changes reported whoever makes them. */
export const KEY_CHANGE_EVENTS = [
  'PutKeyPolicy',
  'CreateGrant',
  'DisableKey',
  'ScheduleKeyDeletion',
  'UpdateAlias',
  'DeleteAlias',
] as const;

/**
 * Two EventBridge rules on the default bus, fed by CloudTrail (no trail needed; the events must
 * be in the keys' region):
 * - `foreignUse`: any call of `actions` on the keys by a principal other than `principals`
 *   (the key policy denies it, so it is an attempt: someone tried to mint tokens);
 * - `keyChanges`: any change of the keys' policy, grants, state or aliases (`KEY_CHANGE_EVENTS`),
 *   which is how the Deny could be removed.
 *
 * KMS cryptographic calls are read-only management events, which EventBridge delivers only to
 * rules in the state `ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS`.
 */
export class KeyUseAlerts extends Construct {
  readonly foreignUse: events.Rule;
  readonly keyChanges: events.Rule;

  constructor(scope: Construct, id: string, props: KeyUseAlertsProps) {
    super(scope, id);
    const keyArns = props.keys.map((key) => key.keyArn);
    const api = (names: readonly string[]): events.EventPattern => ({
      source: ['aws.kms'],
      detailType: ['AWS API Call via CloudTrail'],
      detail: { eventSource: ['kms.amazonaws.com'], eventName: [...names], resources: { ARN: keyArns } },
    });
    const byOthers = api(props.actions.map((action) => action.replace(/^kms:/, '')));
    this.foreignUse = new events.Rule(this, 'ForeignUse', {
      description: `Calls of ${props.actions.join(', ')} on the STS keys by a principal other than the allowed roles`,
      eventPattern: {
        ...byOthers,
        detail: {
          ...byOthers.detail,
          // Roles appear as sessionIssuer; the root and IAM users have none. No allowed roles:
          // every call is foreign.
          ...(props.principals.length === 0
            ? {}
            : {
                userIdentity: {
                  sessionContext: {
                    sessionIssuer: {
                      arn: events.Match.anyOf(
                        events.Match.anythingBut(...props.principals.map((role) => role.roleArn)),
                        events.Match.doesNotExist(),
                      ),
                    },
                  },
                },
              }),
        },
      },
    });
    (this.foreignUse.node.defaultChild as events.CfnRule).state =
      'ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS';
    this.keyChanges = new events.Rule(this, 'KeyChanges', {
      description: 'Changes of the STS keys: policy, grants, state, aliases',
      eventPattern: api(KEY_CHANGE_EVENTS),
    });
    if (props.topic) {
      for (const rule of [this.foreignUse, this.keyChanges]) {
        rule.addTarget(new targets.SnsTopic(props.topic));
        // An env-agnostic stack cannot compare environments; the topic must be in the stack's
        // account and region, as it must for the alarms' actions.
        Annotations.of(rule).acknowledgeWarning(
          '@aws-cdk/aws-events:ruleUnresolvedEnvironment',
          'The alarm topic is in the stack environment, as CloudWatch alarm actions require too',
        );
      }
    }
  }
}
