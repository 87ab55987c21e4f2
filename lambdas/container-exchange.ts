// The `token` container: the store layer plus the exchange engine (compiled policies, issuer
// key sets).

import { createTokenExchange } from '../lib/exchange/token-exchange.ts';
import { containerOnce } from './container.ts';
import { storeRuntime } from './container-store.ts';
import type { Runtime, RuntimeProvider } from './runtime.ts';

export const exchangeRuntime: RuntimeProvider<Runtime> = containerOnce(async () => {
  const parts = await storeRuntime();
  return { ...parts, exchange: createTokenExchange(parts) };
});
