import { join } from 'node:path';
import type { Settings } from '../config/settings.ts';
import { loadOrCreateLocalSigner } from './local.ts';
import type { Signer } from './signer.ts';

/** The signer the settings ask for: `local` (a key file under the data directory) or `kms`. */
export async function createSigner(settings: Settings): Promise<Signer> {
  if (settings.signer === 'kms') {
    const [{ KMSClient }, { createKmsSigner }] = await Promise.all([
      import('@aws-sdk/client-kms'),
      import('./kms.ts'),
    ]);
    return createKmsSigner({ client: new KMSClient({}), keyIds: settings.kmsKeyIds });
  }
  const alg = settings.localKeyAlgorithm;
  return loadOrCreateLocalSigner(join(settings.dataDir, `signing-key.${alg}.json`), alg);
}
