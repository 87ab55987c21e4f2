// The single DynamoDB table's layout (DESIGN.md "DynamoDB table"): partition and TTL attribute
// names, the key of each item kind, and the `TOKEN#` item <-> `TokenRecord` mapping. The
// service's DynamoStore writes and reads through it, and so does the verifier's table-read mode,
// so the two can never disagree on where a revocation lives. Plain data, no AWS SDK import:
// the shapes below are the subset of the SDK's `AttributeValue` the table uses.

import type { IssuedToken, TokenRecord } from './token-record.ts';

/** Partition key attribute (string). */
export const PARTITION_KEY = 'pk';
/** TTL attribute (epoch seconds); deletion is lazy, so readers compare `exp` themselves. */
export const TTL_ATTRIBUTE = 'ttl';

/** An attribute value as the table stores it: a string or a number. */
export type TableValue = { readonly S: string } | { readonly N: string };
/** An item as read back: the subset of the SDK's `AttributeValue` members this table uses. */
export type TableItem = Readonly<Record<string, { readonly S?: string; readonly N?: string }>>;

/**
 * The partition-key prefix of each item kind. The CDK stack grants each function only the
 * prefixes it needs (`dynamodb:LeadingKeys`, cdk/handler-access.ts): a new item kind is one line
 * here, and one line per handler that touches it there.
 */
export const ITEM_PREFIXES = {
  token: 'TOKEN#',
  subject: 'SUBJECT#',
  seen: 'SEEN#',
  /** Data-key mode's signing keys (`KEY#<kid>`). */
  key: 'KEY#',
} as const;
export type ItemKind = keyof typeof ITEM_PREFIXES;

/** `TOKEN#<jti>`: one issued token. */
export const tokenKey = (jti: string): string => `${ITEM_PREFIXES.token}${jti}`;
/** `SUBJECT#<sub>`: subject-wide revocation (`revokedBefore`). */
export const subjectKey = (sub: string): string => `${ITEM_PREFIXES.subject}${sub}`;
/** `SEEN#<issuer>#<jti>`: a used one-time subject token. */
export const seenKey = (issuer: string, jti: string): string => `${ITEM_PREFIXES.seen}${issuer}#${jti}`;

/** Attribute of `TOKEN#` holding the revocation time (epoch seconds). */
export const REVOKED_AT = 'revokedAt';
/** Attribute of `SUBJECT#` holding the epoch seconds before which the subject's tokens are revoked. */
export const REVOKED_BEFORE = 'revokedBefore';

const S = (value: string): TableValue => ({ S: value });
const N = (value: number): TableValue => ({ N: String(value) });

/** The `TOKEN#` item written for an issued token (expiring with it). */
export function tokenItem(token: IssuedToken): Record<string, TableValue> {
  const item: Record<string, TableValue> = {
    [PARTITION_KEY]: S(tokenKey(token.jti)),
    sub: S(token.sub),
    aud: S(token.aud),
    client_id: S(token.clientId),
    iat: N(token.iat),
    exp: N(token.exp),
    subject_issuer: S(token.subjectIssuer),
    policy: S(token.policy),
    [TTL_ATTRIBUTE]: N(token.exp),
  };
  if (token.scope) item.scope = S(token.scope);
  return item;
}

/** Reads a number attribute, if present. */
export function numberAttribute(item: TableItem, name: string): number | undefined {
  const value = item[name]?.N;
  return value === undefined ? undefined : Number(value);
}

const str = (item: TableItem, name: string): string | undefined => item[name]?.S;

/** The `TokenRecord` of a `TOKEN#` item read back. */
export function tokenRecordFromItem(jti: string, item: TableItem): TokenRecord {
  return {
    jti,
    sub: str(item, 'sub') ?? '',
    aud: str(item, 'aud') ?? '',
    clientId: str(item, 'client_id') ?? '',
    scope: str(item, 'scope'),
    iat: numberAttribute(item, 'iat') ?? 0,
    exp: numberAttribute(item, 'exp') ?? 0,
    subjectIssuer: str(item, 'subject_issuer') ?? '',
    policy: str(item, 'policy') ?? '',
    revokedAt: numberAttribute(item, REVOKED_AT),
  };
}
