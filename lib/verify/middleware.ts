// middy middleware for consumer Lambdas behind API Gateway (HTTP API, payload v2): takes the
// bearer token from `Authorization`, verifies it, and puts the claims on
// `context.accessToken`; otherwise answers as RFC 6750 §3 says, with a `WWW-Authenticate`
// challenge: no credentials -> 401 without an error code; malformed header -> 400
// `invalid_request`; bad, expired or revoked token -> 401 `invalid_token`; missing scope ->
// 403 `insufficient_scope` with the needed `scope`. When the STS cannot be reached to decide
// (keys or a revocation check), 503 with `Retry-After`: it fails closed.

import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { toOAuthError } from '../shared/errors.ts';
import type { Logger } from '../shared/log.ts';
import type { MiddyMiddleware } from '../shared/middy.ts';
import type { AccessTokenVerifier, VerifiedAccessTokenClaims } from './verifier.ts';

export interface AccessTokenContext {
  accessToken: VerifiedAccessTokenClaims;
}

export interface AccessTokenAuthOptions {
  readonly verifier: AccessTokenVerifier;
  /** Scopes this handler needs beyond the verifier's `requiredScopes`. */
  readonly scopes?: readonly string[];
  /** The challenge's `realm` (RFC 6750 §3); omitted when unset. */
  readonly realm?: string;
  /** Refusals are logged here (reason and status; never the token). */
  readonly logger?: Logger;
  /**
   * Called once per request with the validation outcome and its latency (SLIs M1 and M2), e.g.
   * `validationMetrics({ service: 'orders' })` (validation-metrics.ts) for CloudWatch on Lambda.
   */
  readonly onResult?: (result: ValidationResult) => void;
}

/** What a validation ended in, for metrics: never the token, its subject or its jti. */
export interface ValidationResult {
  /** `missing`: no bearer credential; `malformed`: not one bearer token; `unavailable`: 503. */
  readonly outcome: 'valid' | 'missing' | 'malformed' | 'invalid' | 'insufficient_scope' | 'unavailable';
  readonly status: number;
  /** The private reason of a refusal (lib/shared/reasons.ts). */
  readonly reason?: string;
  readonly durationMs: number;
}

type Event = APIGatewayProxyEventV2;
const BEARER = /^bearer(?: |$)/i;
type Result = APIGatewayProxyStructuredResultV2;

const quoted = (value: string): string => `"${value.replace(/[\\"]/g, (ch) => `\\${ch}`)}"`;

function challenge(realm: string | undefined, params: ReadonlyArray<readonly [string, string]>): string {
  const all = realm === undefined ? params : [['realm', realm] as const, ...params];
  return all.length === 0
    ? 'Bearer'
    : `Bearer ${all.map(([name, value]) => `${name}=${quoted(value)}`).join(', ')}`;
}

/** The `Authorization` header: API Gateway v2 lower-cases names; anything else is looked up slowly. */
function authorization(event: Event): string | undefined {
  const headers = event.headers;
  if (headers === undefined || headers === null) return undefined;
  const value = headers.authorization;
  if (value !== undefined) return value;
  for (const name in headers) if (name.toLowerCase() === 'authorization') return headers[name];
  return undefined;
}

export function accessTokenAuth(
  options: AccessTokenAuthOptions,
): MiddyMiddleware<Event, Result, Context & AccessTokenContext> {
  const { verifier, realm, logger, onResult } = options;
  const scopes = options.scopes ?? [];
  const needed = [...new Set([...verifier.requiredScopes, ...scopes])].join(' ');

  const refusal = (status: number, error: string | undefined, description?: string): Result => {
    const params: Array<readonly [string, string]> = [];
    if (error) params.push(['error', error]);
    if (description) params.push(['error_description', description]);
    if (error === 'insufficient_scope' && needed) params.push(['scope', needed]);
    return {
      statusCode: status,
      headers: {
        'WWW-Authenticate': challenge(realm, params),
        'Cache-Control': 'no-store',
        ...(error ? { 'Content-Type': 'application/json' } : {}),
      },
      body: error
        ? JSON.stringify({ error, ...(description ? { error_description: description } : {}) })
        : '',
    };
  };
  return {
    before: async (request) => {
      const started = performance.now();
      const report = (outcome: ValidationResult['outcome'], status: number, reason?: string) =>
        onResult?.({ outcome, status, reason, durationMs: performance.now() - started });
      const header = authorization(request.event);
      // RFC 7235: the scheme is case-insensitive; another scheme is no bearer credential at all.
      if (header === undefined || !BEARER.test(header)) {
        report('missing', 401);
        return refusal(401, undefined);
      }
      const token = header.slice(7).trim();
      if (token.length === 0 || token.includes(' ')) {
        logger?.info('access_token.refused', { status: 400, reason: 'malformed_authorization' });
        report('malformed', 400, 'malformed_authorization');
        return refusal(400, 'invalid_request', 'the Authorization header is malformed');
      }
      try {
        request.context.accessToken = await verifier.verify(token, scopes);
        report('valid', 200);
        return undefined;
      } catch (thrown) {
        const error = toOAuthError(thrown);
        logger?.info('access_token.refused', { status: error.status, reason: error.reason });
        report(outcomeOf(error.code, error.status), error.status, error.reason);
        if (error.code === 'invalid_token' || error.code === 'insufficient_scope') {
          return refusal(error.status, error.code, error.description);
        }
        const retry = error.retryAfter === undefined ? {} : { 'Retry-After': String(error.retryAfter) };
        return {
          statusCode: error.status,
          headers: { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', ...retry },
          body: JSON.stringify({ error: error.expose ? error.code : 'server_error' }),
        };
      }
    },
  };
}

function outcomeOf(code: string, status: number): ValidationResult['outcome'] {
  if (code === 'insufficient_scope') return 'insufficient_scope';
  return status >= 500 ? 'unavailable' : 'invalid';
}
