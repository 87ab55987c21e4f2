// middy middleware for a Lambda behind API Gateway (HTTP API, payload v2) that calls a
// downstream API on behalf of its caller: it exchanges the caller's bearer token for a token for
// that audience (with the function's own actor token, when it has one) and hands it to the
// handler on `context.exchangedToken`. It answers by itself when it cannot:
//
// DPoP (RFC 9449): a caller's token sent as `Authorization: DPoP` is passed on as the subject
// token like a bearer one. Verify the caller's proof first (the verifier's `accessTokenAuth`
// before this middleware); give the client a DPoP key, and the service binds the new token to it
// (with an actor token, the actor's key proves possession for the bound subject token), so the
// handler presents it with `client.requestHeaders(context.exchangedToken, { method, url })`.
//
// | situation | response |
// | --- | --- |
// | no `Authorization: Bearer` | 401, `WWW-Authenticate: Bearer realm=...` (RFC 6750 §3.1) |
// | malformed `Authorization` | 400, `error="invalid_request"` |
// | the service refuses the caller's token (`invalid_request`, ...) | 401, `error="invalid_token"` |
// | the caller may not reach the audience (`invalid_target`, `invalid_scope`) | 403, `error="insufficient_scope"` |
// | the service refuses this function (`invalid_client`, ...): a misconfiguration | 500, no detail |
// | the service is unavailable, or the actor token cannot be had | 503 (`Retry-After` when known), no detail |

import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { TOKEN_TYPE } from '../shared/claims.ts';
import { type Logger, tokenFingerprint } from '../shared/log.ts';
import type { MiddyMiddleware } from '../shared/middy.ts';
import type { ExchangedToken, StsClient, TokenSource } from './client.ts';
import { TokenExchangeError } from './http.ts';

export interface TokenExchangeMiddlewareOptions {
  readonly client: Pick<StsClient, 'exchange'>;
  /** The downstream API the handler calls. */
  readonly audience: string;
  readonly scope?: string | readonly string[];
  /** Token type of the incoming bearer token (default `urn:ietf:params:oauth:token-type:access_token`). */
  readonly subjectTokenType?: string;
  /**
   * The function's own token, to act for the caller (RFC 8693 delegation); or a source making
   * one per exchange, such as the function's IAM role: `awsIdentity()` of `./client/aws`.
   */
  readonly actorToken?: (() => Promise<string> | string) | TokenSource;
  readonly actorTokenType?: string;
  /** Where on the Lambda context the exchanged token goes (default `exchangedToken`). */
  readonly contextKey?: string;
  /** `realm` of `WWW-Authenticate` (default `api`). */
  readonly realm?: string;
  /** Failures are logged here (fingerprints only, never tokens). */
  readonly logger?: Logger;
}

export type ExchangedTokenContext = Context & { exchangedToken: ExchangedToken };

type Event = APIGatewayProxyEventV2;
type Result = APIGatewayProxyStructuredResultV2;

const BEARER = /^(?:Bearer|DPoP) +([A-Za-z0-9\-._~+/]+=*) *$/i;
/** Refusals about what the caller asked for, and about the caller's token itself. */
const REFUSED_TARGET = new Set(['invalid_target', 'invalid_scope']);
const REFUSED_TOKEN = new Set(['invalid_request', 'invalid_grant', 'invalid_token']);

/**
 * The access token of an API Gateway v2 event (`Bearer` or `DPoP` scheme): a string, `null` when
 * absent, `false` when malformed.
 */
export function bearerToken(event: Pick<Event, 'headers'>): string | null | false {
  let authorization: string | undefined;
  for (const [name, value] of Object.entries(event.headers ?? {})) {
    if (name.toLowerCase() === 'authorization') authorization = value;
  }
  if (!authorization) return null;
  return BEARER.exec(authorization)?.[1] ?? false;
}

export function tokenExchangeMiddleware(
  options: TokenExchangeMiddlewareOptions,
): MiddyMiddleware<Event, Result, Context> {
  const contextKey = options.contextKey ?? 'exchangedToken';
  const realm = (options.realm ?? 'api').replace(/["\\]/g, '');

  const respond = (statusCode: number, message: string, headers: Record<string, string> = {}): Result => ({
    statusCode,
    headers: { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', ...headers },
    body: JSON.stringify({ message }),
  });
  const challenge = (error?: string) => ({
    'WWW-Authenticate': error ? `Bearer realm="${realm}", error="${error}"` : `Bearer realm="${realm}"`,
  });

  return {
    name: 'tokenExchange',
    before: async (request) => {
      const subjectToken = bearerToken(request.event);
      if (subjectToken === null) return respond(401, 'Unauthorized', challenge());
      if (subjectToken === false) return respond(400, 'Bad Request', challenge('invalid_request'));
      try {
        const actor = options.actorToken;
        const actorToken = typeof actor === 'function' ? await actor() : actor;
        const exchanged = await options.client.exchange({
          subjectToken,
          subjectTokenType: options.subjectTokenType ?? TOKEN_TYPE.accessToken,
          audience: options.audience,
          scope: options.scope,
          actorToken,
          actorTokenType: options.actorTokenType,
        });
        (request.context as unknown as Record<string, unknown>)[contextKey] = exchanged;
        return undefined;
      } catch (error) {
        const fields = {
          audience: options.audience,
          subject_token: tokenFingerprint(subjectToken),
          error: error instanceof TokenExchangeError ? error.code : 'client_error',
          status: error instanceof TokenExchangeError ? error.status : undefined,
        };
        if (error instanceof TokenExchangeError && error.refused) {
          if (REFUSED_TARGET.has(error.code)) {
            options.logger?.info('token_exchange.refused', fields);
            return respond(403, 'Forbidden', challenge('insufficient_scope'));
          }
          if (REFUSED_TOKEN.has(error.code)) {
            options.logger?.info('token_exchange.refused', fields);
            return respond(401, 'Unauthorized', challenge('invalid_token'));
          }
          // Any other refusal (unsupported_grant_type, invalid_client, ...) is this function's
          // misconfiguration, not the caller's fault.
          options.logger?.error('token_exchange.misconfigured', fields);
          return respond(500, 'Internal Server Error');
        }
        options.logger?.error('token_exchange.failed', fields);
        const retryAfter = error instanceof TokenExchangeError ? error.retryAfter : undefined;
        return respond(
          503,
          'Service Unavailable',
          retryAfter === undefined ? {} : { 'Retry-After': String(retryAfter) },
        );
      }
    },
  };
}
