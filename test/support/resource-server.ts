import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import middy from '@middy/core';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { type AccessTokenContext, accessTokenAuth } from '../../lib/verify/middleware.ts';
import type { AccessTokenVerifier } from '../../lib/verify/verifier.ts';

/**
 * A downstream API as a consumer builds it: a Lambda handler behind the verifier's middleware,
 * served over HTTP on loopback by turning each request into an API Gateway v2 event. The
 * handler answers with the caller's `sub`, actor and bound key.
 */
export interface ResourceServer {
  readonly url: string;
  close(): Promise<void>;
}

type Event = APIGatewayProxyEventV2;
type Result = APIGatewayProxyStructuredResultV2;

function consumer(verifier: AccessTokenVerifier, base: string) {
  return (
    middy<Event, Result, Error, Context & AccessTokenContext>()
      // The public URL is the loopback base here; in AWS, a custom domain's base URL.
      .use(accessTokenAuth({ verifier, realm: 'resource', publicUrl: (event) => `${base}${event.rawPath}` }))
      .handler(async (_event, context) => ({
        statusCode: 200,
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({
          sub: context.accessToken.sub,
          act: context.accessToken.act,
          jkt: context.accessToken.cnf?.jkt,
        }),
      }))
  );
}

/** `verifierFor` receives the server's base URL (its audience, typically). */
export async function startResourceServer(
  verifierFor: (base: string) => AccessTokenVerifier,
): Promise<ResourceServer> {
  let base = '';
  let handler: ReturnType<typeof consumer> | undefined;
  const server: Server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', base);
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(request.headers)) {
      if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(',') : value;
    }
    const event = {
      version: '2.0',
      routeKey: '$default',
      rawPath: url.pathname,
      rawQueryString: url.search.slice(1),
      headers,
      requestContext: { domainName: url.host, http: { method: request.method ?? 'GET', path: url.pathname } },
      isBase64Encoded: false,
    } as unknown as Event;
    request.resume();
    request.on('end', () => {
      void handler!(event, { awsRequestId: 'resource' } as Context & AccessTokenContext).then((result) => {
        const out = result as Result;
        response.writeHead(out.statusCode ?? 200, out.headers as Record<string, string>);
        response.end(out.body ?? '');
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  handler = consumer(verifierFor(base), base);
  return {
    url: base,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
