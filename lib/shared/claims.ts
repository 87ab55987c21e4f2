/** Claims the service sets itself; a policy's `copyClaims` can never name or overwrite them. */
export const RESERVED_CLAIMS: ReadonlySet<string> = new Set([
  'iss',
  'sub',
  'aud',
  'exp',
  'iat',
  'nbf',
  'jti',
  'client_id',
  'scope',
  'act',
  'may_act',
  'cnf',
  'azp',
  'auth_time',
  'acr',
  'amr',
  'typ',
  'nonce',
  'at_hash',
  'c_hash',
  'sid',
  'https://aws.amazon.com/tags',
]);

/** The claim AssumeRoleWithWebIdentity reads session tags from (set only by a policy's `sessionTags`). */
export const AWS_TAGS_CLAIM = 'https://aws.amazon.com/tags';

/** Public-key JWS algorithms a trusted issuer may use. Symmetric and `none` are never accepted. */
export const VERIFY_ALGORITHMS = [
  'RS256',
  'RS384',
  'RS512',
  'PS256',
  'PS384',
  'PS512',
  'ES256',
  'ES384',
  'ES512',
  'EdDSA',
] as const;
export type VerifyAlgorithm = (typeof VERIFY_ALGORITHMS)[number];

/** Algorithms this service signs with. */
export const SIGNING_ALGORITHMS = ['ES256', 'RS256', 'PS256'] as const;
export type SigningAlgorithm = (typeof SIGNING_ALGORITHMS)[number];

export const TOKEN_TYPE = {
  jwt: 'urn:ietf:params:oauth:token-type:jwt',
  accessToken: 'urn:ietf:params:oauth:token-type:access_token',
  idToken: 'urn:ietf:params:oauth:token-type:id_token',
  /** A signed STS GetCallerIdentity request (lib/shared/aws-request.ts). */
  awsRequest: 'urn:ietf:params:aws:token-type:aws4_request',
} as const;

export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';

/** The issuer name a policy uses for tokens minted by this service (chained exchange). */
export const SELF_ISSUER = 'self';
