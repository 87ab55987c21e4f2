// Client SDK: token exchange with cache, single flight and retries; introspection; revocation.
export {
  type ExchangedToken,
  type ExchangeRequest,
  exchangeCacheKey,
  type IntrospectionResponse,
  type IntrospectOptions,
  type RevokeOptions,
  StsClient,
  type StsClientOptions,
} from './client.ts';
export { type CacheOptions, refreshMargin } from './client-cache.ts';
export {
  type HttpOptions,
  type RetryOptions,
  type StsErrorCode,
  TokenExchangeError,
} from './client-http.ts';
export {
  bearerToken,
  type ExchangedTokenContext,
  type TokenExchangeMiddlewareOptions,
  tokenExchangeMiddleware,
} from './client-middleware.ts';
// The core, for tools that check policies offline (what `sts explain` and `sts config validate` use).
export { type Config, ConfigError, loadConfigFile, parseConfig } from './config.ts';
export { OAuthError, type OAuthErrorCode } from './errors.ts';
export { compilePolicies, type Explanation, type PolicyEngine } from './policy.ts';
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
} from './verifier.ts';
export {
  type AccessTokenAuthOptions,
  type AccessTokenContext,
  accessTokenAuth,
} from './verifier-middleware.ts';
