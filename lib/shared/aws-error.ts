// The one classifier of AWS SDK failures, used at the edge of every store and signer (DynamoDB,
// KMS): throttling, timeouts, service faults, keys that are disabled or unavailable for now and
// network errors become 503 `temporarily_unavailable` (`<service>.<operation>.unavailable`, worth
// a retry); anything else becomes a bare `server_error` (`<service>.<operation>.failed`). The SDK
// error is kept as the private cause only: callers never see SDK messages.

import { OAuthError, serverError, temporarilyUnavailable } from './errors.ts';

/** The AWS services the service calls; the first word of their reasons. */
export type AwsService = 'kms' | 'dynamodb';

/** Error names (SDK exceptions of any service, and the SDK's own timeouts) worth a retry. */
const RETRYABLE_NAMES: ReadonlySet<string> = new Set([
  // Throttling, in the spellings of the services and the SDK.
  'ThrottlingException',
  'Throttling',
  'TooManyRequestsException',
  'LimitExceededException',
  'ProvisionedThroughputExceededException',
  'RequestLimitExceeded',
  'TransactionConflictException',
  // Service-side faults.
  'InternalServerError',
  'ServiceUnavailable',
  'KMSInternalException',
  'DependencyTimeoutException',
  // A KMS key disabled, pending deletion or unavailable: an operator can fix it, a retry may work.
  'DisabledException',
  'KMSInvalidStateException',
  'KeyUnavailableException',
  // Deadlines: the SDK's socket timeout and our AbortSignal.timeout.
  'TimeoutError',
  'AbortError',
  'RequestTimeout',
  'RequestTimeoutException',
]);

/** Node network error codes worth a retry. */
const RETRYABLE_CODES: ReadonlySet<string> = new Set([
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

/** Whether an AWS SDK failure is transient: throttled, timed out, a service fault or the network. */
export function isRetryableAwsError(error: unknown): boolean {
  const { name, code, $metadata } = (error ?? {}) as {
    name?: unknown;
    code?: unknown;
    $metadata?: { httpStatusCode?: number };
  };
  const status = $metadata?.httpStatusCode ?? 0;
  return (
    (typeof name === 'string' && RETRYABLE_NAMES.has(name)) ||
    (typeof code === 'string' && RETRYABLE_CODES.has(code)) ||
    status === 429 ||
    status >= 500
  );
}

/**
 * The service's error for a failed AWS call. An OAuthError passes through unchanged.
 *
 * @example awsError('dynamodb', 'put_token', sdkError) // 503 `dynamodb.put_token.unavailable` when throttled
 */
export function awsError(service: AwsService, operation: string, error: unknown): OAuthError {
  if (error instanceof OAuthError) return error;
  if (isRetryableAwsError(error)) {
    return temporarilyUnavailable(`${service}.${operation}.unavailable`, { cause: error });
  }
  return serverError(`${service}.${operation}.failed`, error);
}
