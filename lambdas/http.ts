// HTTP plumbing shared by the handlers: reading API Gateway v2 events and writing responses.

import type { MiddlewareObj } from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { errorBody, toOAuthError } from '../lib/shared/errors.ts';
import { type Logger, logFieldsOf } from '../lib/shared/log.ts';

export type Event = APIGatewayProxyEventV2;
export type Result = APIGatewayProxyStructuredResultV2;

export const NO_STORE = { 'Cache-Control': 'no-store', Pragma: 'no-cache' } as const;
export const PUBLIC_CACHE = { 'Cache-Control': 'public, max-age=300' } as const;

export function json(statusCode: number, body: unknown, headers: Record<string, string> = {}): Result {
  return {
    statusCode,
    headers: { 'Content-Type': 'application/json', ...headers },
    body: JSON.stringify(body),
  };
}

/** A request header by case-insensitive name (API Gateway v2 lower-cases them already). */
export function header(event: Event, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(event.headers ?? {})) {
    if (key.toLowerCase() === wanted) return value;
  }
  return undefined;
}

/** The raw request body; API Gateway base64-encodes form bodies. */
export function bodyBytes(event: Event): Uint8Array {
  if (!event.body) return new Uint8Array();
  return Buffer.from(event.body, event.isBase64Encoded ? 'base64' : 'utf8');
}

/**
 * middy error handler: every thrown error becomes an RFC 6749 §5.2 JSON body with
 * `Cache-Control: no-store`; 503s carry `Retry-After`; server errors carry no detail.
 */
export function oauthErrors(logger: () => Logger | undefined): MiddlewareObj<Event, Result> {
  return {
    onError: async (request) => {
      const error = toOAuthError(request.error);
      if (error.status >= 500) {
        // The one line per 5xx; the exchange attached its audit record (sub, jti, duration_ms, ...).
        logger()?.error('request.failed', {
          ...logFieldsOf(request.error),
          reason: error.reason,
          cause: error.cause ?? request.error,
        });
      }
      const headers: Record<string, string> = { ...NO_STORE, ...error.headers };
      if (error.retryAfter !== undefined) headers['Retry-After'] = String(error.retryAfter);
      request.response = json(error.status, errorBody(error), headers);
    },
  };
}
