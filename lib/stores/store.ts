/**
 * The token store: every issued `jti`, subject-wide revocations, and used one-time subject
 * tokens. `DynamoStore` is the production implementation (stores/dynamodb.ts); `MemoryStore`
 * (stores/memory.ts) serves unit tests and the in-process benchmark.
 *
 * Implementations translate their SDK's exceptions into OAuthErrors at this edge:
 * throttling, timeouts and outages become 503 `temporarily_unavailable`.
 */
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
  readonly subjectIssuer: string;
  readonly policy: string;
}

export interface TokenRecord extends IssuedToken {
  /** Epoch seconds when the token was revoked by jti. */
  readonly revokedAt: number | undefined;
}

export interface TokenStore {
  /** Records an issued token; must be durable before the token is returned. Fails if the jti exists. */
  recordIssued(token: IssuedToken): Promise<void>;
  /** Strongly consistent read of a token record. */
  getToken(jti: string): Promise<TokenRecord | undefined>;
  /** Epoch seconds before which every token of `sub` is revoked, if any. */
  subjectRevokedBefore(sub: string): Promise<number | undefined>;
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

/** Whether a token record is revoked, by jti or by its subject's `revokedBefore`. */
export function isRevoked(record: TokenRecord, subjectRevokedBefore: number | undefined): boolean {
  if (record.revokedAt !== undefined) return true;
  return subjectRevokedBefore !== undefined && record.iat < subjectRevokedBefore;
}
