// Request throttling of the HTTP API and the token function's reserved concurrency.
//
// HTTP APIs have no API-wide bucket: the stage's default route settings give every route its
// own bucket, and a route's own settings replace them for that route. So a flood on one public
// route is throttled (429) on that route alone. What is still shared is Lambda concurrency: the
// token function gets a reservation that is both a floor (other functions, or other workloads of
// the account, cannot starve it) and a ceiling (a slow issuer plus traffic cannot hold the
// account's pool). Its default is what the token route's throttle can admit while every request
// runs to the timeout: the burst, plus the rate for the length of the timeout.
import { Annotations } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import type { Route } from '../lambdas/routes.ts';

export interface ThrottleOptions {
  /** Steady-state requests per second of one route. */
  readonly rateLimit?: number;
  /** Requests the route's bucket admits at once. */
  readonly burstLimit?: number;
}

export type Throttle = Required<ThrottleOptions>;

/** The stage's default bucket, and the routes with buckets of their own by route key. */
export interface RouteThrottles {
  readonly stage: Throttle;
  readonly routes: ReadonlyMap<string, Throttle>;
}

/** Every route's bucket unless the route has its own. */
export const DEFAULT_THROTTLE: Throttle = { rateLimit: 100, burstLimit: 200 };

/**
 * Routes with a bucket of their own by default, by route key. `POST /token` is the expensive one
 * (issuer discovery and JWKS, KMS, DynamoDB), and its bucket sizes the token function's
 * reserved concurrency.
 */
export const DEFAULT_ROUTE_THROTTLES: Readonly<Record<string, Throttle>> = {
  'POST /token': { rateLimit: 25, burstLimit: 50 },
};

const checked = (where: string, throttle: ThrottleOptions, base: Throttle): Throttle => {
  const result = { ...base, ...throttle };
  for (const [name, value] of Object.entries(result)) {
    if (
      !Number.isInteger(value) ||
      value < 0 ||
      (name === 'rateLimit' && value === 0 && result.burstLimit > 0)
    ) {
      throw new Error(`TokenService: ${where}.${name} must be a whole number >= 0 (got ${value})`);
    }
  }
  return result;
};

/** The stage default, and the routes with buckets of their own (defaults, then `overrides`). */
export function routeThrottles(
  routes: readonly Route[],
  stageDefault: ThrottleOptions = {},
  overrides: Readonly<Record<string, ThrottleOptions>> = {},
): RouteThrottles {
  const stage = checked('throttle', stageDefault, DEFAULT_THROTTLE);
  const keys = new Set(routes.map((route) => `${route.method} ${route.path}`));
  const own = new Map<string, Throttle>();
  for (const [key, throttle] of Object.entries(DEFAULT_ROUTE_THROTTLES))
    if (keys.has(key)) own.set(key, throttle);
  for (const [key, throttle] of Object.entries(overrides)) {
    if (!keys.has(key)) {
      throw new Error(
        `TokenService: routeThrottles["${key}"] names no route of lambdas/routes.ts (${[...keys].join(', ')})`,
      );
    }
    own.set(key, checked(`routeThrottles["${key}"]`, throttle, own.get(key) ?? stage));
  }
  return { stage, routes: own };
}

/**
 * The concurrency a route's throttle can keep busy when every request lasts `timeoutSeconds`:
 * the burst plus `rate` for the whole timeout.
 */
export function concurrencyFor(throttle: Throttle, timeoutSeconds: number): number {
  return Math.ceil(throttle.burstLimit + throttle.rateLimit * timeoutSeconds);
}

/**
 * The reserved concurrency of a handler's function: for the one serving `/token`, `setting`
 * (TokenServiceProps.tokenReservedConcurrency) or what its route's throttle can keep busy for
 * `timeoutSeconds`; none for the others, or with `setting` false. Warns in `scope` (the
 * TokenService) when the reservation exceeds what an account with the default quota can give.
 */
export function reservedConcurrency(
  scope: Construct,
  handlerRoutes: readonly Route[],
  throttles: RouteThrottles,
  setting: number | false | undefined,
  timeoutSeconds: number,
): number | undefined {
  const route = handlerRoutes.find((candidate) => candidate.path === '/token');
  if (!route || setting === false) return undefined;
  const throttle = throttles.routes.get(`${route.method} ${route.path}`) ?? throttles.stage;
  const reserved = setting ?? concurrencyFor(throttle, timeoutSeconds);
  if (!Number.isInteger(reserved) || reserved < 1) {
    throw new Error(`TokenService: tokenReservedConcurrency must be a whole number >= 1 (got ${reserved})`);
  }
  if (reserved > 900) {
    Annotations.of(scope).addWarningV2(
      'sts:reserved-concurrency',
      `The token function reserves ${reserved} concurrent executions: more than an account with the default quota (1000, of which 100 stay unreserved) can give. Raise the quota, or set tokenReservedConcurrency or a smaller POST /token throttle.`,
    );
  }
  return reserved;
}
