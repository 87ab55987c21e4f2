import { TOKEN_EXCHANGE_GRANT, TOKEN_TYPE } from '../shared/claims.ts';
import { invalidRequest, invalidTarget, unsupportedGrantType } from '../shared/errors.ts';
import { type Form, formParams } from './form.ts';

/** An RFC 8693 §2.1 token exchange request, checked for shape (not yet for trust). */
export interface TokenExchangeRequest {
  readonly subjectToken: string;
  readonly subjectTokenType: string;
  readonly actorToken: string | undefined;
  readonly actorTokenType: string | undefined;
  /** The one target: `audience` or `resource`. */
  readonly target: string;
  readonly scopes: readonly string[];
  readonly issuedTokenType: string;
}

/** The parameters this grant reads (RFC 8693 §2.1); any other is ignored. */
export const TOKEN_EXCHANGE_PARAMETERS = [
  'grant_type',
  'subject_token',
  'subject_token_type',
  'actor_token',
  'actor_token_type',
  'audience',
  'resource',
  'scope',
  'requested_token_type',
] as const;

/** Every presented token must be a JWT; these are the token types that say so. */
/** Presented tokens are JWTs, or a signed AWS GetCallerIdentity request (an IAM caller). */
const JWT_TOKEN_TYPES = new Set<string>([
  TOKEN_TYPE.jwt,
  TOKEN_TYPE.accessToken,
  TOKEN_TYPE.idToken,
  TOKEN_TYPE.awsRequest,
]);
const ISSUABLE_TOKEN_TYPES = new Set<string>([TOKEN_TYPE.accessToken, TOKEN_TYPE.jwt]);
const SCOPE = /^[\x21\x23-\x5B\x5D-\x7E]+( [\x21\x23-\x5B\x5D-\x7E]+)*$/;

const missing = (name: string) =>
  invalidRequest(`parameter ${name} is required`, { reason: `request.missing_${name}` });

/** Checks an absolute URI without a fragment (RFC 8707 §2 for `resource`). */
function isAbsoluteUri(text: string): boolean {
  try {
    return !new URL(text).hash && !text.includes('#');
  } catch {
    return false;
  }
}

/**
 * Parses a token endpoint form. Only the parameters above are read; any other parameter
 * (`client_id` of a public client, for one) is ignored, as RFC 6749 §3.2 requires.
 */
export function parseTokenExchangeRequest(form: Form): TokenExchangeRequest {
  const p = formParams(form, TOKEN_EXCHANGE_PARAMETERS);
  if (!p.grant_type) throw missing('grant_type');
  if (p.grant_type !== TOKEN_EXCHANGE_GRANT) {
    throw unsupportedGrantType('grant_type is not supported', { reason: 'request.grant_type' });
  }
  if (!p.subject_token) throw missing('subject_token');
  if (!p.subject_token_type) throw missing('subject_token_type');
  if (!JWT_TOKEN_TYPES.has(p.subject_token_type)) {
    throw invalidRequest('subject_token_type is not supported', { reason: 'request.subject_token_type' });
  }
  if (p.actor_token && !p.actor_token_type) throw missing('actor_token_type');
  if (p.actor_token_type && !p.actor_token) throw missing('actor_token');
  if (p.actor_token_type && !JWT_TOKEN_TYPES.has(p.actor_token_type)) {
    throw invalidRequest('actor_token_type is not supported', { reason: 'request.actor_token_type' });
  }
  if (p.requested_token_type && !ISSUABLE_TOKEN_TYPES.has(p.requested_token_type)) {
    throw invalidRequest('requested_token_type is not supported', { reason: 'request.requested_token_type' });
  }
  if (p.audience && p.resource) {
    throw invalidTarget('exactly one of audience or resource may be given', {
      reason: 'request.two_targets',
    });
  }
  const target = p.audience ?? p.resource;
  if (!target)
    throw invalidRequest('parameter audience or resource is required', { reason: 'request.missing_target' });
  if (p.resource && !isAbsoluteUri(p.resource)) {
    throw invalidTarget('resource must be an absolute URI without a fragment', {
      reason: 'request.resource_uri',
    });
  }
  if (p.scope !== undefined && !SCOPE.test(p.scope)) {
    throw invalidRequest('scope is malformed', { reason: 'request.scope_syntax' });
  }
  return {
    subjectToken: p.subject_token,
    subjectTokenType: p.subject_token_type,
    actorToken: p.actor_token,
    actorTokenType: p.actor_token_type,
    target,
    scopes: p.scope ? [...new Set(p.scope.split(' '))] : [],
    issuedTokenType: p.requested_token_type ?? TOKEN_TYPE.accessToken,
  };
}
