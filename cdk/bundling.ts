// How every handler is bundled, in one place: the CDK construct turns these settings into
// `NodejsFunction` bundling options, and a benchmark or a smoke test can hand `ESBUILD_OPTIONS`
// to esbuild's own `build()` to produce the very bundle Lambda runs.
//
// ESM output for Node 22 on Lambda, minified, with the AWS SDK bundled (no externals: a bundled,
// tree-shaken SDK starts faster than the runtime's copy), an external source map, and the usual
// banner that gives the ESM bundle a `require` so bundled CommonJS dependencies can load builtins.

import { platform } from 'node:os';
import { type BundlingOptions, OutputFormat, SourceMapMode } from 'aws-cdk-lib/aws-lambda-nodejs';
import type { BuildOptions } from 'esbuild';

export const NODE_TARGET = 'node22';

/** The handler file inside each asset (`.mjs`: Lambda loads it as ESM) and its export. */
export const BUNDLE_FILE = 'index.mjs';
export const HANDLER_EXPORT = 'handler';

/** Where the validated policy file lands in each asset, and so in the container. */
export const CONFIG_FILE_NAME = 'sts.config.json';
export const CONFIG_PATH_IN_LAMBDA = `/var/task/${CONFIG_FILE_NAME}`;

export const ESM_REQUIRE_BANNER =
  "import { createRequire as __stsCreateRequire } from 'node:module';" +
  'const require = __stsCreateRequire(import.meta.url);';

const MAIN_FIELDS = ['module', 'main'];

/** The esbuild options, for `esbuild.build({ ...ESBUILD_OPTIONS, entryPoints, outfile })`. */
export const ESBUILD_OPTIONS = Object.freeze({
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: NODE_TARGET,
  minify: true,
  sourcemap: true,
  sourcesContent: false,
  mainFields: MAIN_FIELDS,
  banner: { js: ESM_REQUIRE_BANNER },
  outExtension: { '.js': '.mjs' },
  external: [],
  logLevel: 'warning',
} as const satisfies BuildOptions);

/**
 * The same settings as `NodejsFunction` bundling options. Bundling is always local (esbuild from
 * node_modules; no Docker). `configFile`, when given, is copied into the asset as
 * `sts.config.json` after bundling, so code and policy deploy (and roll back) together.
 */
export function lambdaBundling(configFile?: string): BundlingOptions {
  return {
    format: OutputFormat.ESM,
    target: ESBUILD_OPTIONS.target,
    minify: ESBUILD_OPTIONS.minify,
    sourceMap: ESBUILD_OPTIONS.sourcemap,
    sourceMapMode: SourceMapMode.DEFAULT,
    sourcesContent: ESBUILD_OPTIONS.sourcesContent,
    mainFields: [...ESBUILD_OPTIONS.mainFields],
    banner: ESBUILD_OPTIONS.banner.js,
    externalModules: [...ESBUILD_OPTIONS.external],
    forceDockerBundling: false,
    ...(configFile
      ? {
          commandHooks: {
            beforeBundling: () => [],
            beforeInstall: () => [],
            afterBundling: (_inputDir: string, outputDir: string) => [
              copyCommand(configFile, `${outputDir}/${CONFIG_FILE_NAME}`),
            ],
          },
        }
      : {}),
  };
}

/** A shell command copying one file (bash locally; cmd on Windows hosts). */
function copyCommand(from: string, to: string): string {
  if (platform() === 'win32') return `copy /Y "${from}" "${to}"`;
  const quote = (text: string) => `'${text.replaceAll("'", "'\\''")}'`;
  return `cp ${quote(from)} ${quote(to)}`;
}
