// The `token` container: the store layer plus the exchange engine (compiled policies, issuer
// key sets) and the DPoP nonces every container derives from the same STS_DPOP_NONCE_SECRET.

import { createTokenExchange } from '../lib/exchange/token-exchange.ts';
import { containerOnce } from './container.ts';
import { storeRuntime } from './container-store.ts';
import { dpopNoncesFor, type Runtime, type RuntimeProvider } from './runtime.ts';

export const exchangeRuntime: RuntimeProvider<Runtime> = containerOnce(async () => {
  const parts = await storeRuntime();
  const dpopNonces = dpopNoncesFor(parts.settings, parts.config, parts.clock, true);
  return {
    ...parts,
    dpopNonces,
    exchange: createTokenExchange({ ...parts, stsEndpoint: parts.settings.stsEndpoint, dpopNonces }),
  };
});
