// How a handler's code is obtained: the one place that knows whether the construct runs from
// this repository's sources or from the published package. From sources (the repository's own
// stack, its tests) each handler is bundled at synth with NodejsFunction and cdk/bundling.ts's
// options. From the package, the same bundles were built at pack time (scripts/build.ts, into
// dist/lambda/<handler>/) and are deployed as they are, so a consumer's `cdk synth` needs
// neither esbuild nor this project's lock file. Either way the validated policy file is copied
// into the asset as `sts.config.json`, so code and policy deploy (and roll back) together, and
// the asset hash changes whenever either does. New handlers (a key rotation function, a prober)
// call `handlerFunction` too, and are listed in BUNDLED_HANDLERS so the package ships them.

import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AssetHashType, DockerImage } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { Construct } from 'constructs';
import { HANDLERS } from '../lambdas/routes.ts';
import { BUNDLE_FILE, CONFIG_FILE_NAME, HANDLER_EXPORT, lambdaBundling } from './bundling.ts';

/** The repository (or, compiled, the package's `dist/`) root. */
export const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));

/** The module the local server imports for a handler, and so the one Lambda runs. */
export const handlerEntry = (handler: string): string => join(PROJECT_ROOT, 'lambdas', `${handler}.ts`);

/** Where the package's prebuilt bundles are: `dist/lambda/<handler>/index.mjs` (+ source map). */
export const PREBUILT_ROOT = join(PROJECT_ROOT, 'lambda');

/**
 * Every handler module deployed as a function: the routed ones, plus any function without a
 * route (add it here). `npm run build` bundles exactly these into the package.
 */
export const BUNDLED_HANDLERS: readonly string[] = [...HANDLERS, 'prober', 'rotate-data-keys'];

/** The code of a handler: a prebuilt bundle directory, or the source module to bundle. */
export type HandlerSource =
  | { readonly kind: 'prebuilt'; readonly dir: string }
  | { readonly kind: 'source'; readonly entry: string };

export function handlerSource(handler: string): HandlerSource {
  const dir = join(PREBUILT_ROOT, handler);
  if (existsSync(join(dir, BUNDLE_FILE))) return { kind: 'prebuilt', dir };
  const entry = handlerEntry(handler);
  if (existsSync(entry)) return { kind: 'source', entry };
  throw new Error(
    `serverless-sts: no code for handler "${handler}": neither a prebuilt bundle (${dir}) nor its source (${entry}); ` +
      'is it listed in BUNDLED_HANDLERS (cdk/handler-code.ts)?',
  );
}

export interface HandlerFunctionProps extends lambda.FunctionOptions {
  /** Default Node.js 22, the bundles' target (cdk/bundling.ts). */
  readonly runtime?: lambda.Runtime;
  /** The validated policy file to ship in the asset as `sts.config.json`. */
  readonly configFile?: string;
}

/**
 * A Lambda function running `lambdas/<handler>.ts`'s `handler` export, with its code from the
 * prebuilt bundle (published package) or bundled from source (this repository).
 *
 * @example
 * const fn = handlerFunction(this, 'RotateFunction', 'rotate-keys', { role, environment, configFile });
 */
export function handlerFunction(
  scope: Construct,
  id: string,
  handler: string,
  props: HandlerFunctionProps,
): lambda.Function {
  const { configFile, runtime = lambda.Runtime.NODEJS_22_X, ...options } = props;
  const source = handlerSource(handler);
  if (source.kind === 'prebuilt') {
    return new lambda.Function(scope, id, {
      ...options,
      runtime,
      handler: `${BUNDLE_FILE.replace(/\.mjs$/, '')}.${HANDLER_EXPORT}`,
      code: prebuiltCode(source.dir, configFile),
    });
  }
  const lockFile = join(PROJECT_ROOT, 'package-lock.json');
  return new NodejsFunction(scope, id, {
    ...options,
    runtime,
    entry: source.entry,
    handler: HANDLER_EXPORT,
    bundling: lambdaBundling(configFile),
    projectRoot: PROJECT_ROOT,
    ...(existsSync(lockFile) ? { depsLockFilePath: lockFile } : {}),
  });
}

/**
 * The prebuilt bundle plus the policy file, as one asset. Its hash covers both, so a new
 * package version or a changed policy redeploys the function; the copy into the cloud assembly
 * is plain file copying (no Docker, no esbuild).
 */
function prebuiltCode(dir: string, configFile: string | undefined): lambda.Code {
  const files = readdirSync(dir).sort();
  const hash = createHash('sha256');
  for (const name of files)
    hash
      .update(`${name}\0`)
      .update(readFileSync(join(dir, name)))
      .update('\0');
  if (configFile) hash.update(`${CONFIG_FILE_NAME}\0`).update(readFileSync(configFile));
  return lambda.Code.fromAsset(dir, {
    assetHashType: AssetHashType.CUSTOM,
    assetHash: hash.digest('hex'),
    bundling: {
      // Required by the type, never pulled: local "bundling" below always succeeds.
      image: DockerImage.fromRegistry('public.ecr.aws/lambda/nodejs:22'),
      local: {
        tryBundle(outputDir: string): boolean {
          for (const name of files) copyFileSync(join(dir, name), join(outputDir, name));
          if (configFile) copyFileSync(configFile, join(outputDir, CONFIG_FILE_NAME));
          return true;
        },
      },
    },
  });
}
