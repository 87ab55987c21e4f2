import { errors as joseErrors } from 'jose';
import { OAuthError } from './errors.ts';
import { isTokenCheck, type TokenCheck } from './reasons.ts';

/**
 * The private reason for a jose verification failure (for logs and metrics, never for callers):
 * a registered token check; a failure the registry has no word for is `invalid`.
 */
export function joseReason(error: unknown): TokenCheck {
  if (error instanceof OAuthError) return isTokenCheck(error.reason) ? error.reason : 'invalid';
  if (error instanceof joseErrors.JWTExpired) return 'expired';
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    const check = `claim_${error.claim}`;
    return isTokenCheck(check) ? check : 'invalid';
  }
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) return 'bad_signature';
  if (error instanceof joseErrors.JOSEAlgNotAllowed) return 'alg_not_allowed';
  if (error instanceof joseErrors.JOSENotSupported) return 'not_supported';
  return 'invalid';
}
