// Everything a handler needs, built once per container (Lambda) or per server (local), and
// handed to the handlers through a provider so tests and the local server inject their own.

import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { type Config, ConfigError, loadConfigFile } from '../lib/config/config.ts';
import { loadSettings, type Settings } from '../lib/config/settings.ts';
import { createTokenExchange, type TokenExchange } from '../lib/exchange/token-exchange.ts';
import { type Clock, systemClock } from '../lib/shared/clock.ts';
import { createLogger, type Logger } from '../lib/shared/log.ts';
import { createSigner } from '../lib/signers/create.ts';
import type { Signer } from '../lib/signers/signer.ts';
import { DynamoStore } from '../lib/stores/dynamodb.ts';
import type { TokenStore } from '../lib/stores/store.ts';

export interface Runtime {
  readonly settings: Settings;
  readonly config: Config;
  readonly signer: Signer;
  readonly store: TokenStore;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly exchange: TokenExchange;
}

export type RuntimeProvider = () => Promise<Runtime>;

export interface RuntimeParts {
  readonly settings: Settings;
  readonly config: Config;
  readonly signer: Signer;
  readonly store: TokenStore;
  readonly clock?: Clock;
  readonly logger?: Logger;
  readonly fetch?: typeof fetch;
}

export function createRuntime(parts: RuntimeParts): Runtime {
  const clock = parts.clock ?? systemClock;
  const logger = parts.logger ?? createLogger(parts.settings.logLevel);
  const exchange = createTokenExchange({ ...parts, clock, logger });
  return { ...parts, clock, logger, exchange };
}

/** The Lambda runtime: settings from the environment, the policy file from STS_CONFIG, AWS clients. */
async function fromEnvironment(): Promise<Runtime> {
  const settings = loadSettings();
  if (!settings.configPath)
    throw new ConfigError('environment', ['STS_CONFIG: required (path of sts.config.json)']);
  const config = loadConfigFile(settings.configPath, { issuer: settings.issuer });
  const store = new DynamoStore({ client: new DynamoDBClient({}), tableName: settings.tableName });
  return createRuntime({ settings, config, store, signer: await createSigner(settings) });
}

let cached: Promise<Runtime> | undefined;

/** The container's runtime, built on first use; a failed build is retried on the next request. */
export const defaultRuntime: RuntimeProvider = () => {
  cached ??= fromEnvironment().catch((error: unknown) => {
    cached = undefined;
    throw error;
  });
  return cached;
};
