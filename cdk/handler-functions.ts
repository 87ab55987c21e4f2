// One Lambda function per handler module of the route table (lambdas/routes.ts), each with its
// own log group and a least-privilege role: write to that log group, and the table actions its
// handler's access allows (cdk/handler-access.ts) on the item kinds' key prefixes only. Key
// access is granted afterwards, by SigningKeys.grantUse (cdk/signing-keys.ts).

import { Duration, type RemovalPolicy, Validations } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { HANDLERS, ROUTES, type Route } from '../lambdas/routes.ts';
import { accessOf, type HandlerAccess, tableConditions } from './handler-access.ts';
import { handlerFunction, handlerSource } from './handler-code.ts';
import { type RouteThrottles, reservedConcurrency } from './throttling.ts';
import type { TokenServiceProps } from './token-service-props.ts';

/** Every function's timeout; the service answers by itself before it (lambdas/define-handler.ts). */
export const FUNCTION_TIMEOUT_SECONDS = 10;

/** A handler's (or any kebab-case) name in PascalCase, as its construct ids spell it. */
export const pascal = (text: string) =>
  text.replace(/(^|[^A-Za-z0-9]+)([A-Za-z0-9])/g, (_match, _sep, char: string) => char.toUpperCase());

/** The routes a handler serves, in route-table order. */
export const routesOf = (handler: string): Route[] => ROUTES.filter((route) => route.handler === handler);

/** What the TokenService made before its functions, and hands to each of them. */
export interface HandlerFunctionsWiring {
  readonly table: dynamodb.Table;
  readonly environment: Readonly<Record<string, string>>;
  /** The validated policy file, shipped in every asset (cdk/service-config.ts). */
  readonly configFile: string;
  readonly retention: logs.RetentionDays;
  readonly records: RemovalPolicy;
  readonly throttles: RouteThrottles;
}

/**
 * The functions of every handler in `HANDLERS`, created in `scope` (the TokenService, so their
 * ids are `<Handler>Logs`, `<Handler>Role`, `<Handler>Function`), and where each one's code came
 * from: the source module bundled at synth, or the prebuilt bundle directory.
 */
export function createHandlerFunctions(
  scope: Construct,
  props: TokenServiceProps,
  wiring: HandlerFunctionsWiring,
): { functions: Map<string, lambda.Function>; entries: Map<string, string> } {
  const { environment, retention, records, throttles } = wiring;
  const functions = new Map<string, lambda.Function>();
  const entryPaths = new Map<string, string>();
  for (const handler of HANDLERS) {
    const access = accessOf(handler, props.handlerAccess);
    const source = handlerSource(handler);
    const name = pascal(handler);
    const logGroup = new logs.LogGroup(scope, `${name}Logs`, { retention, removalPolicy: records });
    const role = createRole(scope, wiring.table, name, handler, access, logGroup);
    const fn = handlerFunction(scope, `${name}Function`, handler, {
      description: `STS ${routesOf(handler)
        .map((route) => `${route.method} ${route.path}`)
        .join(', ')}`,
      architecture: lambda.Architecture.ARM_64,
      memorySize: props.memorySize ?? 1024,
      timeout: Duration.seconds(FUNCTION_TIMEOUT_SECONDS),
      reservedConcurrentExecutions: reservedConcurrency(
        scope,
        routesOf(handler),
        throttles,
        props.tokenReservedConcurrency,
        FUNCTION_TIMEOUT_SECONDS,
      ),
      role,
      logGroup,
      environment:
        handler === 'token' && props.dpopNonceSecret
          ? { ...environment, STS_DPOP_NONCE_SECRET: props.dpopNonceSecret }
          : environment,
      configFile: wiring.configFile,
    });
    Validations.of(fn).acknowledge({
      id: 'AwsSolutions-L1',
      reason:
        'Pinned to nodejs22.x on purpose: the bundles target node22 (cdk/bundling.ts) and the service is tested on Node 22; move runtime and target together.',
    });
    functions.set(handler, fn);
    entryPaths.set(handler, source.kind === 'source' ? source.entry : source.dir);
  }
  return { functions, entries: entryPaths };
}

/** Least privilege: its own log group and table access here; key access in SigningKeys.grantUse. */
function createRole(
  scope: Construct,
  table: dynamodb.Table,
  name: string,
  handler: string,
  access: HandlerAccess,
  logGroup: logs.LogGroup,
): iam.Role {
  const role = new iam.Role(scope, `${name}Role`, {
    assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
    description: `STS ${handler} handler`,
  });
  logGroup.grantWrite(role);
  // One statement per grant: its actions on the item kinds' key prefixes only (handler-access.ts).
  for (const grant of access.table) {
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        sid: pascal(
          [...grant.actions.map((action) => action.replace('dynamodb:', '')), ...grant.items].join(' '),
        ),
        actions: [...grant.actions],
        resources: [table.tableArn],
        conditions: tableConditions(grant),
      }),
    );
  }
  return role;
}
