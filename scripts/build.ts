import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';
import { ESBUILD_OPTIONS } from '../cdk/bundling.ts';
import { BUNDLED_HANDLERS } from '../cdk/handler-code.ts';

// `npm run build` (and so `npm pack` / `npm publish`, through `prepack`): the package's entry
// points as ESM JavaScript with declarations (tsconfig.build.json, `.ts` imports rewritten to
// `.js`), and every Lambda handler prebuilt with the construct's own esbuild options into
// dist/lambda/<handler>/, which the published construct deploys as they are.

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const DIST = join(ROOT, 'dist');

/** Compiles the entry points (and what they import) to dist/. */
export function compile(): void {
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  execFileSync(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.build.json')], { stdio: 'inherit' });
}

/** Bundles each handler as Lambda runs it: dist/lambda/<handler>/index.mjs and its source map. */
export async function bundleHandlers(): Promise<void> {
  await build({
    ...ESBUILD_OPTIONS,
    absWorkingDir: ROOT,
    entryPoints: Object.fromEntries(
      BUNDLED_HANDLERS.map((handler) => [`${handler}/index`, join(ROOT, 'lambdas', `${handler}.ts`)]),
    ),
    outdir: join(DIST, 'lambda'),
    external: [...ESBUILD_OPTIONS.external],
    mainFields: [...ESBUILD_OPTIONS.mainFields],
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  rmSync(DIST, { recursive: true, force: true });
  compile();
  await bundleHandlers();
  console.log(`built ${DIST}: entry points and ${BUNDLED_HANDLERS.length} Lambda bundles`);
}
