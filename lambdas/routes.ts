// The route table: the single source of truth for the CDK stack (one function per handler
// module, API Gateway routes and their authorization) and for the local server.
// `handler` names a module in `lambdas/` that exports `handler` and `createHandler`.

export type RouteAuth = 'none' | 'iam';

export interface Route {
  readonly method: 'GET' | 'POST';
  readonly path: string;
  readonly handler: string;
  /** `iam`: IAM authorization on AWS; locally, `Authorization: Bearer $STS_ADMIN_TOKEN`. */
  readonly auth: RouteAuth;
}

export const ROUTES: readonly Route[] = [
  { method: 'POST', path: '/token', handler: 'token', auth: 'none' },
  { method: 'GET', path: '/.well-known/jwks.json', handler: 'jwks', auth: 'none' },
  { method: 'GET', path: '/.well-known/oauth-authorization-server', handler: 'metadata', auth: 'none' },
  { method: 'GET', path: '/.well-known/openid-configuration', handler: 'metadata', auth: 'none' },
  { method: 'POST', path: '/revoke', handler: 'revoke', auth: 'none' },
  { method: 'POST', path: '/introspect', handler: 'introspect', auth: 'iam' },
  { method: 'POST', path: '/admin/revoke', handler: 'admin-revoke', auth: 'iam' },
  // The prober issuer's public key (lib/ops/prober-issuer.ts); 404 unless the prober is on.
  { method: 'GET', path: '/prober/jwks.json', handler: 'prober-jwks', auth: 'none' },
];

/** Handler modules, each deployed as one Lambda function. */
export const HANDLERS: readonly string[] = [...new Set(ROUTES.map((route) => route.handler))];

export const findRoute = (method: string, path: string): Route | undefined =>
  ROUTES.find((route) => route.method === method && route.path === path);
