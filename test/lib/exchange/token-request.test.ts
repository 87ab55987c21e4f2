import { describe, expect, it } from 'vitest';
import { parseForm } from '../../../lib/exchange/form.ts';
import { parseTokenExchangeRequest } from '../../../lib/exchange/token-request.ts';
import { TOKEN_EXCHANGE_GRANT, TOKEN_TYPE } from '../../../lib/shared/claims.ts';
import { OAuthError } from '../../../lib/shared/errors.ts';
import rfc8693 from '../../vectors/rfc8693.json' with { type: 'json' };

const FORM = 'application/x-www-form-urlencoded';

/** A valid request's parameters, with `overrides` applied (undefined removes a parameter). */
function params(overrides: Record<string, string | undefined> = {}): Array<[string, string]> {
  const all: Record<string, string | undefined> = {
    grant_type: TOKEN_EXCHANGE_GRANT,
    subject_token: 'header.payload.signature',
    subject_token_type: TOKEN_TYPE.jwt,
    audience: 'https://api.test',
    ...overrides,
  };
  return Object.entries(all).filter((entry): entry is [string, string] => entry[1] !== undefined);
}

/** Parses an encoded form body, as the handler does. */
const parse = (body: string) => parseTokenExchangeRequest(parseForm(Buffer.from(body), FORM));
const encode = (pairs: Array<[string, string]>) => new URLSearchParams(pairs).toString();

function refusal(body: string): OAuthError {
  try {
    parse(body);
  } catch (error) {
    expect(error).toBeInstanceOf(OAuthError);
    return error as OAuthError;
  }
  throw new Error('expected the request to be refused');
}

describe('parseTokenExchangeRequest', () => {
  it('parses the RFC 8693 §2.3 example request', () => {
    const { body, parsed } = rfc8693.tokenExchangeRequest;
    expect(parse(body)).toEqual({
      subjectToken: parsed.subject_token,
      subjectTokenType: parsed.subject_token_type,
      actorToken: undefined,
      actorTokenType: undefined,
      target: parsed.resource,
      scopes: [],
      issuedTokenType: TOKEN_TYPE.accessToken,
    });
  });

  it('parses a full delegation request', () => {
    const request = parse(
      encode(
        params({
          actor_token: 'a.b.c',
          actor_token_type: TOKEN_TYPE.accessToken,
          scope: 'deploy:read deploy:write',
          requested_token_type: TOKEN_TYPE.jwt,
        }),
      ),
    );
    expect(request).toEqual({
      subjectToken: 'header.payload.signature',
      subjectTokenType: TOKEN_TYPE.jwt,
      actorToken: 'a.b.c',
      actorTokenType: TOKEN_TYPE.accessToken,
      target: 'https://api.test',
      scopes: ['deploy:read', 'deploy:write'],
      issuedTokenType: TOKEN_TYPE.jwt,
    });
  });

  it.each([
    ['client_id of a public client', { client_id: 'cli' }],
    ['an unknown extension', { foo: 'bar' }],
    ['a repeated unknown parameter', { x: '1' }],
  ])('ignores %s', (_what, extra) => {
    const body = `${encode([...params(), ...Object.entries(extra)])}&x=2`;
    expect(parse(body).target).toBe('https://api.test');
  });

  it.each([
    ['absent', undefined, []],
    ['empty', '', []],
    ['one', 'read', ['read']],
    ['several, in order', 'b a c', ['b', 'a', 'c']],
    ['duplicates collapse', 'read write read', ['read', 'write']],
    ['every allowed character', '!#[]~:/-_.', ['!#[]~:/-_.']],
  ])('scope %s', (_what, scope, scopes) => {
    expect(parse(encode(params({ scope }))).scopes).toEqual(scopes);
  });

  it.each([
    ['absent', undefined, TOKEN_TYPE.accessToken],
    ['access_token', TOKEN_TYPE.accessToken, TOKEN_TYPE.accessToken],
    ['jwt', TOKEN_TYPE.jwt, TOKEN_TYPE.jwt],
  ])('requested_token_type %s', (_what, requested, issued) => {
    expect(parse(encode(params({ requested_token_type: requested }))).issuedTokenType).toBe(issued);
  });

  it.each([TOKEN_TYPE.jwt, TOKEN_TYPE.accessToken, TOKEN_TYPE.idToken])(
    'accepts subject_token_type %s',
    (type) => {
      expect(parse(encode(params({ subject_token_type: type }))).subjectTokenType).toBe(type);
    },
  );

  it.each([
    ['an absolute https URI', 'https://backend.example.com/api?x=1'],
    ['a URN', 'urn:example:api'],
  ])('accepts a resource that is %s', (_what, resource) => {
    expect(parse(encode(params({ audience: undefined, resource }))).target).toBe(resource);
  });

  it('accepts any audience string (a logical name)', () => {
    expect(parse(encode(params({ audience: 'billing' }))).target).toBe('billing');
  });

  // [what, body, code, reason]
  const refusals: ReadonlyArray<readonly [string, string, string, string]> = [
    [
      'missing grant_type',
      encode(params({ grant_type: undefined })),
      'invalid_request',
      'request.missing_grant_type',
    ],
    ['empty grant_type', encode(params({ grant_type: '' })), 'invalid_request', 'request.missing_grant_type'],
    [
      'another grant_type',
      encode(params({ grant_type: 'client_credentials' })),
      'unsupported_grant_type',
      'request.grant_type',
    ],
    [
      'the grant_type in another case',
      encode(params({ grant_type: TOKEN_EXCHANGE_GRANT.toUpperCase() })),
      'unsupported_grant_type',
      'request.grant_type',
    ],
    [
      'missing subject_token',
      encode(params({ subject_token: undefined })),
      'invalid_request',
      'request.missing_subject_token',
    ],
    [
      'missing subject_token_type',
      encode(params({ subject_token_type: undefined })),
      'invalid_request',
      'request.missing_subject_token_type',
    ],
    [
      'a SAML subject_token_type',
      encode(params({ subject_token_type: 'urn:ietf:params:oauth:token-type:saml2' })),
      'invalid_request',
      'request.subject_token_type',
    ],
    [
      'a refresh_token subject_token_type',
      encode(params({ subject_token_type: 'urn:ietf:params:oauth:token-type:refresh_token' })),
      'invalid_request',
      'request.subject_token_type',
    ],
    [
      'actor_token without actor_token_type',
      encode(params({ actor_token: 'a.b.c' })),
      'invalid_request',
      'request.missing_actor_token_type',
    ],
    [
      'actor_token_type without actor_token',
      encode(params({ actor_token_type: TOKEN_TYPE.jwt })),
      'invalid_request',
      'request.missing_actor_token',
    ],
    [
      'an unsupported actor_token_type',
      encode(params({ actor_token: 'a.b.c', actor_token_type: 'urn:ietf:params:oauth:token-type:saml1' })),
      'invalid_request',
      'request.actor_token_type',
    ],
    [
      'requested_token_type id_token',
      encode(params({ requested_token_type: TOKEN_TYPE.idToken })),
      'invalid_request',
      'request.requested_token_type',
    ],
    [
      'requested_token_type refresh_token',
      encode(params({ requested_token_type: 'urn:ietf:params:oauth:token-type:refresh_token' })),
      'invalid_request',
      'request.requested_token_type',
    ],
    [
      'audience and resource',
      encode(params({ resource: 'https://api.test' })),
      'invalid_target',
      'request.two_targets',
    ],
    [
      'no audience nor resource',
      encode(params({ audience: undefined })),
      'invalid_request',
      'request.missing_target',
    ],
    [
      'a relative resource',
      encode(params({ audience: undefined, resource: '/api' })),
      'invalid_target',
      'request.resource_uri',
    ],
    [
      'a resource without a scheme',
      encode(params({ audience: undefined, resource: 'backend.example.com/api' })),
      'invalid_target',
      'request.resource_uri',
    ],
    [
      'a resource with a fragment',
      encode(params({ audience: undefined, resource: 'https://api.test/#x' })),
      'invalid_target',
      'request.resource_uri',
    ],
    [
      'a resource with an empty fragment',
      encode(params({ audience: undefined, resource: 'https://api.test/#' })),
      'invalid_target',
      'request.resource_uri',
    ],
    [
      'a leading space in scope',
      encode(params({ scope: ' read' })),
      'invalid_request',
      'request.scope_syntax',
    ],
    [
      'a trailing space in scope',
      encode(params({ scope: 'read ' })),
      'invalid_request',
      'request.scope_syntax',
    ],
    [
      'two spaces in scope',
      encode(params({ scope: 'read  write' })),
      'invalid_request',
      'request.scope_syntax',
    ],
    ['a tab in scope', encode(params({ scope: 'read\twrite' })), 'invalid_request', 'request.scope_syntax'],
    ['a quote in scope', encode(params({ scope: 'say"hi' })), 'invalid_request', 'request.scope_syntax'],
    ['a backslash in scope', encode(params({ scope: 'a\\b' })), 'invalid_request', 'request.scope_syntax'],
    ['non-ASCII in scope', encode(params({ scope: 'lecture-é' })), 'invalid_request', 'request.scope_syntax'],
    ['malformed percent-encoding', `${encode(params())}&scope=%zz`, 'invalid_request', 'request.encoding'],
    [
      'percent-encoded bytes that are not UTF-8',
      `${encode(params())}&scope=%FF`,
      'invalid_request',
      'request.encoding',
    ],
  ];

  it.each(refusals)('refuses %s', (_what, body, code, reason) => {
    const error = refusal(body);
    expect([error.code, error.status, error.reason]).toEqual([code, 400, reason]);
  });

  it.each([
    'grant_type',
    'subject_token',
    'subject_token_type',
    'actor_token',
    'actor_token_type',
    'audience',
    'resource',
    'scope',
    'requested_token_type',
  ])('refuses %s sent twice', (name) => {
    const body = `${encode(params({ actor_token: 'a.b.c', actor_token_type: TOKEN_TYPE.jwt }))}&${name}=x&${name}=x`;
    const error = refusal(body);
    expect([error.code, error.reason]).toEqual(['invalid_request', `request.duplicate_${name}`]);
  });

  it('refuses a known parameter sent twice with the same value', () => {
    const body = `${encode(params())}&audience=https%3A%2F%2Fapi.test`;
    expect(refusal(body).reason).toBe('request.duplicate_audience');
  });
});
