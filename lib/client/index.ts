// `serverless-sts/client`: what a Lambda developer imports. The SDK (token exchange with cache,
// single flight and retries; introspection; revocation) and the middy middleware that exchanges
// a caller's token on its behalf; DPoP keys and proofs (RFC 9449). Imports jose only;
// `@middy/core` and `aws-lambda` are types.

export { type CacheOptions, refreshMargin } from './cache.ts';
export {
  type DownstreamRequest,
  type ExchangedToken,
  type ExchangeRequest,
  exchangeCacheKey,
  type IntrospectionResponse,
  type IntrospectOptions,
  type RevokeOptions,
  StsClient,
  type StsClientOptions,
  type TokenSource,
} from './client.ts';
export {
  type DpopKey,
  type DpopKeyAlgorithm,
  type DpopProofRequest,
  generateDpopJwk,
  generateDpopKey,
  importDpopKey,
  signDpopProof,
} from './dpop.ts';
export {
  type HttpOptions,
  type RetryOptions,
  type StsErrorCode,
  TokenExchangeError,
} from './http.ts';
export {
  bearerToken,
  type ExchangedTokenContext,
  type TokenExchangeMiddlewareOptions,
  tokenExchangeMiddleware,
} from './middleware.ts';
