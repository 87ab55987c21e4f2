// Revocation and introspection built once per runtime (per container on Lambda, per local
// server), sharing one verifier of this service's own tokens and its key-set cache.

import { createOwnTokenVerifier } from '../lib/exchange/own-token.ts';
import { createIntrospection, type Introspect } from '../lib/revocation/introspection.ts';
import { createRevocation, type Revocation } from '../lib/revocation/revocation.ts';
import type { StoreRuntime } from './runtime.ts';

export interface RevocationServices {
  readonly revocation: Revocation;
  readonly introspect: Introspect;
}

const built = new WeakMap<StoreRuntime, RevocationServices>();

export function revocationServices(runtime: StoreRuntime): RevocationServices {
  let services = built.get(runtime);
  if (!services) {
    const verifyOwnToken = createOwnTokenVerifier(runtime);
    services = {
      revocation: createRevocation({ ...runtime, verifyOwnToken }),
      introspect: createIntrospection({ ...runtime, verifyOwnToken }),
    };
    built.set(runtime, services);
  }
  return services;
}
