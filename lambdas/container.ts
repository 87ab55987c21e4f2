// The Lambda container's runtime, built from the environment on first use and kept for the
// container's life, one layer per module so a bundle carries only its route's layers: this one
// builds settings, logger and signer (`jwks`); container-config.ts adds the policy file
// (`metadata`), container-store.ts the DynamoDB token store (revocation, introspection) and
// container-exchange.ts the exchange engine (`token`).

import { loadSettings } from '../lib/config/settings.ts';
import { systemClock } from '../lib/shared/clock.ts';
import { createMetricsWriter } from '../lib/shared/emf.ts';
import { createLogger } from '../lib/shared/log.ts';
import { createSigner } from '../lib/signers/create.ts';
import type { BaseRuntime, RuntimeProvider, SigningRuntime } from './runtime.ts';

/** Memoizes a container's build; a failed build is forgotten so the next request retries. */
export function containerOnce<T>(build: () => Promise<T>): () => Promise<T> {
  let cached: Promise<T> | undefined;
  return () => {
    cached ??= build().catch((error: unknown) => {
      cached = undefined;
      throw error;
    });
    return cached;
  };
}

/** Settings from the environment, the system clock, a logger at the configured level, metrics. */
export function baseFromEnvironment(): BaseRuntime {
  const settings = loadSettings();
  return {
    settings,
    clock: systemClock,
    logger: createLogger(settings.logLevel),
    metrics: createMetricsWriter({ namespace: settings.metricsNamespace }),
  };
}

/** The `jwks` container: base and signer. */
export const signingRuntime: RuntimeProvider<SigningRuntime> = containerOnce(async () => {
  const base = baseFromEnvironment();
  return { ...base, signer: await createSigner(base.settings) };
});
