// The one error type of the service. Every refusal and every failure becomes an `OAuthError`
// carrying an RFC 6749 §5.2 error code, the HTTP status, a generic public description and a
// private `reason` from the registry in reasons.ts (for the audit log and metrics, never for the
// caller).

import type { Reason } from './reasons.ts';

export type OAuthErrorCode =
  | 'invalid_request'
  | 'invalid_client'
  | 'invalid_grant'
  | 'unsupported_grant_type'
  | 'invalid_target'
  | 'invalid_scope'
  | 'invalid_token'
  | 'insufficient_scope'
  /** RFC 9449 §5, §7.1: the DPoP proof is missing where required, malformed or wrong. */
  | 'invalid_dpop_proof'
  /** RFC 9449 §8, §9: the proof must carry the nonce in the response's `DPoP-Nonce`. */
  | 'use_dpop_nonce'
  | 'temporarily_unavailable'
  | 'server_error';

export interface OAuthErrorOptions {
  /** Machine-readable private reason, e.g. `subject_token.expired`; logged, never returned. */
  reason?: Reason;
  cause?: unknown;
  /** Seconds, for `Retry-After` on 503 and 429. */
  retryAfter?: number;
  headers?: Record<string, string>;
}

export class OAuthError extends Error {
  override readonly name = 'OAuthError';
  readonly reason: Reason;
  readonly retryAfter: number | undefined;
  readonly headers: Record<string, string>;

  constructor(
    readonly code: OAuthErrorCode,
    readonly status: number,
    readonly description: string,
    options: OAuthErrorOptions = {},
  ) {
    super(`${code}: ${description}`, { cause: options.cause });
    this.reason = options.reason ?? code;
    this.retryAfter = options.retryAfter;
    this.headers = options.headers ?? {};
  }

  /** Whether code and description may be shown to the caller; `server_error` never shows detail. */
  get expose(): boolean {
    return this.code !== 'server_error';
  }
}

type Factory = (description: string, options?: OAuthErrorOptions) => OAuthError;
const factory =
  (code: OAuthErrorCode, status: number): Factory =>
  (description, options) =>
    new OAuthError(code, status, description, options);

export const invalidRequest = factory('invalid_request', 400);
export const invalidClient = factory('invalid_client', 401);
export const invalidGrant = factory('invalid_grant', 400);
export const unsupportedGrantType = factory('unsupported_grant_type', 400);
export const invalidTarget = factory('invalid_target', 400);
export const invalidScope = factory('invalid_scope', 400);
export const invalidToken = factory('invalid_token', 401);
export const insufficientScope = factory('insufficient_scope', 403);

export const payloadTooLarge = (options?: OAuthErrorOptions): OAuthError =>
  new OAuthError('invalid_request', 413, 'request body is too large', {
    reason: 'request.too_large',
    ...options,
  });

/** A dependency (KMS, DynamoDB, an issuer's JWKS) is unavailable or throttled: 503 + Retry-After. */
export const temporarilyUnavailable = (reason: Reason, options: OAuthErrorOptions = {}): OAuthError =>
  new OAuthError('temporarily_unavailable', 503, 'the service is temporarily unavailable, retry later', {
    retryAfter: 1,
    ...options,
    reason,
  });

export const serverError = (reason: Reason, cause?: unknown): OAuthError =>
  new OAuthError('server_error', 500, 'internal error', { reason, cause });

/** Anything thrown becomes an OAuthError; unknown errors become a bare `server_error`. */
export function toOAuthError(error: unknown): OAuthError {
  if (error instanceof OAuthError) return error;
  return serverError('unexpected', error);
}

/** The RFC 6749 §5.2 JSON body for an error: generic words only. */
export function errorBody(error: OAuthError): { error: OAuthErrorCode; error_description?: string } {
  if (!error.expose) return { error: 'server_error' };
  return { error: error.code, error_description: error.description };
}
