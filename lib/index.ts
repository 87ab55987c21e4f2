// Client SDK: token exchange with cache, single flight and retries; introspection; revocation.

export { type CacheOptions, refreshMargin } from './client/cache.ts';
export {
  type ExchangedToken,
  type ExchangeRequest,
  exchangeCacheKey,
  type IntrospectionResponse,
  type IntrospectOptions,
  type RevokeOptions,
  StsClient,
  type StsClientOptions,
} from './client/client.ts';
export {
  type HttpOptions,
  type RetryOptions,
  type StsErrorCode,
  TokenExchangeError,
} from './client/http.ts';
export {
  bearerToken,
  type ExchangedTokenContext,
  type TokenExchangeMiddlewareOptions,
  tokenExchangeMiddleware,
} from './client/middleware.ts';
// The core, for tools that check policies offline (what `sts explain` and `sts config validate` use).
export { type Config, ConfigError, loadConfigFile, parseConfig } from './config/config.ts';
export { compilePolicies, type Explanation, type PolicyEngine } from './policy/policy.ts';
export { OAuthError, type OAuthErrorCode } from './shared/errors.ts';
export {
  type AccessTokenAuthOptions,
  type AccessTokenContext,
  accessTokenAuth,
} from './verify/middleware.ts';
// Verifier for downstream services: at+jwt verification against the STS discovery document and
// JWKS, optional revocation check behind a bounded cache, and middy middleware (RFC 6750).
export {
  type AccessTokenVerifier,
  type ActClaim,
  createAccessTokenVerifier,
  hasScope,
  type RevocationCheckOptions,
  type RevocationLookup,
  type VerifiedAccessTokenClaims,
  type VerifierAlgorithm,
  type VerifierOptions,
} from './verify/verifier.ts';
