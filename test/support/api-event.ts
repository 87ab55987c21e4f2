import type { Context } from 'aws-lambda';
import type { Event } from '../../lambdas/http.ts';

/**
 * API Gateway HTTP API (payload format 2.0) events, as API Gateway hands them to a handler: for
 * driving handlers in process, without a server, many thousands of times.
 */
export interface EventInput {
  readonly method?: 'GET' | 'POST';
  readonly path?: string;
  readonly headers?: Record<string, string>;
  /** Raw body bytes; sent base64-encoded unless `base64` is false (then as UTF-8 text). */
  readonly body?: Uint8Array | string;
  readonly base64?: boolean;
}

export function apiEvent(input: EventInput = {}): Event {
  const method = input.method ?? 'POST';
  const path = input.path ?? '/token';
  const bytes = typeof input.body === 'string' ? Buffer.from(input.body) : Buffer.from(input.body ?? []);
  const base64 = input.base64 ?? true;
  const now = Date.now();
  return {
    version: '2.0',
    routeKey: `${method} ${path}`,
    rawPath: path,
    rawQueryString: '',
    headers: input.headers ?? {},
    requestContext: {
      accountId: '111122223333',
      apiId: 'fuzz',
      domainName: 'sts.example.com',
      domainPrefix: 'sts',
      http: { method, path, protocol: 'HTTP/1.1', sourceIp: '192.0.2.1', userAgent: 'fuzz' },
      requestId: `fuzz-${now}`,
      routeKey: `${method} ${path}`,
      stage: '$default',
      time: new Date(now).toUTCString(),
      timeEpoch: now,
    },
    body: bytes.length === 0 ? undefined : base64 ? bytes.toString('base64') : bytes.toString('utf8'),
    isBase64Encoded: bytes.length > 0 && base64,
  };
}

export const lambdaContext = {
  awsRequestId: 'fuzz',
  functionName: 'token',
  getRemainingTimeInMillis: () => 30_000,
} as Context;
