import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUNDLED_HANDLERS, handlerSource, PROJECT_ROOT } from '../../cdk/handler-code.ts';
import { HANDLERS } from '../../lambdas/routes.ts';

// In this repository every handler is built from source; the prebuilt path (the published
// package's dist/lambda/) is proven by test/package/consumer.test.ts on the installed tarball.
describe('handlerSource', () => {
  it('bundles every routed handler, from lambdas/<handler>.ts in this repository', () => {
    for (const handler of HANDLERS) expect(BUNDLED_HANDLERS).toContain(handler);
    for (const handler of BUNDLED_HANDLERS) {
      expect(handlerSource(handler)).toEqual({
        kind: 'source',
        entry: join(PROJECT_ROOT, 'lambdas', `${handler}.ts`),
      });
    }
  });

  it('names the handler and the list to add it to when it has no code', () => {
    expect(() => handlerSource('no-such-handler')).toThrow(/"no-such-handler".*BUNDLED_HANDLERS/s);
  });
});
