// Per-request metrics of every handler, one EMF line per request: `Requests`, `ServerErrors`
// (0 or 1, so its Average is the 5xx rate) and `Latency` by `handler` (the route table's handler
// name: the token route's 5xx rate is not diluted by JWKS traffic), plus `DependencyErrors` by
// `dependency` when a 5xx came from KMS, DynamoDB or an issuer's JWKS. Register it before the
// error handler, so its `onError` runs after the response was made.

import type { MiddlewareObj } from '@middy/core';
import { type MetricsWriter, roundMs } from '../lib/shared/emf.ts';
import { toOAuthError } from '../lib/shared/errors.ts';
import { REQUEST_METRICS as M } from '../lib/shared/metric-names.ts';
import { reasonPrefix } from '../lib/shared/reasons.ts';
import type { Event, Result } from './http.ts';
import { findRoute } from './routes.ts';

// reasonPrefix throws for an area the registry lacks: a renamed area cannot leave a metric empty.
const DEPENDENCIES: ReadonlyArray<readonly [string, string]> = [
  [reasonPrefix('kms'), 'kms'],
  [reasonPrefix('dynamodb'), 'dynamodb'],
  [reasonPrefix('jwks'), 'issuer_jwks'],
];

/** The dependency a failure reason names, if any. */
export const dependencyOf = (reason: string): string | undefined =>
  DEPENDENCIES.find(([prefix]) => reason.startsWith(prefix))?.[1];

/** The handler dimension of an event: its route's handler, from the route table only. */
const handlerOf = (event: Event): string => {
  const [method = '', path = ''] = (event.routeKey ?? '').split(' ');
  return findRoute(method, path)?.handler ?? 'unknown';
};

export function requestMetrics(metrics: () => MetricsWriter): MiddlewareObj<Event, Result> {
  const started = new WeakMap<object, number>();
  const write = (event: Event, status: number, reason: string | undefined) => {
    const writer = metrics();
    if (!writer.enabled) return;
    const begun = started.get(event);
    const failed = status >= 500;
    const dependency = failed && reason ? dependencyOf(reason) : undefined;
    writer.write(
      [
        {
          dimensionSets: [['handler']],
          metrics: [
            { name: M.requests, unit: 'Count', value: 1 },
            { name: M.serverErrors, unit: 'Count', value: failed ? 1 : 0 },
            {
              name: M.latency,
              unit: 'Milliseconds',
              value: roundMs(begun === undefined ? 0 : performance.now() - begun),
            },
          ],
        },
        ...(dependency
          ? [
              {
                dimensionSets: [['dependency']] as const,
                metrics: [{ name: M.dependencyErrors, unit: 'Count', value: 1 } as const],
              },
            ]
          : []),
      ],
      { handler: handlerOf(event), dependency },
    );
  };
  return {
    before: (request) => {
      started.set(request.event, performance.now());
    },
    after: (request) => {
      write(request.event, request.response?.statusCode ?? 200, undefined);
    },
    onError: (request) => {
      const error = toOAuthError(request.error);
      write(request.event, request.response?.statusCode ?? error.status, error.reason);
    },
  };
}
