// middy middleware for consumer Lambdas behind API Gateway (HTTP API, payload v2): takes the
// access token from `Authorization` (`Bearer`, or `DPoP` with the request's `DPoP` proof, RFC
// 9449 §7), verifies it, and puts the claims on `context.accessToken`; otherwise answers as RFC
// 6750 §3 and RFC 9449 §7.1 say, with a `WWW-Authenticate` challenge: no credentials -> 401
// without an error code (both schemes offered); malformed header -> 400 `invalid_request`; bad,
// expired or revoked token, or a DPoP-bound token presented as `Bearer` -> 401 `invalid_token`;
// a missing or bad proof -> 401 `invalid_dpop_proof`; a proof without the required nonce -> 401
// `use_dpop_nonce` with `DPoP-Nonce`; missing scope -> 403 `insufficient_scope` with the needed
// `scope`. When the STS cannot be reached to decide (keys or a revocation check), 503 with
// `Retry-After`: it fails closed.

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
   * The public URL of this request, which a DPoP proof's `htu` must name (default
   * `https://<requestContext.domainName><rawPath>`). Behind a custom domain with an API mapping
   * path, or a proxy (CloudFront), build it from your public base URL instead.
   */
  readonly publicUrl?: (event: Event) => string;
  /**
   * Called once per request with the validation outcome and its latency (SLIs M1 and M2), e.g.
   * `validationMetrics({ service: 'orders' })` (validation-metrics.ts) for CloudWatch on Lambda.
   */
  readonly onResult?: (result: ValidationResult) => void;
}

/** What a validation ended in, for metrics: never the token, its subject or its jti. */
export interface ValidationResult {
  /** `missing`: no Bearer or DPoP credential; `malformed`: not one token; `unavailable`: 503. */
  readonly outcome: 'valid' | 'missing' | 'malformed' | 'invalid' | 'insufficient_scope' | 'unavailable';
  readonly status: number;
  /** The private reason of a refusal (lib/shared/reasons.ts). */
  readonly reason?: string;
  readonly durationMs: number;
}

type Event = APIGatewayProxyEventV2;
const SCHEME = /^(bearer|dpop)(?: |$)/i;
type Result = APIGatewayProxyStructuredResultV2;

const quoted = (value: string): string => `"${value.replace(/[\\"]/g, (ch) => `\\${ch}`)}"`;

type Params = ReadonlyArray<readonly [string, string]>;

function challenge(scheme: 'Bearer' | 'DPoP', realm: string | undefined, params: Params): string {
  const all = realm === undefined ? params : [['realm', realm] as const, ...params];
  return all.length === 0
    ? scheme
    : `${scheme} ${all.map(([name, value]) => `${name}=${quoted(value)}`).join(', ')}`;
}

/** A request header by name: API Gateway v2 lower-cases names; anything else is looked up slowly. */
function header(event: Event, name: string): string | undefined {
  const headers = event.headers;
  if (headers === undefined || headers === null) return undefined;
  const value = headers[name];
  if (value !== undefined) return value;
  for (const key in headers) if (key.toLowerCase() === name) return headers[key];
  return undefined;
}

/** `https://<domain><path>` of an API Gateway v2 event: what the client called, without a custom mapping. */
export function requestUrl(event: Event): string {
  const host = event.requestContext?.domainName ?? header(event, 'host') ?? 'localhost';
  return `https://${host}${event.rawPath ?? '/'}`;
}

export function accessTokenAuth(
  options: AccessTokenAuthOptions,
): MiddyMiddleware<Event, Result, Context & AccessTokenContext> {
  const { verifier, realm, logger, onResult } = options;
  const scopes = options.scopes ?? [];
  const needed = [...new Set([...verifier.requiredScopes, ...scopes])].join(' ');

  const algs: Params = [['algs', verifier.dpopAlgorithms.join(' ')]];

  const refusal = (
    status: number,
    error: string | undefined,
    description?: string,
    scheme: 'Bearer' | 'DPoP' = 'Bearer',
    extra: Record<string, string> = {},
  ): Result => {
    const params: Array<readonly [string, string]> = [];
    if (error) params.push(['error', error]);
    if (description) params.push(['error_description', description]);
    if (error === 'insufficient_scope' && needed) params.push(['scope', needed]);
    // No credentials: offer both schemes (RFC 9449 §7.1); a DPoP refusal names its algorithms.
    const authenticate =
      error === undefined
        ? `${challenge('Bearer', realm, [])}, ${challenge('DPoP', realm, algs)}`
        : challenge(scheme, realm, scheme === 'DPoP' ? [...params, ...algs] : params);
    return {
      statusCode: status,
      headers: {
        'WWW-Authenticate': authenticate,
        'Cache-Control': 'no-store',
        ...(error ? { 'Content-Type': 'application/json' } : {}),
        ...extra,
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
      const { event } = request;
      const authorization = header(event, 'authorization');
      // RFC 7235: the scheme is case-insensitive; another scheme is no credential of ours at all.
      const scheme = authorization === undefined ? undefined : SCHEME.exec(authorization)?.[1];
      if (scheme === undefined) {
        report('missing', 401);
        return refusal(401, undefined);
      }
      const dpop = scheme.toLowerCase() === 'dpop';
      const token = authorization!.slice(scheme.length + 1).trim();
      if (token.length === 0 || token.includes(' ')) {
        logger?.info('access_token.refused', { status: 400, reason: 'malformed_authorization' });
        report('malformed', 400, 'malformed_authorization');
        return refusal(
          400,
          'invalid_request',
          'the Authorization header is malformed',
          dpop ? 'DPoP' : 'Bearer',
        );
      }
      try {
        request.context.accessToken = dpop
          ? await verifier.verifyDpop(
              token,
              {
                proof: header(event, 'dpop'),
                method: event.requestContext?.http?.method ?? 'GET',
                url: (options.publicUrl ?? requestUrl)(event),
              },
              scopes,
            )
          : await verifier.verify(token, scopes);
        report('valid', 200);
        return undefined;
      } catch (thrown) {
        const error = toOAuthError(thrown);
        logger?.info('access_token.refused', { status: error.status, reason: error.reason });
        report(outcomeOf(error.code, error.status), error.status, error.reason);
        if (
          error.code === 'invalid_token' ||
          error.code === 'insufficient_scope' ||
          error.code === 'invalid_dpop_proof' ||
          error.code === 'use_dpop_nonce'
        ) {
          // A bound token sent as Bearer is answered with the scheme it needs.
          const asDpop = dpop || error.reason === 'bound_token_as_bearer';
          return refusal(
            error.status,
            error.code,
            error.description,
            asDpop ? 'DPoP' : 'Bearer',
            error.headers,
          );
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
