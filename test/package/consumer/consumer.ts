// A TypeScript consumer (strict, exactOptionalPropertyTypes, skipLibCheck: false), type-checked
// by the consumer test against the installed tarball: the SDK and its middleware, the verifier,
// its middleware and table-read mode, the offline policy engine, and the construct.
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import middy from '@middy/core';
import { App, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { StsClient as RootClient, createAccessTokenVerifier as rootVerifier } from 'serverless-sts';
import { TokenService, type TokenServiceProps } from 'serverless-sts/cdk';
import {
  type ExchangedTokenContext,
  StsClient,
  TokenExchangeError,
  tokenExchangeMiddleware,
} from 'serverless-sts/client';
import { type Config, ConfigError, compilePolicies, parseConfig } from 'serverless-sts/policy';
import {
  accessTokenAuth,
  createAccessTokenVerifier,
  hasScope,
  OAuthError,
  type VerifiedAccessTokenClaims,
} from 'serverless-sts/verifier';
import { dynamoRevocationLookup } from 'serverless-sts/verifier/dynamodb';

type Event = APIGatewayProxyEventV2;
type Result = APIGatewayProxyStructuredResultV2;

// The SDK, and its delegation middleware.
const sts = new StsClient({ endpoint: 'https://sts.example.com', cache: { marginSeconds: 30 } });
export async function downstreamToken(subjectToken: string): Promise<string> {
  try {
    const exchanged = await sts.exchange({
      subjectToken,
      audience: 'https://api.example.com',
      scope: ['read'],
    });
    const seconds: number = exchanged.expiresIn;
    return seconds > 0 ? exchanged.accessToken : '';
  } catch (error) {
    if (error instanceof TokenExchangeError && error.refused) return '';
    throw error;
  }
}
export const delegating = middy<Event, Result, Error, ExchangedTokenContext>()
  .use(tokenExchangeMiddleware({ client: sts, audience: 'https://api.example.com', scope: 'read' }))
  .handler(async (_event, context) => ({ statusCode: 200, body: context.exchangedToken.tokenType }));

// The verifier, its middleware, and its table-read revocation mode.
const verifier = createAccessTokenVerifier({
  issuer: 'https://sts.example.com',
  audience: 'https://api.example.com',
  requiredScopes: ['read'],
  revocation: {
    via: dynamoRevocationLookup({ client: new DynamoDBClient({}), tableName: 'sts-tokens' }),
    maxStaleMs: 1000,
  },
});
export const protectedApi = middy<Event, Result>()
  .use(accessTokenAuth({ verifier, scopes: ['write'], realm: 'api' }))
  .handler(async (_event, context) => ({ statusCode: 200, body: context.accessToken.sub }));
export async function claimsOf(token: string): Promise<VerifiedAccessTokenClaims> {
  try {
    const claims = await verifier.verify(token, ['write']);
    return hasScope(claims.scope, 'admin') ? claims : { ...claims, scope: 'read' };
  } catch (error) {
    if (error instanceof OAuthError && error.status === 503) throw new Error('retry later');
    throw error;
  }
}
// @ts-expect-error the audience is required
createAccessTokenVerifier({ issuer: 'https://sts.example.com' });

// The root entry is the client and the verifier together.
export const same: boolean = RootClient === StsClient && rootVerifier === createAccessTokenVerifier;

// The offline policy engine.
export function admittedBy(document: unknown): string | undefined {
  let config: Config;
  try {
    config = parseConfig(document, 'sts.config.json');
  } catch (error) {
    if (error instanceof ConfigError) return error.problems.join('; ');
    throw error;
  }
  return compilePolicies(config).explain({
    subject: { issuerName: 'github', claims: { sub: 'repo:acme/app:environment:prod' } },
    audience: 'https://deploy.acme.internal',
    scopes: ['deploy:write'],
  }).admittedBy;
}

// The construct.
const app = new App();
const stack = new Stack(app, 'Platform');
const props: TokenServiceProps = { config: 'sts.config.json', throttle: { rateLimit: 50, burstLimit: 100 } };
const service = new TokenService(stack, 'Sts', props);
service.grantInvoke(new iam.AccountRootPrincipal(), 'POST', '/introspect');
export const issuer: string = service.issuer;
