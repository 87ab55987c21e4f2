// The record the service keeps of every issued token (`TOKEN#<jti>`), and the one decision of
// whether a recorded token is still live. The service's stores, chained exchange, introspection
// and the downstream verifier's table-read mode all decide through `readTokenState`, so a
// revocation means the same thing everywhere it is checked.

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
  readonly subjectIssuer: string;
  readonly policy: string;
}

export interface TokenRecord extends IssuedToken {
  /** Epoch seconds when the token was revoked by jti. */
  readonly revokedAt: number | undefined;
}

/** `unknown`: no record for this jti, so the token was never issued here (or expired long ago). */
export type TokenState = 'active' | 'revoked' | 'unknown';

/**
 * The strongly consistent reads the liveness decision needs. The service's `TokenStore` is one;
 * the verifier's table-read mode (`serverless-sts/verifier/dynamodb`) is another.
 */
export interface TokenRecordReader {
  /** Strongly consistent read of a token record. */
  getToken(jti: string): Promise<TokenRecord | undefined>;
  /** Epoch seconds before which every token of `sub` is revoked, if any. */
  subjectRevokedBefore(sub: string): Promise<number | undefined>;
}

/**
 * The pure decision: a recorded token is revoked when it was revoked by jti or issued before its
 * subject's `revokedBefore`; without a record it is `unknown`.
 */
export function recordState(
  record: TokenRecord | undefined,
  subjectRevokedBefore: number | undefined,
): TokenState {
  if (record === undefined) return 'unknown';
  if (record.revokedAt !== undefined) return 'revoked';
  return subjectRevokedBefore !== undefined && record.iat < subjectRevokedBefore ? 'revoked' : 'active';
}

/**
 * Reads a token's record and its subject's `revokedBefore` in parallel and decides its state.
 *
 * @example
 * const { state } = await readTokenState(store, claims.jti, claims.sub);
 * if (state !== 'active') refuse();
 */
export async function readTokenState(
  reader: TokenRecordReader,
  jti: string,
  sub: string,
): Promise<{ readonly state: TokenState; readonly record: TokenRecord | undefined }> {
  const [record, revokedBefore] = await Promise.all([reader.getToken(jti), reader.subjectRevokedBefore(sub)]);
  return { state: recordState(record, revokedBefore), record };
}
