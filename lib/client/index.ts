// `serverless-sts/client`: what a Lambda developer imports. The SDK (token exchange with cache,
// single flight and retries; introspection; revocation) and the middy middleware that exchanges
// a caller's token on its behalf. Imports jose only; `@middy/core` and `aws-lambda` are types.

export { type CacheOptions, refreshMargin } from './cache.ts';
export {
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
