import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';
import { ESBUILD_OPTIONS } from '../../cdk/bundling.ts';
import { HANDLERS } from '../../lambdas/routes.ts';

/**
 * Cold start per route (issue 14, item 3): each handler's bundle holds only the runtime layers its
 * route uses, so `jwks` and `metadata` never load the token store or the exchange engine, and
 * `jwks` not even the policy file's schema.
 */
const PROJECT_ROOT = fileURLToPath(new URL('../..', import.meta.url));

async function bundledSources(handler: string): Promise<string[]> {
  const result = await build({
    ...ESBUILD_OPTIONS,
    absWorkingDir: PROJECT_ROOT,
    entryPoints: [join(PROJECT_ROOT, 'lambdas', `${handler}.ts`)],
    outdir: join(PROJECT_ROOT, 'node_modules', '.cache', 'containers-test', handler),
    write: false,
    metafile: true,
  });
  return Object.keys(result.metafile.inputs);
}

const EXCHANGE = 'lib/exchange/token-exchange.ts';
const TOKEN_STORE = 'lib/stores/dynamodb.ts';
const POLICY_FILE = 'lib/config/config.ts';

/** What each handler's bundle must not contain. */
const LEFT_OUT: Readonly<Record<string, readonly string[]>> = {
  jwks: [EXCHANGE, TOKEN_STORE, POLICY_FILE, 'lib/policy/policy.ts', 'node_modules/zod/'],
  metadata: [EXCHANGE, TOKEN_STORE, 'lib/policy/policy.ts'],
  revoke: [EXCHANGE, 'lib/policy/policy.ts'],
  introspect: [EXCHANGE, 'lib/policy/policy.ts'],
  'admin-revoke': [EXCHANGE, 'lib/policy/policy.ts'],
  token: [],
  'prober-jwks': [EXCHANGE, TOKEN_STORE, POLICY_FILE, 'lib/policy/policy.ts', 'node_modules/zod/'],
};

describe('handler bundles', () => {
  it.each(HANDLERS)(
    '%s carries only the layers its route needs',
    async (handler) => {
      const sources = await bundledSources(handler);
      expect(sources.some((source) => source.endsWith(`lambdas/${handler}.ts`))).toBe(true);
      for (const excluded of LEFT_OUT[handler] ?? []) {
        expect(
          sources.filter((source) => source.includes(excluded)),
          `${handler} bundles ${excluded}`,
        ).toEqual([]);
      }
      if (handler === 'token') {
        expect(sources).toContain(EXCHANGE);
        expect(sources).toContain(TOKEN_STORE);
      }
    },
    60_000,
  );
});
