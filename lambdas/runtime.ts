// What a handler runs on, in layers: each route gets only the layer it needs, so a container
// builds (and a bundle carries) no more than its route uses. `jwks` runs on a SigningRuntime (no
// policy file, no token store, no exchange engine), `metadata` on a ConfiguredRuntime (adds the
// policy file), the revocation routes on a StoreRuntime, `token` on the full Runtime. The Lambda
// containers build theirs from the environment (lambdas/container*.ts); tests and the local
// server build one full Runtime with createRuntime and hand it to every handler, which fits
// every layer.

import type { Config } from '../lib/config/config.ts';
import type { Settings } from '../lib/config/settings.ts';
import { createTokenExchange, type TokenExchange } from '../lib/exchange/token-exchange.ts';
import { type Clock, systemClock } from '../lib/shared/clock.ts';
import { createLogger, type Logger } from '../lib/shared/log.ts';
import type { Signer } from '../lib/signers/signer.ts';
import type { TokenStore } from '../lib/stores/store.ts';

/** Settings, the clock and the logger: what every route has. */
export interface BaseRuntime {
  readonly settings: Settings;
  readonly clock: Clock;
  readonly logger: Logger;
}

/** Adds the signer (its public keys: `jwks`). */
export interface SigningRuntime extends BaseRuntime {
  readonly signer: Signer;
}

/** Adds the policy file (`metadata`). */
export interface ConfiguredRuntime extends SigningRuntime {
  readonly config: Config;
}

/** Adds the token store (revocation and introspection). */
export interface StoreRuntime extends ConfiguredRuntime {
  readonly store: TokenStore;
}

/** Everything: the token exchange engine (`token`), and what tests and the local server use. */
export interface Runtime extends StoreRuntime {
  readonly exchange: TokenExchange;
}

/** Hands a handler its runtime; tests and the local server inject their own. */
export type RuntimeProvider<R extends BaseRuntime = Runtime> = () => Promise<R>;

export interface RuntimeParts {
  readonly settings: Settings;
  readonly config: Config;
  readonly signer: Signer;
  readonly store: TokenStore;
  readonly clock?: Clock;
  readonly logger?: Logger;
  readonly fetch?: typeof fetch;
}

/** A full runtime from its parts (tests, the local server, the `token` container). */
export function createRuntime(parts: RuntimeParts): Runtime {
  const clock = parts.clock ?? systemClock;
  const logger = parts.logger ?? createLogger(parts.settings.logLevel);
  const exchange = createTokenExchange({ ...parts, clock, logger, stsEndpoint: parts.settings.stsEndpoint });
  return { ...parts, clock, logger, exchange };
}
