// `serverless-sts/verifier`: what a downstream service imports. The at+jwt verifier (keys from
// the STS discovery document and JWKS; pinned algorithms, issuer, audience; an optional
// revocation check behind a bounded cache) and its middy middleware (RFC 6750; DPoP-bound
// tokens with their proofs, RFC 9449). Imports jose only; the table-read revocation mode, which needs the AWS SDK, is `serverless-sts/verifier/dynamodb`.

export { OAuthError, type OAuthErrorCode } from '../shared/errors.ts';
export type { TokenRecord, TokenRecordReader } from '../shared/token-record.ts';
export { type DpopRequest, type DpopVerifierOptions, proofReplayCache } from './dpop.ts';
export {
  type AccessTokenAuthOptions,
  type AccessTokenContext,
  accessTokenAuth,
  requestUrl,
  type ValidationResult,
} from './middleware.ts';
export {
  DEFAULT_CONSUMER_NAMESPACE,
  type ValidationMetricsOptions,
  validationMetrics,
} from './validation-metrics.ts';
export {
  type AccessTokenVerifier,
  type ActClaim,
  createAccessTokenVerifier,
  type HeadersInput,
  hasScope,
  type RevocationCheckOptions,
  type RevocationLookup,
  type VerifiedAccessTokenClaims,
  type VerifierAlgorithm,
  type VerifierOptions,
} from './verifier.ts';
