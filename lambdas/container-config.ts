// The `metadata` container: the signing layer plus the policy file from STS_CONFIG (validated
// with its schema; STS_ISSUER replaces its issuer).

import { ConfigError, loadConfigFile } from '../lib/config/config.ts';
import { configWithProber } from '../lib/ops/prober-issuer.ts';
import { containerOnce, signingRuntime } from './container.ts';
import type { ConfiguredRuntime, RuntimeProvider } from './runtime.ts';

export const configuredRuntime: RuntimeProvider<ConfiguredRuntime> = containerOnce(async () => {
  const signing = await signingRuntime();
  const { configPath, issuer } = signing.settings;
  if (!configPath) throw new ConfigError('environment', ['STS_CONFIG: required (path of sts.config.json)']);
  return {
    ...signing,
    config: configWithProber(loadConfigFile(configPath, { issuer }), signing.settings.prober),
  };
});
