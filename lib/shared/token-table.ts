// The single DynamoDB table's layout (DESIGN.md "DynamoDB table"): partition and TTL attribute
// names, the key of each item kind, and the `TOKEN#` item <-> `TokenRecord` mapping. The
// service's DynamoStore writes and reads through it, and so does the verifier's table-read mode,
// so the two can never disagree on where a revocation lives. Plain data, no AWS SDK import:
// the shapes below are the subset of the SDK's `AttributeValue` the table uses.

import { createHash } from 'node:crypto';
import type { Identity, IssuedToken, TokenRecord } from './token-record.ts';

/** Partition key attribute (string). */
export const PARTITION_KEY = 'pk';
/** TTL attribute (epoch seconds); deletion is lazy, so readers compare `exp` themselves. */
export const TTL_ATTRIBUTE = 'ttl';

/** An attribute value as the table stores it: a string, a number, a list or a map. */
export type TableValue =
  | { readonly S: string }
  | { readonly N: string }
  | { readonly L: TableValue[] }
  | { readonly M: Record<string, TableValue> };
/** An attribute as read back: the subset of the SDK's `AttributeValue` members this table uses. */
export interface TableAttribute {
  readonly S?: string;
  readonly N?: string;
  readonly L?: readonly TableAttribute[];
  readonly M?: Readonly<Record<string, TableAttribute>>;
}
/** An item as read back. */
export type TableItem = Readonly<Record<string, TableAttribute>>;

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
/**
 * `SUBJECT#<hash>`: subject-wide revocation (`revokedBefore`) of `sub` as vouched for by the
 * issuer URL `issuer`. The hash (SHA-256 of the JSON pair, base64url: 43 characters) keeps the
 * key far below DynamoDB's 2048-byte limit whatever the subject's length, and keeps `alice` of
 * one issuer apart from `alice` of another; the item holds both readable values as attributes.
 */
export const subjectKey = (issuer: string, sub: string): string =>
  `${ITEM_PREFIXES.subject}${createHash('sha256')
    .update(JSON.stringify([issuer, sub]))
    .digest('base64url')}`;
/** Longest `jti` kept as it is in a `SEEN#` key; a longer one is hashed (DynamoDB keys stop at 2048 bytes). */
export const SEEN_JTI_MAX_BYTES = 256;

/**
 * `SEEN#<issuer>#<jti>`: a used one-time subject token, a used signed AWS request
 * (`SEEN#aws4_request#<sha256 of signature>`), or a spent DPoP proof (`SEEN#dpop#<digest>`). An
 * external `jti` longer than {@link SEEN_JTI_MAX_BYTES} becomes `~sha256~<base64url digest>`, so
 * the key stays bounded whatever an issuer puts in its tokens.
 */
export const seenKey = (issuer: string, jti: string): string => {
  const id =
    Buffer.byteLength(jti, 'utf8') > SEEN_JTI_MAX_BYTES
      ? `~sha256~${createHash('sha256').update(jti, 'utf8').digest('base64url')}`
      : jti;
  return `${ITEM_PREFIXES.seen}${issuer}#${id}`;
};

/** Attribute of `TOKEN#` holding the revocation time (epoch seconds). */
export const REVOKED_AT = 'revokedAt';
/** Attribute of `SUBJECT#` holding the epoch seconds before which the subject's tokens are revoked. */
export const REVOKED_BEFORE = 'revokedBefore';
/** Attributes of `SUBJECT#` naming the subject readably: its issuer URL and `sub`. */
export const SUBJECT_ISSUER = 'issuer';
export const SUBJECT_SUB = 'sub';

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
    subject_iss: S(token.originIssuer),
    policy: S(token.policy),
    [TTL_ATTRIBUTE]: N(token.exp),
  };
  if (token.scope) item.scope = S(token.scope);
  if (token.parent) item.parent = S(token.parent);
  if (token.root) item.root = S(token.root);
  if (token.rootPolicy) item.root_policy = S(token.rootPolicy);
  if (token.ancestors.length > 0) item.ancestors = { L: token.ancestors.map(S) };
  if (token.actors.length > 0)
    item.actors = { L: token.actors.map((actor) => ({ M: { iss: S(actor.issuer), sub: S(actor.sub) } })) };
  if (token.jkt) item.jkt = S(token.jkt);
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
    originIssuer: str(item, 'subject_iss') ?? '',
    policy: str(item, 'policy') ?? '',
    parent: str(item, 'parent'),
    root: str(item, 'root'),
    rootPolicy: str(item, 'root_policy'),
    ancestors: (item.ancestors?.L ?? []).map((value) => value.S ?? ''),
    actors: (item.actors?.L ?? []).map(
      (value): Identity => ({ issuer: value.M?.iss?.S ?? '', sub: value.M?.sub?.S ?? '' }),
    ),
    jkt: str(item, 'jkt'),
    revokedAt: numberAttribute(item, REVOKED_AT),
  };
}
