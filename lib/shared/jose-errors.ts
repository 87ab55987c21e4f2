import { errors as joseErrors } from 'jose';
import { OAuthError } from './errors.ts';

/** The private reason for a jose verification failure (for logs and metrics, never for callers). */
export function joseReason(error: unknown): string {
  if (error instanceof OAuthError) return error.reason;
  if (error instanceof joseErrors.JWTExpired) return 'expired';
  if (error instanceof joseErrors.JWTClaimValidationFailed) return `claim_${error.claim}`;
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return 'bad_signature';
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return 'alg_not_allowed';
  if (error instanceof joseErrors.JOSENotSupported) return 'not_supported';
  return 'invalid';
}
