// The container's KMSClient (AWS_REGION and AWS_ENDPOINT_URL_KMS apply), in a module of its own:
// signers/create.ts and lambdas/prober-jwks.ts import it lazily, so a bundle holds the client tree-shaken (a dynamic import
// of the SDK package itself would keep every command) and evaluates it only in the KMS modes.

import { KMSClient } from '@aws-sdk/client-kms';

/** A KMSClient from the environment. */
export const newKmsClient = (): KMSClient => new KMSClient({});
