// Wraps a route's body in the shared middy stack (OAuth error responses) and gives it the
// container's runtime. Each handler module exports `createHandler` (tests and the local server
// pass their own runtime) and `handler` (Lambda's entry point, on the default runtime).

import middy from '@middy/core';
import { createLogger, type Logger } from '../lib/shared/log.ts';
import { type Event, oauthErrors, type Result } from './http.ts';
import { defaultRuntime, type Runtime, type RuntimeProvider } from './runtime.ts';

/** Logs failures that happen before a runtime exists (a bad config, KMS down at cold start). */
let startupLogger: Logger | undefined;
const fallbackLogger = (): Logger => {
  startupLogger ??= createLogger('info');
  return startupLogger;
};

/**
 * A route handler factory: `defineHandler(body)(provider)` is the middy handler that runs `body`
 * with the runtime `provider` gives (the container's default runtime unless one is passed).
 */
export function defineHandler(body: (event: Event, runtime: Runtime) => Promise<Result>) {
  return (provider: RuntimeProvider = defaultRuntime) => {
    let current: Runtime | undefined;
    return middy<Event, Result>()
      .use(oauthErrors(() => current?.logger ?? fallbackLogger()))
      .handler(async (event) => {
        current = await provider();
        return body(event, current);
      });
  };
}
