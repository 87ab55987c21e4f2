// The API's routes, exactly as the route table (lambdas/routes.ts) says: each to its handler's
// function, `iam` routes with IAM authorization, public ones acknowledged for cdk-nag with the
// reason they are public; and the buckets of routes throttled on their own (cdk/throttling.ts).

import { Validations } from 'aws-cdk-lib';
import {
  type CfnStage,
  type HttpApi,
  HttpMethod,
  type HttpRoute,
  type HttpStage,
} from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpIamAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { ROUTES } from '../lambdas/routes.ts';
import { pascal } from './handler-functions.ts';
import type { RouteThrottles } from './throttling.ts';

/** Why a route without IAM authorization is public, for the cdk-nag acknowledgment. */
const PUBLIC_ROUTE_REASONS: Readonly<Record<string, string>> = {
  '/token':
    'RFC 8693 token exchange: the subject token is the credential; it is verified against a trusted issuer and a trust policy.',
  '/.well-known/jwks.json': 'The public key set must be public so relying parties can verify tokens offline.',
  '/.well-known/oauth-authorization-server': 'RFC 8414 metadata is public by definition.',
  '/.well-known/openid-configuration':
    'OIDC discovery must be public (AWS IAM OIDC providers and other consumers fetch it anonymously).',
  '/revoke': 'RFC 7009: the presented token itself authorizes its revocation (its signature is verified).',
  '/prober/jwks.json':
    "The prober issuer's public key, which the token function fetches like any issuer's JWKS.",
};

/**
 * Adds every route of the table to `api`, integrated with its handler's function, and sets the
 * route settings of `stage` for routes with buckets of their own. Returns the routes keyed
 * `METHOD path`.
 */
export function addRoutes(
  api: HttpApi,
  stage: HttpStage,
  functions: ReadonlyMap<string, lambda.Function>,
  throttles: RouteThrottles,
): Map<string, HttpRoute> {
  const iamAuthorizer = new HttpIamAuthorizer();
  const integrations = new Map(
    [...functions].map(([handler, fn]) => [
      handler,
      new HttpLambdaIntegration(`${pascal(handler)}Integration`, fn),
    ]),
  );
  const routes = new Map<string, HttpRoute>();
  for (const route of ROUTES) {
    const [created] = api.addRoutes({
      path: route.path,
      methods: [HttpMethod[route.method]],
      integration: integrations.get(route.handler)!,
      authorizer: route.auth === 'iam' ? iamAuthorizer : undefined,
    });
    if (route.auth === 'none') {
      Validations.of(created!).acknowledge({
        id: 'AwsSolutions-APIG4',
        reason:
          PUBLIC_ROUTE_REASONS[route.path] ??
          `The route table (lambdas/routes.ts) declares ${route.method} ${route.path} public (auth "none").`,
      });
    }
    routes.set(`${route.method} ${route.path}`, created!);
  }
  // Routes with buckets of their own; the stage can name a route only once it exists.
  if (throttles.routes.size > 0) {
    (stage.node.defaultChild as CfnStage).routeSettings = Object.fromEntries(
      [...throttles.routes].map(([key, throttle]) => {
        stage.node.addDependency(routes.get(key)!);
        // A JSON map in CloudFormation: its members are spelled as CloudFormation spells them.
        return [key, { ThrottlingRateLimit: throttle.rateLimit, ThrottlingBurstLimit: throttle.burstLimit }];
      }),
    );
  }
  return routes;
}
