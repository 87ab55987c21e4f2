// Translation of AWS KMS SDK failures at the edge of the KMS signer, by the one AWS error
// classifier (lib/shared/aws-error.ts): `kms.<operation>.unavailable` (503) or
// `kms.<operation>.failed` (500).

import { awsError } from '../shared/aws-error.ts';
import type { OAuthError } from '../shared/errors.ts';

/** The service's error for a failed KMS call; `operation` is `get_public_key` or `sign`. */
export function kmsError(operation: string, error: unknown): OAuthError {
  return awsError('kms', operation, error);
}
