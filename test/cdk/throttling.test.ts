import type { CfnElement } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { servicePropsFromContext } from '../../cdk/context.ts';
import { FUNCTION_TIMEOUT_SECONDS } from '../../cdk/sts-construct.ts';
import { concurrencyFor, routeThrottles } from '../../cdk/throttling.ts';
import { ROUTES } from '../../lambdas/routes.ts';
import { type Synthesized, synthStack, testApp } from './synth.ts';

// Issue 18 item 4: a flood on a public route cannot starve the rest. Each route has its own
// bucket (HTTP APIs have no stage-wide one), `POST /token` a smaller one by default, and the
// token function a reserved concurrency sized from that bucket and the function timeout.

const reservedOf = ({ stack, template }: Synthesized, handler: string): unknown => {
  const fn = stack.service.functions.get(handler)!;
  const id = stack.getLogicalId(fn.node.defaultChild as CfnElement);
  return template.toJSON().Resources[id].Properties.ReservedConcurrentExecutions;
};

describe('throttling and reserved concurrency', () => {
  it('gives every route its own bucket, POST /token a smaller one, and reserves what it can keep busy', () => {
    const synth = synthStack();
    synth.template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      DefaultRouteSettings: { ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200 },
      RouteSettings: { 'POST /token': { ThrottlingRateLimit: 25, ThrottlingBurstLimit: 50 } },
    });
    // The stage can only name a route that exists: it waits for it.
    const [stage] = Object.values(synth.template.findResources('AWS::ApiGatewayV2::Stage'));
    const tokenRoute = synth.stack.getLogicalId(
      synth.stack.service.routes.get('POST /token')!.node.defaultChild as CfnElement,
    );
    expect(stage!.DependsOn).toContain(tokenRoute);
    // 50 at once, then 25/s for the 10 s timeout.
    expect(FUNCTION_TIMEOUT_SECONDS).toBe(10);
    expect(reservedOf(synth, 'token')).toBe(300);
    for (const handler of synth.stack.service.functions.keys()) {
      if (handler !== 'token') expect(reservedOf(synth, handler), handler).toBeUndefined();
    }
  });

  it('takes route buckets and the reservation as props', () => {
    const tuned = synthStack({
      routeThrottles: { 'POST /token': { rateLimit: 10 }, 'POST /revoke': { rateLimit: 5, burstLimit: 5 } },
    });
    tuned.template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      RouteSettings: {
        'POST /token': { ThrottlingRateLimit: 10, ThrottlingBurstLimit: 50 },
        'POST /revoke': { ThrottlingRateLimit: 5, ThrottlingBurstLimit: 5 },
      },
    });
    expect(reservedOf(tuned, 'token')).toBe(150);
    expect(reservedOf(synthStack({ tokenReservedConcurrency: 40 }), 'token')).toBe(40);
    expect(reservedOf(synthStack({ tokenReservedConcurrency: false }), 'token')).toBeUndefined();
  });

  it('warns at synth when the reservation exceeds what a default account quota can give', () => {
    const { stack } = synthStack({ routeThrottles: { 'POST /token': { rateLimit: 100, burstLimit: 200 } } });
    expect(
      Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('reserves 1200 concurrent')),
    ).toHaveLength(1);
  });

  it.each([
    [
      { routeThrottles: { 'POST /tokens': { rateLimit: 1 } } },
      /routeThrottles\["POST \/tokens"\] names no route/,
    ],
    [{ routeThrottles: { 'POST /token': { rateLimit: -1 } } }, /rateLimit must be a whole number/],
    [{ throttle: { burstLimit: 1.5 } }, /throttle.burstLimit must be a whole number/],
    [{ tokenReservedConcurrency: 0 }, /tokenReservedConcurrency must be a whole number >= 1/],
  ])('refuses %j', (props, message) => {
    expect(() => synthStack(props)).toThrow(message);
  });

  it('reads route buckets and the reservation from context', () => {
    const props = servicePropsFromContext(
      testApp({
        context: {
          routeThrottles: '{"POST /token":{"rateLimit":50,"burstLimit":100}}',
          tokenReservedConcurrency: 'false',
        },
      }),
    );
    expect(props).toMatchObject({
      routeThrottles: { 'POST /token': { rateLimit: 50, burstLimit: 100 } },
      tokenReservedConcurrency: false,
    });
    expect(
      servicePropsFromContext(testApp({ context: { tokenReservedConcurrency: '80' } }))
        .tokenReservedConcurrency,
    ).toBe(80);
  });

  it('sizes concurrency as burst plus rate for the timeout', () => {
    expect(concurrencyFor({ rateLimit: 25, burstLimit: 50 }, 10)).toBe(300);
    expect(concurrencyFor({ rateLimit: 0.5, burstLimit: 1 }, 3)).toBe(3);
    const { stage, routes } = routeThrottles(ROUTES);
    expect(stage).toEqual({ rateLimit: 100, burstLimit: 200 });
    expect([...routes.keys()]).toEqual(['POST /token']);
  });
});
