// The deadline of the request being served, and the timeout of each outbound call under it.
//
// Each outbound call (DynamoDB, KMS, AWS STS, issuer discovery and JWKS) has its own limit, but their sum
// on the worst `/token` path (discovery, JWKS, Sign, two writes, a chained read, a cold-start
// GetPublicKey) exceeds the function's timeout; a Lambda timeout answers with API Gateway's bare
// 500, no log line and no Retry-After. So the handler sets the request's deadline from the
// invocation's remaining time (lambdas/define-handler.ts), and every call takes its own limit cut
// to the time left: past the deadline a call aborts at once, the dependency counts as
// unavailable, and the service itself answers 503 with Retry-After and logs why.
//
// The deadline follows the request's async context (AsyncLocalStorage), so concurrent requests
// on the local server each keep their own. Without one (tests, tools) the limits apply as they are.
import { AsyncLocalStorage } from 'node:async_hooks';

const deadlines = new AsyncLocalStorage<number>();

/** Runs `fn` with `deadlineMs` (epoch milliseconds) as the deadline of every call it makes. */
export function withDeadline<T>(deadlineMs: number, fn: () => Promise<T>): Promise<T> {
  return deadlines.run(deadlineMs, fn);
}

/**
 * The timeout of one outbound call: its own `limitMs`, cut to the time left before the current
 * deadline (0 once it has passed).
 *
 * @example
 * await client.send(command, { abortSignal: AbortSignal.timeout(callTimeout(2000)) });
 */
export function callTimeout(limitMs: number, now: number = Date.now()): number {
  const deadline = deadlines.getStore();
  return deadline === undefined ? limitMs : Math.max(0, Math.min(limitMs, deadline - now));
}
