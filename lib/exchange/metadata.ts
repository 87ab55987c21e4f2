import type { Config } from '../config/config.ts';
import { TOKEN_EXCHANGE_GRANT } from '../shared/claims.ts';
import { DPOP_ALGORITHMS } from '../shared/dpop.ts';
import type { SigningKey } from '../signers/signer.ts';

/** RFC 8414 authorization server metadata, also served as the OpenID discovery document. */
export function serverMetadata(config: Config, activeKey: SigningKey): Record<string, unknown> {
  const base = config.issuer.replace(/\/$/, '');
  return {
    issuer: config.issuer,
    token_endpoint: `${base}/token`,
    jwks_uri: `${base}/.well-known/jwks.json`,
    revocation_endpoint: `${base}/revoke`,
    introspection_endpoint: `${base}/introspect`,
    grant_types_supported: [TOKEN_EXCHANGE_GRANT],
    token_endpoint_auth_methods_supported: ['none'],
    revocation_endpoint_auth_methods_supported: ['none'],
    response_types_supported: [],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: [activeKey.alg],
    token_endpoint_auth_signing_alg_values_supported: [activeKey.alg],
    claims_supported: ['iss', 'sub', 'aud', 'exp', 'iat', 'nbf', 'jti', 'client_id', 'scope', 'act', 'cnf'],
    // RFC 9449 §5.1: the proof algorithms the token endpoint accepts.
    dpop_signing_alg_values_supported: [...DPOP_ALGORITHMS],
  };
}
