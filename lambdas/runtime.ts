// What a handler runs on, in layers: each route gets only the layer it needs, so a container
// builds (and a bundle carries) no more than its route uses. `jwks` runs on a SigningRuntime (no
// policy file, no token store, no exchange engine), `metadata` on a ConfiguredRuntime (adds the
// policy file), the revocation routes on a StoreRuntime, `token` on the full Runtime. The Lambda
// containers build theirs from the environment (lambdas/container*.ts); tests and the local
// server build one full Runtime with createRuntime and hand it to every handler, which fits
// every layer.

import { randomBytes } from 'node:crypto';
import { type Config, ConfigError } from '../lib/config/config.ts';
import type { Settings } from '../lib/config/settings.ts';
import { createTokenExchange, type TokenExchange } from '../lib/exchange/token-exchange.ts';
import { configWithProber } from '../lib/ops/prober-issuer.ts';
import { type Clock, systemClock } from '../lib/shared/clock.ts';
import { createDpopNonces, type DpopNonces } from '../lib/shared/dpop-nonce.ts';
import { createMetricsWriter, type MetricsWriter } from '../lib/shared/emf.ts';
import { createLogger, type Logger } from '../lib/shared/log.ts';
import type { Signer } from '../lib/signers/signer.ts';
import type { TokenStore } from '../lib/stores/store.ts';

/** Settings, the clock, the logger and the metrics writer: what every route has. */
export interface BaseRuntime {
  readonly settings: Settings;
  readonly clock: Clock;
  readonly logger: Logger;
  /** EMF metrics (settings.metricsNamespace; off when unset). */
  readonly metrics: MetricsWriter;
}

/** Adds the prober issuer's key (`prober-jwks`); undefined when the prober is off. */
export interface ProberRuntime extends BaseRuntime {
  readonly proberSigner?: Signer | undefined;
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
export interface Runtime extends StoreRuntime, ProberRuntime {
  readonly exchange: TokenExchange;
  /** Stateless DPoP nonces (RFC 9449 §8), when a secret is set or the config requires nonces. */
  readonly dpopNonces: DpopNonces | undefined;
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
  readonly metrics?: MetricsWriter;
  readonly proberSigner?: Signer;
}

/**
 * The stateless DPoP nonces (RFC 9449 §8) of a runtime, keyed by STS_DPOP_NONCE_SECRET. Without
 * it, when the config requires nonces, one process (the local server, a test) makes a secret of
 * its own; a Lambda container (`shared`) refuses to, since every container must accept the
 * nonces the others hand out.
 */
export function dpopNoncesFor(
  settings: Settings,
  config: Config,
  clock: Clock,
  shared = false,
): DpopNonces | undefined {
  if (config.dpop.requireNonce && !settings.dpopNonceSecret && shared) {
    throw new ConfigError('environment', [
      'STS_DPOP_NONCE_SECRET: required when dpop.requireNonce is true (every container must share it)',
    ]);
  }
  const secret = settings.dpopNonceSecret ?? (config.dpop.requireNonce ? randomBytes(32) : undefined);
  return secret ? createDpopNonces({ secret, clock }) : undefined;
}

/** A full runtime from its parts (tests, the local server, the `token` container). */
export function createRuntime(parts: RuntimeParts): Runtime {
  const clock = parts.clock ?? systemClock;
  const logger = parts.logger ?? createLogger(parts.settings.logLevel);
  const metrics = parts.metrics ?? createMetricsWriter({ namespace: parts.settings.metricsNamespace });
  const config = configWithProber(parts.config, parts.settings.prober);
  const dpopNonces = dpopNoncesFor(parts.settings, config, clock);
  const exchange = createTokenExchange({
    ...parts,
    config,
    clock,
    logger,
    metrics,
    stsEndpoint: parts.settings.stsEndpoint,
    dpopNonces,
  });
  return { ...parts, config, clock, logger, metrics, exchange, dpopNonces };
}
