import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { ASSET_RESOURCE_METADATA_ENABLED_CONTEXT } from 'aws-cdk-lib/cx-api';
import { afterAll } from 'vitest';
import { EXAMPLE_CONFIG } from '../../cdk/service-config.ts';
import type { TokenServiceProps } from '../../cdk/sts-construct.ts';
import { StsStack } from '../../cdk/sts-stack.ts';
import type { ConfigFile } from '../../lib/config/config.ts';

/** The feature flags of cdk.json, so tests synthesize what `npx cdk synth` synthesizes. */
export function cdkJsonFlags(): Record<string, unknown> {
  const cdkJson = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as {
    context?: Record<string, unknown>;
  };
  return Object.fromEntries(
    Object.entries(cdkJson.context ?? {}).filter(([key]) => key.startsWith('@aws-cdk')),
  );
}

export interface SynthOptions {
  /** Bundle the functions with esbuild (slow-ish); default false: assets are placeholders. */
  readonly bundle?: boolean;
  /** Run CDK's built-in CloudFormation template validation (slow); default false. */
  readonly validate?: boolean;
  readonly context?: Record<string, unknown>;
}

/** Each app's output directory, removed after the test file: none is left in the temp directory. */
const outdirs: string[] = [];
afterAll(() => {
  for (const dir of outdirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A fresh output directory for one app, removed after the test file. */
export function testOutdir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sts-test-cdk.out-'));
  outdirs.push(dir);
  return dir;
}

/** An App as cdk.json configures it. */
export function testApp(options: SynthOptions = {}): App {
  return new App({
    outdir: testOutdir(),
    builtinCloudFormationValidation: options.validate ?? false,
    context: {
      ...cdkJsonFlags(),
      // As under the CLI: resources name their asset directory (`aws:asset:path`).
      [ASSET_RESOURCE_METADATA_ENABLED_CONTEXT]: true,
      ...(options.bundle ? {} : { 'aws:cdk:bundling-stacks': [] }),
      ...options.context,
    },
  });
}

export interface Synthesized {
  readonly app: App;
  readonly stack: StsStack;
  readonly template: Template;
}

/**
 * One StsStack with the example config unless `service` says otherwise. A function receives a
 * stack of the same app to import resources into (a hosted zone, a topic, a key by ARN).
 */
export function synthStack(
  service: Partial<TokenServiceProps> | ((imports: Stack) => Partial<TokenServiceProps>) = {},
  options: SynthOptions = {},
): Synthesized {
  const app = testApp(options);
  const props = typeof service === 'function' ? service(new Stack(app, 'Imports')) : service;
  const stack = new StsStack(app, 'Sts', { service: { config: EXAMPLE_CONFIG, ...props } });
  return { app, stack, template: Template.fromStack(stack) };
}

/** The example config as an object, to vary in tests. */
export function exampleConfig(): ConfigFile {
  return JSON.parse(readFileSync(EXAMPLE_CONFIG, 'utf8')) as ConfigFile;
}

/** Writes `content` (JSON unless a string) to a fresh temporary file and returns its path. */
export function tempConfigFile(content: unknown, name = 'sts.config.json'): string {
  const path = join(mkdtempSync(join(tmpdir(), 'sts-cdk-test-')), name);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}

/** Resolves a token-bearing value of a stack (e.g. `Fn::GetAtt`) for comparisons. */
export const resolve = (stack: Stack, value: unknown): unknown => stack.resolve(value);
