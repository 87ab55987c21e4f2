// What each handler module may do on AWS, beyond what every function gets (writing its own log
// group, and `kms:GetPublicKey` on every published key: the KMS signer resolves and checks all
// keys when the container starts, and every handler builds the same runtime).
//
// The route table (lambdas/routes.ts) says which handlers exist; this table says what each one
// needs, read from its code path in lib/. A handler missing here fails `cdk synth` with a message
// naming it: granting by guess would be either too much or an outage.
//
// Table access is per item kind: each grant becomes one IAM statement whose
// `dynamodb:LeadingKeys` must match the kinds' prefixes (lib/shared/token-table.ts), and, where
// `attributes` is given, whose `dynamodb:Attributes` must be among them. So the public `/token`
// function cannot write a `SUBJECT#` item (which would reset `revokedBefore` and un-revoke a
// subject), and the public `/revoke` function can only set `revokedAt` on a `TOKEN#` item. A new
// item kind or access is one line in the handler's list; test/cdk/table-access.test.ts checks
// the requests the handlers really send against these statements.
import {
  ITEM_PREFIXES,
  type ItemKind,
  PARTITION_KEY,
  REVOKED_AT,
  REVOKED_BEFORE,
  SUBJECT_ISSUER,
  SUBJECT_SUB,
} from '../lib/shared/token-table.ts';

export type TableAction =
  | 'dynamodb:GetItem'
  | 'dynamodb:PutItem'
  | 'dynamodb:UpdateItem'
  | 'dynamodb:ConditionCheckItem';

export interface TableGrant {
  readonly actions: readonly TableAction[];
  /** The item kinds (their partition-key prefixes) the actions may touch. */
  readonly items: readonly ItemKind[];
  /**
   * The only attributes the request may name, the partition key included (DynamoDB requires it
   * in the list); for updates that set one attribute. Omitted: any attribute.
   */
  readonly attributes?: readonly string[];
}

export interface HandlerAccess {
  /** `kms:Sign` on the keys the stack owns: the handler mints tokens. */
  readonly sign: boolean;
  /** Item-level access to the token table, by item kind, and nothing else on it. */
  readonly table: readonly TableGrant[];
}

const revokedAtOnly = [PARTITION_KEY, REVOKED_AT];
/** A subject revocation sets `revokedBefore` and names the subject readably (issuer URL, sub). */
const subjectRevocation = [PARTITION_KEY, REVOKED_BEFORE, SUBJECT_ISSUER, SUBJECT_SUB];

export const HANDLER_ACCESS: Readonly<Record<string, HandlerAccess>> = {
  /**
   * Mints (Sign); records the jti and one-time subject tokens; reads the record and the
   * subject's revocation of a chained (own) subject token.
   */
  token: {
    sign: true,
    table: [
      { actions: ['dynamodb:PutItem'], items: ['token', 'seen'] },
      { actions: ['dynamodb:GetItem'], items: ['token', 'subject'] },
    ],
  },
  /** Publishes the key set: public keys only. */
  jwks: { sign: false, table: [] },
  /** Discovery documents: the active key's alg only. */
  metadata: { sign: false, table: [] },
  /** RFC 7009: marks the presented token's record revoked (conditional UpdateItem of revokedAt). */
  revoke: {
    sign: false,
    table: [{ actions: ['dynamodb:UpdateItem'], items: ['token'], attributes: revokedAtOnly }],
  },
  /** RFC 7662: reads the token record and its subject's revokedBefore. */
  introspect: { sign: false, table: [{ actions: ['dynamodb:GetItem'], items: ['token', 'subject'] }] },
  /** Revokes by jti (revokedAt of TOKEN#) or by subject (revokedBefore, issuer, sub of SUBJECT#). */
  'admin-revoke': {
    sign: false,
    table: [
      { actions: ['dynamodb:UpdateItem'], items: ['token'], attributes: revokedAtOnly },
      { actions: ['dynamodb:UpdateItem'], items: ['subject'], attributes: subjectRevocation },
    ],
  },
  /** The prober issuer's public key: GetPublicKey on the prober key only, granted by cdk/prober.ts. */
  'prober-jwks': { sign: false, table: [] },
};

/** The access of one handler; `extra` (construct props) may add or override entries. */
export function accessOf(
  handler: string,
  extra: Readonly<Record<string, HandlerAccess>> = {},
): HandlerAccess {
  const access = extra[handler] ?? HANDLER_ACCESS[handler];
  if (!access) {
    throw new Error(
      `lambdas/routes.ts routes to handler "${handler}", which cdk/handler-access.ts does not describe: ` +
        'add its KMS and DynamoDB needs there (or pass them in TokenServiceProps.handlerAccess)',
    );
  }
  return access;
}

/** The IAM condition block of one table grant. */
export function tableConditions(grant: TableGrant): Record<string, Record<string, string[]>> {
  if (grant.items.length === 0) throw new Error('cdk/handler-access.ts: a table grant names no item kind');
  const conditions: Record<string, Record<string, string[]>> = {
    'ForAllValues:StringLike': {
      'dynamodb:LeadingKeys': grant.items.map((kind) => `${ITEM_PREFIXES[kind]}*`),
    },
  };
  if (grant.attributes) {
    conditions['ForAllValues:StringEquals'] = { 'dynamodb:Attributes': [...grant.attributes] };
  }
  return conditions;
}
