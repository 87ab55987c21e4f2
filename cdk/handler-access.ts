// What each handler module may do on AWS, beyond what every function gets (writing its own log
// group, and `kms:GetPublicKey` on every published key: the KMS signer resolves and checks all
// keys when the container starts, and every handler builds the same runtime).
//
// The route table (lambdas/routes.ts) says which handlers exist; this table says what each one
// needs, read from its code path in lib/. A handler missing here fails `cdk synth` with a message
// naming it: granting by guess would be either too much or an outage.

export type TableAction =
  | 'dynamodb:GetItem'
  | 'dynamodb:PutItem'
  | 'dynamodb:UpdateItem'
  | 'dynamodb:ConditionCheckItem';

export interface HandlerAccess {
  /** `kms:Sign` on the active key: the handler mints tokens. */
  readonly sign: boolean;
  /** Item-level actions on the token table, and nothing else on it. */
  readonly table: readonly TableAction[];
}

export const HANDLER_ACCESS: Readonly<Record<string, HandlerAccess>> = {
  /** Mints (Sign), records the jti and one-time subject tokens (PutItem), reads revocation state of chained tokens (GetItem). */
  token: { sign: true, table: ['dynamodb:GetItem', 'dynamodb:PutItem'] },
  /** Publishes the key set: public keys only. */
  jwks: { sign: false, table: [] },
  /** Discovery documents: the active key's alg only. */
  metadata: { sign: false, table: [] },
  /** RFC 7009: marks the presented token's record revoked (conditional UpdateItem). */
  revoke: { sign: false, table: ['dynamodb:UpdateItem'] },
  /** RFC 7662: reads the token record and its subject's revokedBefore. */
  introspect: { sign: false, table: ['dynamodb:GetItem'] },
  /** Revokes by jti (UpdateItem on TOKEN#) or by subject (UpdateItem on SUBJECT#). */
  'admin-revoke': { sign: false, table: ['dynamodb:UpdateItem'] },
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
