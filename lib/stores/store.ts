// The token store: every issued `jti`, subject-wide revocations, and used one-time subject
// tokens. `DynamoStore` is the production implementation (stores/dynamodb.ts); `MemoryStore`
// (stores/memory.ts) serves unit tests and the in-process benchmark. The record shapes and the
// liveness decision live in `shared/token-record.ts`, shared with the downstream verifier.
//
// Implementations translate their SDK's exceptions into OAuthErrors at this edge:
// throttling, timeouts and outages become 503 `temporarily_unavailable`.

import type { IssuedToken, TokenRecordReader } from '../shared/token-record.ts';

export type { IssuedToken, TokenRecord } from '../shared/token-record.ts';

/** A one-time subject or actor token to spend: `SEEN#<issuer>#<jti>`, kept until `until` (epoch s). */
export interface OneTimeUse {
  readonly issuer: string;
  readonly jti: string;
  readonly until: number;
}

export interface TokenStore extends TokenRecordReader {
  /** Records an issued token; must be durable before the token is returned. Fails if the jti exists. */
  recordIssued(token: IssuedToken): Promise<void>;
  /**
   * Spends the one-time tokens a token was exchanged from and records the token, in one write
   * round trip where the store can (DynamoDB: one TransactWriteItems, all or nothing). Resolves
   * the entry of `spend` that was already used (a replay: the token must not leave), or
   * undefined when every write is durable. Throws like recordIssued (503 on a fault; a fault
   * may leave nothing written, or, on a store without transactions, the tokens spent).
   */
  recordIssuedSpending(token: IssuedToken, spend: readonly OneTimeUse[]): Promise<OneTimeUse | undefined>;
  /** Marks one token revoked; returns false when no record exists for `jti`. */
  revokeToken(jti: string, at: number): Promise<boolean>;
  /**
   * Revokes every token of `sub` from the issuer URL `issuer` issued before `before` (epoch
   * seconds), and every token it acts in; never moves an earlier `revokedBefore` backwards.
   */
  revokeSubject(issuer: string, sub: string, before: number): Promise<void>;
  /**
   * Records the first use of a one-time subject token (`SEEN#<issuer>#<jti>`, expiring at `exp`);
   * returns false when it was already used.
   */
  markSubjectTokenUsed(issuer: string, jti: string, exp: number): Promise<boolean>;
}
