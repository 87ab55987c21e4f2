// The shape of a middy middleware (`@middy/core`'s `MiddlewareObj`), declared here so the
// published types of the client and verifier middlewares need neither `@middy/core` nor its
// types: a consumer without middy still type-checks with `skipLibCheck: false`, and one with
// middy passes these objects to `middy().use(...)` (structurally the same type).

/** What middy hands each middleware function: the event, the context and the handler's response. */
export interface MiddyRequest<TEvent, TResult, TContext> {
  event: TEvent;
  context: TContext;
  response: TResult | null;
  error: Error | null;
}

/** A middy middleware: `before`, `after` and `onError` hooks; a value returned ends the request. */
export interface MiddyMiddleware<TEvent, TResult, TContext> {
  name?: string;
  // biome-ignore lint/suspicious/noExplicitAny: middy's own MiddlewareFn returns any (a response or nothing)
  before?: (request: MiddyRequest<TEvent, TResult, TContext>) => any;
  // biome-ignore lint/suspicious/noExplicitAny: as above
  after?: (request: MiddyRequest<TEvent, TResult, TContext>) => any;
  // biome-ignore lint/suspicious/noExplicitAny: as above
  onError?: (request: MiddyRequest<TEvent, TResult, TContext>) => any;
}
