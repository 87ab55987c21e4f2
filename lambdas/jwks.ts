import { signingRuntime } from './container.ts';
import { defineHandler } from './define-handler.ts';
import { json, PUBLIC_CACHE } from './http.ts';

/** GET /.well-known/jwks.json: every key whose tokens may still be live (RFC 7517). */
export const createHandler = defineHandler(signingRuntime, async (_event, runtime) => {
  const keys = await runtime.signer.publicKeys();
  return json(200, { keys }, { ...PUBLIC_CACHE, 'Content-Type': 'application/jwk-set+json' });
});

export const handler = createHandler();
