import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type CfnElement, Stack } from 'aws-cdk-lib';
import { Runtime } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { beforeAll, describe, expect, it } from 'vitest';
import { CONFIG_FILE_NAME, ESBUILD_OPTIONS, ESM_REQUIRE_BANNER, lambdaBundling } from '../../cdk/bundling.ts';
import { handlerEntry, PROJECT_ROOT } from '../../cdk/handler-code.ts';
import { EXAMPLE_CONFIG, stageConfig } from '../../cdk/service-config.ts';
import { StsStack } from '../../cdk/sts-stack.ts';
import { HANDLERS } from '../../lambdas/routes.ts';
import { exampleConfig, testApp } from './synth.ts';

/** Real bundles of the example stack, built once for the file (esbuild runs once per function). */
let outdir: string;
let main: StsStack;

beforeAll(() => {
  const app = testApp({ bundle: true });
  main = new StsStack(app, 'Sts', { service: { config: EXAMPLE_CONFIG } });
  outdir = app.synth().directory;
}, 180_000);

/** The directory of a function's bundled asset in the cloud assembly. */
function assetDir(stack: Stack, handler: string): string {
  const fn = (stack as StsStack).service.functions.get(handler)!;
  const resource = fn.node.defaultChild as CfnElement;
  const template = JSON.parse(readFileSync(join(outdir, `${stack.artifactId}.template.json`), 'utf8'));
  return join(outdir, template.Resources[stack.getLogicalId(resource)].Metadata['aws:asset:path']);
}

describe('bundles', () => {
  it('bundles each function from lambdas/<handler>.ts, the module the local server imports', async () => {
    expect([...main.service.entries.keys()].sort()).toEqual([...HANDLERS].sort());
    for (const handler of HANDLERS) {
      const entry = main.service.entries.get(handler)!;
      expect(entry).toBe(join(PROJECT_ROOT, 'lambdas', `${handler}.ts`));
      expect(entry).toBe(handlerEntry(handler));
      // The same module exports `handler` (Lambda) and `createHandler` (the local server).
      const module = (await import(entry)) as Record<string, unknown>;
      expect(typeof module.handler, handler).toBe('function');
      expect(typeof module.createHandler, handler).toBe('function');
      // The source map proves which entry the bundle was built from.
      const map = JSON.parse(readFileSync(join(assetDir(main, handler), 'index.mjs.map'), 'utf8')) as {
        sources: string[];
      };
      expect(map.sources.some((source) => source.endsWith(`lambdas/${handler}.ts`))).toBe(true);
      const others = HANDLERS.filter((name) => name !== handler);
      expect(
        map.sources.filter((source) => others.some((name) => source.endsWith(`lambdas/${name}.ts`))),
      ).toEqual([]);
    }
  });

  it('ships minified ESM with the createRequire banner, the SDK inside, and the validated config', () => {
    const example = readFileSync(EXAMPLE_CONFIG, 'utf8');
    for (const handler of HANDLERS) {
      const dir = assetDir(main, handler);
      expect(existsSync(join(dir, 'index.mjs.map'))).toBe(true);
      const code = readFileSync(join(dir, 'index.mjs'), 'utf8');
      expect(code.startsWith(ESM_REQUIRE_BANNER)).toBe(true);
      expect(code).not.toMatch(/from\s*"@aws-sdk\//);
      expect(code.length / code.split('\n').length).toBeGreaterThan(2000);
      expect(readFileSync(join(dir, CONFIG_FILE_NAME), 'utf8')).toBe(example);
    }
  });

  it('never shares a bundle between two configs, even in one process', () => {
    // Asset staging caches bundles per process by their bundling options: the staged config's
    // content-addressed path is part of them, so a second config cannot reuse the first bundle.
    const first = stageConfig(exampleConfig());
    const second = stageConfig({ ...exampleConfig(), tokenLifetime: { default: '1m', max: '5m' } });
    expect(stageConfig(exampleConfig()).file).toBe(first.file);
    expect(second.file).not.toBe(first.file);

    const app = testApp({ bundle: true });
    const stack = new Stack(app, 'Tiny');
    // A tiny entry (the route table module) keeps this second synth fast.
    const entry = join(PROJECT_ROOT, 'lambdas', 'routes.ts');
    const bundle = (id: string, config: string) =>
      new NodejsFunction(stack, id, {
        entry,
        projectRoot: PROJECT_ROOT,
        runtime: Runtime.NODEJS_22_X,
        bundling: lambdaBundling(config),
      });
    const a = bundle('A', first.file);
    const b = bundle('B', second.file);
    const assembly = app.synth();
    const dirOf = (fn: NodejsFunction) => {
      const template = assembly.getStackArtifact(stack.artifactId).template;
      const path =
        template.Resources[stack.getLogicalId(fn.node.defaultChild as CfnElement)].Metadata['aws:asset:path'];
      return join(assembly.directory, path);
    };
    expect(dirOf(a)).not.toBe(dirOf(b));
    expect(readFileSync(join(dirOf(a), CONFIG_FILE_NAME), 'utf8')).toBe(readFileSync(first.file, 'utf8'));
    expect(JSON.parse(readFileSync(join(dirOf(b), CONFIG_FILE_NAME), 'utf8')).tokenLifetime.default).toBe(
      '1m',
    );
  });

  it('runs as deployed: the bundled metadata handler loads its config and serves the injected issuer', async () => {
    const dir = assetDir(main, 'metadata');
    const issuer = 'https://abc123.execute-api.eu-west-1.amazonaws.com';
    const script = `
      const { handler } = await import('./index.mjs');
      const result = await handler({ rawPath: '/.well-known/openid-configuration', headers: {}, requestContext: {} }, {});
      process.stdout.write(JSON.stringify(result));`;
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
      cwd: dir,
      env: {
        PATH: process.env.PATH,
        // As on Lambda, but with a local key instead of KMS (no AWS here).
        STS_CONFIG: join(dir, CONFIG_FILE_NAME),
        STS_ISSUER: issuer,
        STS_SIGNER: 'local',
        STS_DATA_DIR: mkdtempSync(join(tmpdir(), 'sts-bundle-')),
        STS_LOG_LEVEL: 'silent',
      },
    });
    const result = JSON.parse(stdout) as { statusCode: number; body: string };
    expect(result.statusCode).toBe(200);
    expect(JSON.parse(result.body)).toMatchObject({
      issuer,
      token_endpoint: `${issuer}/token`,
      jwks_uri: `${issuer}/.well-known/jwks.json`,
    });
  });
});

describe('bundling options', () => {
  it('gives NodejsFunction exactly the exported esbuild options, bundled locally', () => {
    const options = lambdaBundling('/tmp/sts.config.json');
    expect(options).toMatchObject({
      format: OutputFormat.ESM,
      target: ESBUILD_OPTIONS.target,
      minify: true,
      sourceMap: true,
      sourcesContent: false,
      mainFields: ESBUILD_OPTIONS.mainFields,
      banner: ESBUILD_OPTIONS.banner.js,
      externalModules: [],
      forceDockerBundling: false,
    });
    expect(ESBUILD_OPTIONS).toMatchObject({
      format: 'esm',
      platform: 'node',
      target: 'node22',
      bundle: true,
    });
    expect(options.commandHooks?.afterBundling('/in', '/out')).toEqual([
      `cp '/tmp/sts.config.json' '/out/${CONFIG_FILE_NAME}'`,
    ]);
    expect(lambdaBundling().commandHooks).toBeUndefined();
  });
});
