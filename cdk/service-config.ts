// The policy file at synth time: validated exactly as the service validates it at start (same
// `ConfigError`, same message), then staged as a content-addressed copy that bundling ships into
// every function's asset.

import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  type Config,
  ConfigError,
  type ConfigFile,
  loadConfigFile,
  parseConfig,
} from '../lib/config/config.ts';
import { CONFIG_FILE_NAME } from './bundling.ts';

/** A path to `sts.config.json`, or the same document as an object. */
export type ConfigSource = string | ConfigFile;

export interface StagedConfig {
  /** The validated, typed config. */
  readonly config: Config;
  /** Where it came from: the file's path, or `TokenService props.config`. */
  readonly source: string;
  /**
   * The copy bundling ships. Its name holds the content hash, so two configs never share a
   * cached bundle and a changed config always changes the assets (and so redeploys the code).
   */
  readonly file: string;
}

export const OBJECT_SOURCE = 'TokenService props.config';

export function stageConfig(source: ConfigSource): StagedConfig {
  let config: Config;
  let text: string;
  let origin: string;
  if (typeof source === 'string') {
    origin = source;
    config = loadConfigFile(source);
    text = readFileSync(source, 'utf8');
  } else {
    origin = OBJECT_SOURCE;
    config = parseConfig(source, origin);
    text = `${JSON.stringify(source, null, 2)}\n`;
  }
  const digest = createHash('sha256').update(text).digest('hex').slice(0, 20);
  const dir = join(tmpdir(), 'serverless-sts-config', digest);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, CONFIG_FILE_NAME);
  // Written aside and renamed into place: another synth (another process, even another checkout
  // on this machine) may be copying the same content-addressed file at this moment.
  const partial = `${file}.${process.pid}.${Date.now()}.partial`;
  writeFileSync(partial, text);
  renameSync(partial, file);
  return { config, source: origin, file };
}

/**
 * With a custom domain the issuer is known before deployment and the file must say it: tokens
 * carry `iss` = config.issuer, and relying parties fetch discovery from that very URL.
 */
export function checkIssuerForDomain(staged: StagedConfig, domainName: string): void {
  const expected = `https://${domainName}`;
  if (staged.config.issuer !== expected) {
    throw new ConfigError(staged.source, [
      `issuer: "${staged.config.issuer}" must be "${expected}", the custom domain the service is deployed at`,
    ]);
  }
}

/** The example config `cdk synth` falls back to, for trying the stack out. */
export const EXAMPLE_CONFIG = fileURLToPath(new URL('./example.sts.config.json', import.meta.url));

export interface ConfigChoice {
  readonly path: string;
  /** How it was chosen, for the synth message: `STS_CONFIG`, `context config` or `example`. */
  readonly from: 'STS_CONFIG' | 'context config' | 'example';
}

/**
 * The policy file of a `cdk synth` or `cdk deploy`: `STS_CONFIG` (the variable the service and
 * the local server read), else the context key `config` (`cdk deploy -c config=prod.json`),
 * else the example config, which the app flags with a warning.
 */
export function chooseConfigPath(
  contextValue: unknown,
  env: Readonly<Record<string, string | undefined>> = process.env,
): ConfigChoice {
  // Paths stay as given (relative to the project directory, where cdk runs the app), so a
  // ConfigError names the file exactly as `STS_CONFIG=... npm start` would.
  if (env.STS_CONFIG) return { path: env.STS_CONFIG, from: 'STS_CONFIG' };
  if (contextValue !== undefined && contextValue !== '') {
    if (typeof contextValue !== 'string') {
      throw new ConfigError('context', ['config: expected the path of an sts.config.json file']);
    }
    return { path: contextValue, from: 'context config' };
  }
  return { path: EXAMPLE_CONFIG, from: 'example' };
}
