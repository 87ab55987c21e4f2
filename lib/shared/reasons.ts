// The registry of private refusal and failure reasons: the `reason` of every OAuthError, written to
// the audit log (`token.refused`, `request.failed`, `token.introspected`, ...) and turned into
// CloudWatch metrics and alarms (cdk/monitoring-metrics.ts, cdk/monitoring-alarms.ts), never shown
// to a caller. Code can emit only a reason listed here (the type says so), and
// test/lib/shared/reasons.test.ts fails when a reason seen at run time, in the CDK metrics or in
// docs/SECURITY.md is missing from this list.
//
// Adding a reason is one line: to TOKEN_CHECKS for a check of a presented JWT, else to REASONS.
// A `<name>` in a key is a placeholder for one lower-case word (`[a-z0-9_]+`) that the code fills
// from a closed list of its own (a parameter name, an AWS operation), never from the request.

/**
 * Checks of a presented JWT. The exchange prefixes them with the token's role
 * (`subject_token.expired`, `actor_token.expired`); introspection, revocation and the downstream
 * verifier log them as they are (`expired`).
 */
export const TOKEN_CHECKS = {
  too_large: 'longer than maxTokenBytes',
  malformed: 'not three canonical base64url segments of UTF-8 JSON objects without duplicate keys',
  header_jku: 'header names a key by URL (jku)',
  header_x5u: 'header names a certificate by URL (x5u)',
  header_x5c: 'header embeds a certificate chain (x5c)',
  header_jwk: 'header embeds a key (jwk)',
  header_crit: 'header has critical extensions (crit)',
  header_b64: 'header asks for an unencoded payload (b64)',
  header_zip: 'header asks for compression (zip)',
  header_enc: 'header is a JWE header (enc)',
  nested_jwt: 'header has cty (a nested JWT)',
  untrusted_issuer: 'iss is no trusted issuer',
  not_own_issuer: 'iss is not this service',
  alg_not_allowed: 'alg is not pinned for this issuer',
  alg_mismatch: "alg differs from the key's alg (downstream verifier)",
  self_not_at_jwt: 'a token of this service without typ at+jwt',
  token_type_mismatch: 'an at+jwt presented as an ID token',
  missing_kid: 'no kid (downstream verifier)',
  unknown_kid: "no key with this kid in the issuer's JWKS",
  ambiguous_kid: "several keys match in the issuer's JWKS",
  bad_signature: 'the signature does not verify',
  not_supported: 'jose does not support the key or algorithm',
  invalid: 'jose refused the token for another reason',
  expired: 'exp has passed (beyond the skew), or a chained token has no life left',
  iat_in_future: 'iat is in the future (beyond the skew)',
  claim_exp: 'exp missing or not a number',
  claim_nbf: 'nbf is in the future or not a number',
  claim_iat: 'iat is not a number',
  claim_iss: 'iss differs from the pinned issuer',
  claim_aud: 'aud lacks the pinned audience',
  claim_sub: 'sub missing',
  claim_jti: 'jti invalid',
  claim_typ: 'typ differs from the required one',
  claim_types: 'jti or sub is not a string (downstream verifier)',
  missing_sub: 'sub missing or empty',
  missing_jti: 'jti missing where it is required (own tokens, one-time issuers)',
  external_act: 'an external token carries its own act claim',
  sender_constrained: 'the token is DPoP-bound (cnf.jkt) and no DPoP proof came with it',
  cnf_unsupported: 'cnf of a kind this service cannot check (an mTLS x5t#S256), or malformed',
  bound_token_as_bearer: 'a DPoP-bound token presented as Bearer (downstream verifier)',
  dpop_unbound: 'an unbound token presented with Authorization: DPoP (downstream verifier)',
  self_unknown_jti: 'a token of this service with no TOKEN# record',
  unknown_jti: 'no TOKEN# record for this jti (introspection, revocation)',
  revoked:
    'the token, a token it came from, its subject or one of its actors was revoked (external tokens: issued before their subject was)',
  outlives_max_token_age: "a token without iat whose exp is further away than its issuer's maxTokenAge",
  chain_too_long: 'a chained or delegated token would have more ancestors than MAX_ANCESTORS (8)',
  replayed: 'a one-time token presented a second time',
  high_s:
    'an ECDSA signature of this service with the high-S spelling (ours are low-S; refused by the service and the downstream verifier)',
  nested_act: 'an actor token that itself carries act',
  // An IAM caller's signed STS GetCallerIdentity request (token type aws4_request; aws-identity.ts).
  aws_malformed: 'not the URL-encoded JSON of {url, method, headers, body}',
  aws_header_duplicated: 'a header named twice',
  aws_header_not_allowed: 'a header GetCallerIdentity does not need (x-amz-target, ...)',
  aws_method: 'not a POST',
  aws_endpoint:
    'not an allow-listed https STS endpoint (or AWS_ENDPOINT_URL_STS), or a path or credentials in the URL',
  aws_query_signature: 'signed in the query string (presigned URL) instead of the Authorization header',
  aws_action: 'an action other than GetCallerIdentity, or other parameters beside it',
  aws_host_header: 'the Host header is not the URL host',
  aws_audience_missing: 'no x-sts-audience header',
  aws_audience_mismatch: "x-sts-audience is not this service's issuer",
  aws_audience_unsigned: 'x-sts-audience is not among the signed headers',
  aws_date: 'X-Amz-Date missing or malformed',
  aws_date_future: 'X-Amz-Date is in the future (beyond the skew)',
  aws_date_expired: 'X-Amz-Date is older than maxRequestAge (beyond the skew)',
  aws_authorization:
    'Authorization is not AWS4-HMAC-SHA256 for sts over host, x-amz-date and the sent headers',
  aws_region: "the signature's region is not the endpoint's",
  aws_redirect: 'STS answered with a redirect (not followed)',
  aws_refused: 'STS refused the signature or credentials (SignatureDoesNotMatch, InvalidClientTokenId, ...)',
  aws_identity_malformed: 'the ARN, UserId and Account STS answered do not fit together',
  aws_principal_kind: 'the root user or a federated user (only IAM roles and users are accepted)',
  aws_account_not_allowed: 'no "type": "aws" trusted issuer lists the account (for this endpoint)',
} as const;

/** Every other reason, by area. */
export const REASONS = {
  'request.too_large': 'the body is over 64 KiB (413)',
  'request.content_type': 'the body is not application/x-www-form-urlencoded (UTF-8)',
  'request.encoding': 'the body is not UTF-8 or has a malformed percent-encoding',
  'request.missing_<parameter>': 'a required parameter is absent or empty',
  'request.duplicate_<parameter>': 'a parameter the grant reads was sent twice',
  'request.grant_type': 'grant_type is not token exchange',
  'request.subject_token_type': 'subject_token_type is not a JWT token type',
  'request.actor_token_type': 'actor_token_type is not a JWT token type',
  'request.requested_token_type': 'requested_token_type is not one this service issues',
  'request.two_targets': 'audience and resource together',
  'request.missing_target': 'neither audience nor resource',
  'request.resource_uri': 'resource is not an absolute URI without a fragment',
  'request.scope_syntax': 'scope is not RFC 6749 scope syntax',
  'request.jti_and_sub': 'admin revocation with both jti and sub',
  'request.missing_jti_or_sub': 'admin revocation with neither jti nor sub',
  'request.iss_without_sub': 'admin revocation with iss but by jti',
  'request.ambiguous_subject': 'admin revocation of a sub without iss while several issuers are trusted',
  'request.unknown_issuer': 'admin revocation naming an iss that is no trusted issuer',
  'dpop.missing': 'Authorization: DPoP without a DPoP proof header (downstream verifier)',
  'dpop.required': 'a requireDpop policy admitted the request, but it carries no DPoP proof',
  'dpop.multiple_proofs': 'more than one DPoP header (joined by commas)',
  'dpop.empty': 'an empty DPoP header',
  'dpop.too_large': 'a DPoP proof over 8 KiB',
  'dpop.malformed': 'the proof is not a strict compact JWS',
  'dpop.typ': 'the proof typ is not dpop+jwt',
  'dpop.alg_not_allowed': 'the proof alg is none, a MAC, or not pinned',
  'dpop.header_<name>': 'the proof header names other keys or changes the payload (jku, x5u, x5c, crit, ...)',
  'dpop.jwk_missing': 'the proof header has no jwk object',
  'dpop.jwk_private': 'the proof jwk carries private or symmetric key members',
  'dpop.jwk_kty': 'the proof jwk is not an EC, RSA or OKP key',
  'dpop.jwk_thumbprint': 'no RFC 7638 thumbprint can be computed for the proof jwk',
  'dpop.jti': 'the proof jti is missing or over 256 characters',
  'dpop.htm_htu_missing': 'the proof lacks htm or htu',
  'dpop.iat': 'the proof iat is missing or not a number',
  'dpop.htm_mismatch': 'the proof is for another HTTP method',
  'dpop.htu_mismatch': 'the proof is for another URL',
  'dpop.iat_future': 'the proof iat is in the future (beyond the skew)',
  'dpop.iat_stale': 'the proof iat is older than its accepted age (beyond the skew)',
  'dpop.ath_missing': 'a proof sent with an access token lacks ath',
  'dpop.ath_mismatch': 'the proof ath is the hash of another access token',
  'dpop.bad_signature': 'the proof signature does not verify with its jwk',
  'dpop.nonce_missing': 'nonces are required and the proof carries none (use_dpop_nonce)',
  'dpop.nonce_stale': 'the proof nonce is not a current server nonce (use_dpop_nonce)',
  'dpop.replayed': 'a proof jti presented a second time within its window',
  'dpop.key_mismatch': 'the proof key is not the key the token is bound to (downstream verifier)',
  'dpop.subject_key_mismatch': 'the proof key is not the key the subject token is bound to',
  'dpop.actor_key_mismatch': 'the proof key is not the key the actor token is bound to',
  'policy.none': 'no policy for this issuer and subject',
  'policy.refused': 'every policy refused the subject (see the explanation)',
  'policy.audience': 'a policy admits the subject, but not for this target',
  'policy.scope': 'a policy admits the subject and target, but not these scopes',
  'policy.session_tag_value':
    'a session tag value copied from the subject token is missing or breaks the AWS tag rules',
  insufficient_scope: 'the access token lacks a scope the route requires (downstream verifier)',
  malformed_authorization: 'the Authorization header is not one Bearer token (downstream verifier)',
  'jwks.unavailable': "a trusted issuer's discovery document or JWKS cannot be fetched (503)",
  'verifier.jwks_stale': "the STS's JWKS is older than jwksStaleIfErrorMs and cannot be refreshed (503)",
  'verifier.jwks_unavailable': "the STS's JWKS cannot be fetched (503)",
  'verifier.discovery_unavailable': "the STS's discovery document cannot be fetched (503)",
  'verifier.no_introspection_endpoint': 'the STS publishes no introspection endpoint (503)',
  'verifier.introspection_unavailable': 'introspection failed (503)',
  'verifier.revocation_unavailable': 'the table could not be read for revocation (503)',
  'kms.<operation>.unavailable': 'KMS throttled, timed out, or the key is disabled or unavailable (503)',
  'kms.<operation>.failed': 'KMS refused the call for another reason (500)',
  'kms.key.misconfigured': 'the KMS key is not an asymmetric signing key matching the algorithm (500)',
  'kms.sign.bad_signature': 'KMS returned a signature that does not decode (500)',
  'dynamodb.<operation>.unavailable': 'DynamoDB throttled, timed out or failed (503)',
  'dynamodb.<operation>.failed': 'DynamoDB refused the call for another reason (500)',
  'dynamodb.put_token.jti_exists': 'a TOKEN# item with this jti already exists (500)',
  'data_key.none_active': 'data-key mode: no data key is active yet (first rotation pending) (503)',
  'data_key.generate.bad_answer':
    'data-key rotation: GenerateDataKeyPairWithoutPlaintext answered no P-256 key pair (500)',
  'data_key.rotate.conflict': 'data-key rotation: the key ring kept changing under concurrent writers (500)',
  'data_key.decrypt.empty': 'data-key mode: Decrypt answered no plaintext (500)',
  'data_key.decrypt.not_a_key': 'data-key mode: the decrypted private key is not PKCS#8 (500)',
  'data_key.decrypt.mismatch':
    "data-key mode: a KEY# item holds a private key that is not its public key's (500)",
  'data_key.sign.unknown_kid':
    'data-key mode: asked to sign for a kid that is neither active nor previous (500)',
  'memory.put_token.jti_exists': 'the in-memory store already holds this jti (500)',
  'signer.empty_signature': 'the signer returned no bytes (500)',
  'aws_sts.unreachable': 'STS could not be reached within the deadline (503)',
  'aws_sts.throttled': 'STS throttled the GetCallerIdentity call (503)',
  'aws_sts.failed': 'STS answered 5xx (503)',
  'aws_sts.answer_too_large': 'the STS answer is over 16 KiB (503)',
  'aws_sts.answer_malformed': 'the STS answer is not the XML of a GetCallerIdentity result (503)',
  unexpected: 'an error that is not an OAuthError (500)',
} as const;

/** The code of an OAuthError made without a reason doubles as its reason. */
const ERROR_CODES = [
  'invalid_request',
  'invalid_client',
  'invalid_grant',
  'unsupported_grant_type',
  'invalid_target',
  'invalid_scope',
  'invalid_token',
  'insufficient_scope',
  'temporarily_unavailable',
  'server_error',
  'invalid_dpop_proof',
  'use_dpop_nonce',
] as const;

export type TokenCheck = keyof typeof TOKEN_CHECKS;
/** The role a presented token plays in an exchange; its refusals are prefixed with it. */
export type TokenRole = 'subject' | 'actor';
type Filled<Key extends string> = Key extends `${infer Head}<${string}>${infer Tail}`
  ? `${Head}${string}${Filled<Tail>}`
  : Key;
export type ErrorCodeReason = (typeof ERROR_CODES)[number];
/** A registered reason. */
export type Reason =
  | TokenCheck
  | `${TokenRole}_token.${TokenCheck}`
  | Filled<keyof typeof REASONS>
  | ErrorCodeReason;

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const pattern = (key: string) => escapeRegExp(key).replace(/<[a-z]+>/g, '[a-z0-9_]+');
const tokenChecks = Object.keys(TOKEN_CHECKS).join('|');
const REGISTERED = new RegExp(
  `^(?:(?:(?:subject|actor)_token\\.)?(?:${tokenChecks})|${Object.keys(REASONS).map(pattern).join('|')}|${ERROR_CODES.join('|')})$`,
);

/** Whether `value` is a registered reason. */
export function isReason(value: unknown): value is Reason {
  return typeof value === 'string' && REGISTERED.test(value);
}

/** Whether `value` is one of the token checks (for mapping a library's words onto the registry). */
export function isTokenCheck(value: string): value is TokenCheck {
  return Object.hasOwn(TOKEN_CHECKS, value);
}

/**
 * The reasons of one area, as metric filter prefixes: `reasonPrefix('kms')` is `kms.`. Throws for
 * an area the registry does not have, so a renamed area cannot leave an alarm counting nothing.
 */
export function reasonPrefix(area: string): string {
  const prefix = `${area}.`;
  if (!Object.keys(REASONS).some((key) => key.startsWith(prefix))) {
    throw new Error(`no registered reason starts with ${prefix}`);
  }
  return prefix;
}
