// The token store: every issued `jti`, subject-wide revocations, and used one-time subject
// tokens. `DynamoStore` is the production implementation (stores/dynamodb.ts); `MemoryStore`
// (stores/memory.ts) serves unit tests and the in-process benchmark. The record shapes and the
// liveness decision live in `shared/token-record.ts`, shared with the downstream verifier.
//
// Implementations translate their SDK's exceptions into OAuthErrors at this edge:
// throttling, timeouts and outages become 503 `temporarily_unavailable`.

import type { IssuedToken, TokenRecordReader } from '../shared/token-record.ts';

export type { IssuedToken, TokenRecord } from '../shared/token-record.ts';

export interface TokenStore extends TokenRecordReader {
  /** Records an issued token; must be durable before the token is returned. Fails if the jti exists. */
  recordIssued(token: IssuedToken): Promise<void>;
  /** Marks one token revoked; returns false when no record exists for `jti`. */
  revokeToken(jti: string, at: number): Promise<boolean>;
  /** Revokes every token of `sub` issued before `before` (epoch seconds). */
  revokeSubject(sub: string, before: number): Promise<void>;
  /**
   * Records the first use of a one-time subject token (`SEEN#<issuer>#<jti>`, expiring at `exp`);
   * returns false when it was already used.
   */
  markSubjectTokenUsed(issuer: string, jti: string, exp: number): Promise<boolean>;
}
