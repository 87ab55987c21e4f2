// GET /prober/jwks.json: the public key of the prober's issuer (lib/ops/prober-issuer.ts), which
// the token function fetches like any trusted issuer's JWKS; 404 when the prober is off. Its
// container holds only that key (STS_PROBER_KEY_ID, resolved with GetPublicKey on first use).

import type { Settings } from '../lib/config/settings.ts';
import type { Signer } from '../lib/signers/signer.ts';
import { baseFromEnvironment, containerOnce } from './container.ts';
import { defineHandler } from './define-handler.ts';
import { json, PUBLIC_CACHE } from './http.ts';
import type { ProberRuntime, RuntimeProvider } from './runtime.ts';

/** The prober issuer's KMS key as a signer, for its public key only. */
async function proberSignerOf(settings: Settings): Promise<Signer | undefined> {
  if (!settings.proberKeyId) return undefined;
  const [{ newKmsClient }, { createKmsSigner }] = await Promise.all([
    import('../lib/signers/kms-client.ts'),
    import('../lib/signers/kms.ts'),
  ]);
  return createKmsSigner({ client: newKmsClient(), keyIds: [settings.proberKeyId], lazy: true });
}

export const proberRuntime: RuntimeProvider<ProberRuntime> = containerOnce(async () => {
  const base = baseFromEnvironment();
  return { ...base, proberSigner: await proberSignerOf(base.settings) };
});

export const createHandler = defineHandler(proberRuntime, async (_event, runtime) => {
  if (!runtime.settings.prober || !runtime.proberSigner) {
    return json(404, { message: 'Not Found' }, { 'Cache-Control': 'no-store' });
  }
  const keys = await runtime.proberSigner.publicKeys();
  return json(200, { keys }, { ...PUBLIC_CACHE, 'Content-Type': 'application/jwk-set+json' });
});

export const handler = createHandler();
