import { OAuthError, serverError, temporarilyUnavailable } from '../shared/errors.ts';

/**
 * Translation of AWS KMS SDK failures at the edge of the KMS signer: throttling, disabled or
 * pending-deletion keys, unavailable keys and KMS-side faults, network errors and timeouts become
 * 503 `temporarily_unavailable` (`kms.<operation>.unavailable`); anything else becomes a bare
 * `server_error` (`kms.<operation>.failed`). The SDK error is kept as the private cause only.
 */

/** KMS and transport failures worth a retry: the caller gets 503 + Retry-After. */
const UNAVAILABLE = new Set([
  'ThrottlingException',
  'Throttling',
  'TooManyRequestsException',
  'LimitExceededException',
  'DisabledException',
  'KMSInvalidStateException',
  'KeyUnavailableException',
  'DependencyTimeoutException',
  'KMSInternalException',
  'TimeoutError',
  'AbortError',
  'RequestTimeout',
  'RequestTimeoutException',
]);
const NETWORK = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

/** The service's error for a failed KMS call; `operation` is `get_public_key` or `sign`. */
export function kmsError(operation: string, error: unknown): OAuthError {
  if (error instanceof OAuthError) return error;
  const { name, code, $metadata } = (error ?? {}) as {
    name?: string;
    code?: string;
    $metadata?: { httpStatusCode?: number };
  };
  const status = $metadata?.httpStatusCode ?? 0;
  if (UNAVAILABLE.has(name ?? '') || NETWORK.has(code ?? '') || status === 429 || status >= 500) {
    return temporarilyUnavailable(`kms.${operation}.unavailable`, { cause: error });
  }
  return serverError(`kms.${operation}.failed`, error);
}
