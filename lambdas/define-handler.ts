// Wraps a route's body in the shared middy stack (per-request metrics, OAuth error responses) and
// gives it its runtime. Every log line of the request carries its Lambda request id and API
// Gateway's request id (`correlation_id`). Each handler module exports `createHandler` (tests and
// the local server pass their own runtime) and `handler` (Lambda's entry point, on the container
// runtime of its route's layer).

import middy from '@middy/core';
import type { Context } from 'aws-lambda';
import { loadSettings } from '../lib/config/settings.ts';
import { withDeadline } from '../lib/shared/deadline.ts';
import { createMetricsWriter, type MetricsWriter, noMetrics } from '../lib/shared/emf.ts';
import { createLogger, type Logger, withLogContext } from '../lib/shared/log.ts';
import { type Event, oauthErrors, type Result } from './http.ts';
import { requestMetrics } from './request-metrics.ts';
import type { BaseRuntime, RuntimeProvider } from './runtime.ts';

/** Time kept back from the invocation's remaining time to write the error response and its log line. */
export const RESPONSE_RESERVE_MS = 500;

/** Logs failures that happen before a runtime exists (a bad config, KMS down at cold start). */
let startupLogger: Logger | undefined;
const fallbackLogger = (): Logger => {
  startupLogger ??= createLogger('info');
  return startupLogger;
};
/** Counts requests that fail before a runtime exists, when the environment names a namespace. */
let startupMetrics: MetricsWriter | undefined;
const fallbackMetrics = (): MetricsWriter => {
  if (startupMetrics) return startupMetrics;
  try {
    startupMetrics = createMetricsWriter({ namespace: loadSettings().metricsNamespace });
  } catch {
    startupMetrics = noMetrics;
  }
  return startupMetrics;
};

/**
 * A handler factory for one route: `body` runs on a runtime of layer `R`; `container` builds that
 * layer from the environment (Lambda). The factory takes any provider of `R` or more.
 *
 * @example
 * export const createHandler = defineHandler(signingRuntime, async (event, runtime) => ...);
 * export const handler = createHandler();
 */
export function defineHandler<R extends BaseRuntime>(
  container: RuntimeProvider<R>,
  body: (event: Event, runtime: R) => Promise<Result>,
) {
  return (provider: RuntimeProvider<R> = container) => {
    let current: R | undefined;
    const wrapped = middy<Event, Result>()
      .use(requestMetrics(() => current?.metrics ?? fallbackMetrics()))
      .use(oauthErrors(() => current?.logger ?? fallbackLogger()))
      .handler(async (event, context) => {
        const run = async () => {
          current = await provider();
          return body(event, current);
        };
        // Every call of this request (the runtime's cold start included) ends before Lambda's
        // timeout would, leaving RESPONSE_RESERVE_MS to answer (lib/shared/deadline.ts).
        const remaining = context?.getRemainingTimeInMillis?.();
        return remaining === undefined
          ? run()
          : withDeadline(Date.now() + remaining - RESPONSE_RESERVE_MS, run);
      });
    return (event: Event, context: Context): Promise<Result> =>
      withLogContext(
        { request_id: context?.awsRequestId, correlation_id: event?.requestContext?.requestId },
        () => wrapped(event, context),
      );
  };
}
