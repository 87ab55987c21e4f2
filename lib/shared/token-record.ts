// The record the service keeps of every issued token (`TOKEN#<jti>`), and the one decision of
// whether a recorded token is still live. The service's stores, chained exchange, introspection
// and the downstream verifier's table-read mode all decide through `readTokenState`, so a
// revocation means the same thing everywhere it is checked.
//
// A token is live while it is unexpired (our own `exp` is exact), was not revoked by jti, none of
// its ancestors was (the tokens it was exchanged from and the actor tokens of ours it was
// delegated with, recorded in `ancestors`), and none of the identities it speaks for (its
// subject and every actor of its `act` chain, each named by the issuer that vouched for it) was
// revoked at or after its `iat`.

/** Most ancestors a token may have (chained exchanges and actor tokens of ours, transitively). */
export const MAX_ANCESTORS = 8;

/** A subject or actor, named by the issuer URL that vouched for it. */
export interface Identity {
  /** The issuer URL (`iss` of the token that first presented this identity). */
  readonly issuer: string;
  readonly sub: string;
}

/** What the service records about a token before returning it (DESIGN.md "DynamoDB table"). */
export interface IssuedToken {
  readonly jti: string;
  readonly sub: string;
  readonly aud: string;
  readonly clientId: string;
  readonly scope: string | undefined;
  /** Epoch seconds. */
  readonly iat: number;
  /** Epoch seconds. */
  readonly exp: number;
  /** The trusted issuer's name that vouched for `sub` (the chain's origin). */
  readonly subjectIssuer: string;
  /** That issuer's URL: with `sub`, the key of the subject's `SUBJECT#` item. */
  readonly originIssuer: string;
  readonly policy: string;
  /** The jti this token was exchanged from (chained exchange). */
  readonly parent?: string | undefined;
  /** The first token of its chain (chained exchange). */
  readonly root?: string | undefined;
  /** The policy that minted the first token of its chain (chained exchange). */
  readonly rootPolicy?: string | undefined;
  /** Every jti whose revocation revokes this token: parents and actor tokens of ours, transitively. */
  readonly ancestors: readonly string[];
  /** The actors of its `act` chain, outermost first. */
  readonly actors: readonly Identity[];
  /** RFC 9449: the thumbprint of the key a DPoP-bound token is bound to (`cnf.jkt`). */
  readonly jkt?: string | undefined;
}

export interface TokenRecord extends IssuedToken {
  /** Epoch seconds when the token was revoked by jti. */
  readonly revokedAt: number | undefined;
}

/**
 * `unknown`: no record for this jti, so the token was never issued here (or expired long ago);
 * `expired`: its `exp` has passed (compared exactly: lazy TTL deletion never matters).
 */
export type TokenState = 'active' | 'revoked' | 'expired' | 'unknown';

/**
 * The strongly consistent reads the liveness decision needs. The service's `TokenStore` is one;
 * the verifier's table-read mode (`serverless-sts/verifier/dynamodb`) is another.
 */
export interface TokenRecordReader {
  /** Strongly consistent read of a token record. */
  getToken(jti: string): Promise<TokenRecord | undefined>;
  /** Epoch seconds before which every token of `sub` from `issuer` (URL) is revoked, if any. */
  subjectRevokedBefore(issuer: string, sub: string): Promise<number | undefined>;
}

/** The identities a token speaks for, each once: its subject, then its actors. */
export function tokenIdentities(record: IssuedToken): Identity[] {
  const all = [{ issuer: record.originIssuer, sub: record.sub }, ...record.actors];
  const seen = new Set<string>();
  return all.filter((identity) => {
    const key = JSON.stringify([identity.issuer, identity.sub]);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** What the second round of reads found: each ancestor's record and each identity's `revokedBefore`. */
export interface LivenessFacts {
  /** In the order of `record.ancestors`. */
  readonly ancestors: ReadonlyArray<TokenRecord | undefined>;
  /** In the order of `tokenIdentities(record)`. */
  readonly revokedBefore: ReadonlyArray<number | undefined>;
}

/**
 * The pure decision. `now` is epoch seconds. Without `facts` only the record itself is judged
 * (the first round of reads); with them, the ancestors and identities too. A missing ancestor
 * record counts as revoked: an ancestor never expires before its descendants, so its record
 * outlives theirs.
 */
export function recordState(record: TokenRecord | undefined, now: number, facts?: LivenessFacts): TokenState {
  if (record === undefined) return 'unknown';
  if (now >= record.exp) return 'expired';
  if (record.revokedAt !== undefined) return 'revoked';
  if (!facts) return 'active';
  if (facts.ancestors.some((ancestor) => ancestor === undefined || ancestor.revokedAt !== undefined))
    return 'revoked';
  if (facts.revokedBefore.some((before) => before !== undefined && record.iat < before)) return 'revoked';
  return 'active';
}

/**
 * Why a presented token of ours whose record is in `state` is refused (a `TOKEN_CHECKS` reason,
 * shared/reasons.ts); undefined while it is active.
 */
export function recordRefusal(state: TokenState): 'self_unknown_jti' | 'revoked' | 'expired' | undefined {
  return state === 'active' ? undefined : state === 'unknown' ? 'self_unknown_jti' : state;
}

/**
 * Reads a token's record, then (in parallel) its ancestors' records and its identities'
 * `SUBJECT#` items, and decides its state. Reads: 1 for a token that is unknown, expired or
 * revoked by jti; otherwise 1 + ancestors + identities, in two round trips.
 *
 * @example
 * const { state, record } = await readTokenState(store, claims.jti, epochSeconds(clock));
 * if (state !== 'active') refuse();
 */
export async function readTokenState(
  reader: TokenRecordReader,
  jti: string,
  now: number,
): Promise<{ readonly state: TokenState; readonly record: TokenRecord | undefined }> {
  const record = await reader.getToken(jti);
  const first = recordState(record, now);
  if (first !== 'active' || record === undefined) return { state: first, record };
  const [ancestors, revokedBefore] = await Promise.all([
    Promise.all(record.ancestors.map((ancestor) => reader.getToken(ancestor))),
    Promise.all(tokenIdentities(record).map((who) => reader.subjectRevokedBefore(who.issuer, who.sub))),
  ]);
  return { state: recordState(record, now, { ancestors, revokedBefore }), record };
}

/**
 * Whether a presented external token (subject or actor) is cut off by its subject's revocation:
 * issued before `revokedBefore`, or without `iat` while `revokedBefore` + the issuer's
 * `maxTokenAge` has not passed (such a token may have been issued just before the revocation).
 */
export function presentedTokenRevoked(
  iat: number | undefined,
  revokedBefore: number | undefined,
  maxTokenAge: number,
  now: number,
): boolean {
  if (revokedBefore === undefined) return false;
  return iat === undefined ? now < revokedBefore + maxTokenAge : iat < revokedBefore;
}
