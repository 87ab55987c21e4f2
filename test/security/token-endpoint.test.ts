import { decodeJwt } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { MemoryStore } from '../../lib/stores/memory.ts';
import { type HostileIssuer, startHostileIssuer } from '../support/hostile-issuer.ts';
import {
  ACCESS_TOKEN,
  API,
  EXCHANGE,
  expectOAuthError,
  form,
  type Harness,
  type HttpAnswer,
  ID_TOKEN,
  JWT,
  REPORTS,
  securityConfig,
  startHarness,
} from '../support/sts-harness.ts';

/**
 * Hostile requests to POST /token over real HTTP (local server, same handlers as Lambda): each is
 * refused with its exact status and `error`, and no refusal ever records a token.
 */
let ext: HostileIssuer;
let harness: Harness;
const store = new MemoryStore();
let recorded = 0;

beforeAll(async () => {
  ext = await startHostileIssuer();
  harness = await startHarness({ config: securityConfig(ext), store });
});

afterAll(async () => {
  await harness?.close();
  await ext?.close();
});

beforeEach(() => {
  recorded = store.tokens.size;
});

/** The refusal, and no TOKEN# record written for it. */
function expectRefused(answer: HttpAnswer, status: number, error: string): void {
  expectOAuthError(answer, status, error);
  expect(store.tokens.size).toBe(recorded);
}

/** A 200 with an access token whose jti was recorded. */
function expectIssued(answer: HttpAnswer): Record<string, unknown> {
  expect(answer.status, answer.text).toBe(200);
  const claims = decodeJwt(String(answer.body?.access_token));
  expect(store.tokens.has(String(claims.jti))).toBe(true);
  recorded++;
  expect(store.tokens.size).toBe(recorded);
  return claims;
}

const valid = (extra: Record<string, string> = {}) => ({
  grant_type: EXCHANGE,
  subject_token: ext.token(),
  subject_token_type: JWT,
  audience: API,
  ...extra,
});
const without = (params: Record<string, string>, name: string) =>
  Object.fromEntries(Object.entries(params).filter(([key]) => key !== name));
const post = (body: string | Uint8Array | undefined, contentType?: string | null) =>
  harness.request(body, contentType === undefined ? {} : { contentType });

describe('the control', () => {
  it('a well-formed request for an allowed target and scope is answered 200', async () => {
    const claims = expectIssued(await post(form(valid({ scope: 'read' }))));
    expect(claims).toMatchObject({ sub: 'user:alice', aud: API, scope: 'read', client_id: 'users' });
  });
});

describe('missing, empty and duplicated parameters: 400 invalid_request', () => {
  it.each(['grant_type', 'subject_token', 'subject_token_type', 'audience'])('missing %s', async (name) => {
    const answer = await post(form(without(valid(), name)));
    expectRefused(answer, 400, 'invalid_request');
  });

  it.each(['grant_type', 'subject_token', 'subject_token_type', 'audience'])('empty %s', async (name) => {
    expectRefused(await post(form({ ...valid(), [name]: '' })), 400, 'invalid_request');
  });

  const actor = () => ({ actor_token: ext.token({ claims: { sub: 'service:ci' } }), actor_token_type: JWT });
  it.each([
    ['grant_type', () => valid()],
    ['subject_token', () => valid()],
    ['subject_token_type', () => valid()],
    ['audience', () => valid()],
    ['resource', () => ({ ...without(valid(), 'audience'), resource: API })],
    ['scope', () => valid({ scope: 'read' })],
    ['requested_token_type', () => valid({ requested_token_type: ACCESS_TOKEN })],
    ['actor_token', () => ({ ...valid(), ...actor() })],
    ['actor_token_type', () => ({ ...valid(), ...actor() })],
  ] as const)('%s sent twice (same value)', async (name, params) => {
    const base = params() as Record<string, string>;
    const body = `${form(base)}&${form({ [name]: base[name]! })}`;
    expectRefused(await post(body), 400, 'invalid_request');
  });

  it('a parameter sent twice with different values (audience=a&audience=b)', async () => {
    expectRefused(await post(`${form(valid())}&${form({ audience: REPORTS })}`), 400, 'invalid_request');
  });

  it('a parameter repeated under a percent-encoded name (subject%5Ftoken) is a duplicate', async () => {
    const body = `${form(valid())}&subject%5Ftoken=${encodeURIComponent(ext.token({ claims: { sub: 'user:mallory' } }))}`;
    expectRefused(await post(body), 400, 'invalid_request');
  });

  it('a repeated parameter whose second value is empty is still a duplicate', async () => {
    expectRefused(await post(`${form(valid())}&subject_token=`), 400, 'invalid_request');
  });
});

describe('unknown parameters are ignored (RFC 6749 §3.2)', () => {
  it('client_id, client_secret, unknown, repeated unknown and oddly named parameters change nothing', async () => {
    const body = [
      form(valid({ scope: 'read' })),
      form({ client_id: 'evil-client', client_secret: 's3cret', response_type: 'code', foo: 'bar' }),
      'foo=again&GRANT_TYPE=password&subject_token%5B%5D=x&__proto__=x&constructor=x&x=1&x=2&lone',
    ].join('&');
    const claims = expectIssued(await post(body));
    expect(claims).toMatchObject({ client_id: 'users', aud: API, scope: 'read' });
    expect(claims).not.toHaveProperty('foo');
  });
});

describe('content type, method, path and body shape', () => {
  it.each([
    ['application/json', JSON.stringify({ grant_type: EXCHANGE })],
    ['text/plain', form({ grant_type: EXCHANGE })],
    [
      'multipart/form-data; boundary=x',
      '--x\r\nContent-Disposition: form-data; name="grant_type"\r\n\r\nx\r\n--x--',
    ],
    ['application/x-www-form-urlencoded; charset=iso-8859-1', form({ grant_type: EXCHANGE })],
    ['application/x-www-form-urlencodedx', form({ grant_type: EXCHANGE })],
    ['application/x-www-form-urlencoded, application/json', form({ grant_type: EXCHANGE })],
    ['application/xml', '<grant_type/>'],
  ])('Content-Type %s: 400 invalid_request', async (contentType, body) => {
    expectRefused(await post(body, contentType), 400, 'invalid_request');
  });

  it('no Content-Type header at all: 400 invalid_request', async () => {
    expectRefused(await post(new TextEncoder().encode(form(valid())), null), 400, 'invalid_request');
  });

  it.each(['application/x-www-form-urlencoded; charset=UTF-8', 'APPLICATION/X-WWW-FORM-URLENCODED'])(
    'Content-Type %s is the form type (control)',
    async (contentType) => {
      expectIssued(await post(form(valid()), contentType));
    },
  );

  it('a JSON document sent as a form: 400 invalid_request', async () => {
    const body = JSON.stringify({ ...valid() });
    expectRefused(await post(body), 400, 'invalid_request');
  });

  it.each(['GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'])(
    '%s /token: 404 {"message":"Not Found"}, as API Gateway answers an unmatched route',
    async (method) => {
      const answer = await harness.request(undefined, { method, path: `/token?${form(valid())}` });
      expect(answer.status).toBe(404);
      expect(answer.body).toEqual({ message: 'Not Found' });
      expect(store.tokens.size).toBe(recorded);
    },
  );

  it('HEAD /token: 404 without a body', async () => {
    const answer = await harness.request(undefined, { method: 'HEAD' });
    expect(answer.status).toBe(404);
    expect(answer.text).toBe('');
  });

  it.each(['/token/', '/Token', '/token.json', '/%74oken', '//token'])('POST %s: 404', async (path) => {
    const answer = await harness.request(form(valid()), { path });
    expect(answer.status).toBe(404);
    expect(store.tokens.size).toBe(recorded);
  });

  it('parameters in the query string are not read: 400 invalid_request', async () => {
    const answer = await harness.request('', { path: `/token?${form(valid())}` });
    expectRefused(answer, 400, 'invalid_request');
  });

  it('an empty body: 400 invalid_request', async () => {
    expectRefused(await post(''), 400, 'invalid_request');
  });

  it('no body and no Content-Type: 400 invalid_request', async () => {
    expectRefused(await post(undefined, null), 400, 'invalid_request');
  });

  it('a 1 MB body: 413 invalid_request', async () => {
    const answer = await post(`${form(valid())}&pad=${'a'.repeat(1024 * 1024)}`);
    expectRefused(answer, 413, 'invalid_request');
  });

  it('a body one byte over 64 KiB: 413 invalid_request', async () => {
    const head = `${form(valid())}&pad=`;
    expectRefused(await post(head + 'a'.repeat(64 * 1024 + 1 - head.length)), 413, 'invalid_request');
  });

  it('a body of exactly 64 KiB is read (control)', async () => {
    const head = `${form(valid())}&pad=`;
    expectIssued(await post(head + 'a'.repeat(64 * 1024 - head.length)));
  });

  it('a UTF-8 byte-order mark before the body is dropped by the decoder, as the WHATWG decoder does (control)', async () => {
    expectIssued(
      await post(
        new Uint8Array(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(form(valid()))])),
      ),
    );
  });

  it('a subject_token over maxTokenBytes (16 KiB) in a body under 64 KiB: 400 invalid_request', async () => {
    const huge = ext.token({ claims: { pad: 'x'.repeat(20_000) } });
    expectRefused(await post(form(valid({ subject_token: huge }))), 400, 'invalid_request');
  });

  const bytes = (...parts: Array<string | number[]>) =>
    Buffer.concat(parts.map((part) => (typeof part === 'string' ? Buffer.from(part) : Buffer.from(part))));
  it.each([
    ['only separators', () => '&&&&&&'],
    ['a lone "="', () => '='],
    ['empty keys and values', () => '==&=&&=='],
    ['a lone "%"', () => '%'],
    ['a malformed escape %zz', () => `${form(valid())}&x=%zz`],
    ['a truncated escape', () => `grant_type=${encodeURIComponent(EXCHANGE)}%E0%A4%A`],
    ['a percent-encoded byte that is not UTF-8 (%C3%28)', () => `${form(valid())}&x=%C3%28`],
    ['raw bytes that are not UTF-8', () => bytes(form(valid()), '&x=', [0xff, 0xfe, 0xc0, 0xaf])],
    ['an overlong UTF-8 sequence', () => bytes(form(valid()), '&x=', [0xc0, 0xaf])],
    ['a UTF-8 encoded lone surrogate', () => bytes(form(valid()), '&x=', [0xed, 0xa0, 0x80])],
    ['a NUL inside subject_token', () => form(valid({ subject_token: `${ext.token()}\0` }))],
    ['keys without "="', () => 'grant_type&subject_token&subject_token_type&audience'],
    ['a value with "=" in it', () => `${form(without(valid(), 'subject_token'))}&subject_token=a=b=c`],
    ['60 KB of separators', () => '&'.repeat(60_000)],
    ['a 60 KB key', () => `${'k'.repeat(60_000)}=v`],
    ['5000 repeats of one unknown key', () => 'x=1&'.repeat(5000)],
    ['bracketed keys (no nested parsing)', () => 'subject_token[a][b]=x&grant_type[]=y&audience[0]=z'],
    ['UTF-16 text', () => Buffer.from(form(valid()), 'utf16le')],
    ['a whitespace-padded token', () => form(valid({ subject_token: ` ${ext.token()}\n` }))],
  ])('odd body: %s: 400 invalid_request', async (_name, make) => {
    const body = make();
    expectRefused(await post(typeof body === 'string' ? body : new Uint8Array(body)), 400, 'invalid_request');
  });
});

describe('grant type and token types', () => {
  it.each([
    'client_credentials',
    'authorization_code',
    'refresh_token',
    'password',
    'urn:ietf:params:oauth:grant-type:jwt-bearer',
    'URN:IETF:PARAMS:OAUTH:GRANT-TYPE:TOKEN-EXCHANGE',
    `${EXCHANGE} `,
    `${EXCHANGE}\0`,
  ])('grant_type %j: 400 unsupported_grant_type', async (grantType) => {
    expectRefused(await post(form({ ...valid(), grant_type: grantType })), 400, 'unsupported_grant_type');
  });

  it.each([
    'urn:ietf:params:oauth:token-type:saml1',
    'urn:ietf:params:oauth:token-type:saml2',
    'urn:ietf:params:oauth:token-type:refresh_token',
    'urn:ietf:params:oauth:token-type:JWT',
    `${JWT} `,
    'jwt',
  ])('subject_token_type %j: 400 invalid_request', async (type) => {
    expectRefused(await post(form(valid({ subject_token_type: type }))), 400, 'invalid_request');
  });

  it.each(['urn:ietf:params:oauth:token-type:saml2', 'urn:ietf:params:oauth:token-type:refresh_token'])(
    'actor_token_type %j: 400 invalid_request',
    async (type) => {
      const actor = ext.token({ claims: { sub: 'service:ci' } });
      const answer = await post(form(valid({ actor_token: actor, actor_token_type: type })));
      expectRefused(answer, 400, 'invalid_request');
    },
  );

  it.each([
    ID_TOKEN,
    'urn:ietf:params:oauth:token-type:refresh_token',
    'urn:ietf:params:oauth:token-type:saml2',
  ])('requested_token_type %j: 400 invalid_request', async (type) => {
    expectRefused(await post(form(valid({ requested_token_type: type }))), 400, 'invalid_request');
  });

  it('actor_token without actor_token_type: 400 invalid_request', async () => {
    const actor = ext.token({ claims: { sub: 'service:ci' } });
    expectRefused(await post(form(valid({ actor_token: actor }))), 400, 'invalid_request');
  });

  it('actor_token_type without actor_token: 400 invalid_request', async () => {
    expectRefused(await post(form(valid({ actor_token_type: JWT }))), 400, 'invalid_request');
  });
});

describe('targets: invalid_target', () => {
  it('audience and resource together (even equal): 400 invalid_target', async () => {
    expectRefused(await post(form(valid({ resource: API }))), 400, 'invalid_target');
    expectRefused(await post(form(valid({ resource: REPORTS }))), 400, 'invalid_target');
  });

  it.each([
    ['an audience no policy lists', { audience: 'https://evil.example' }],
    ['an allowed audience with a trailing slash', { audience: `${API}/` }],
    ['an allowed audience in another case', { audience: API.toUpperCase() }],
    ['a resource no policy lists', { resource: 'https://evil.example/api' }],
    ['a relative resource', { resource: '/api' }],
    ['a resource with a fragment', { resource: `${API}#frag` }],
    ['a resource that is not a URI', { resource: 'not a uri' }],
  ])('%s: 400 invalid_target', async (_name, target) => {
    const params = { ...without(valid(), 'audience'), ...target };
    expectRefused(await post(form(params)), 400, 'invalid_target');
  });

  it("an audience another subject's policy allows, but not this subject's: 400 invalid_target", async () => {
    const token = ext.token({ claims: { sub: 'narrow:bob' } });
    expectRefused(
      await post(form(valid({ subject_token: token, audience: REPORTS }))),
      400,
      'invalid_target',
    );
  });
});

describe('scopes: invalid_scope', () => {
  it.each([
    ['a scope no policy lists', 'user', 'admin'],
    ['an allowed scope with one that is not', 'user', 'read admin'],
    ['a scope the matching policy does not grant', 'narrow', 'write'],
  ])('%s: 400 invalid_scope', async (_name, who, scope) => {
    const token = ext.token({ claims: { sub: who === 'user' ? 'user:alice' : 'narrow:bob' } });
    expectRefused(await post(form(valid({ subject_token: token, scope }))), 400, 'invalid_scope');
  });

  it('a chained exchange asking wider than the subject token: 400 invalid_scope', async () => {
    const first = expectIssued(await post(form(valid({ audience: harness.sts.url, scope: 'read' }))));
    expect(first.scope).toBe('read');
    const own = await post(form(valid({ audience: harness.sts.url, scope: 'read' })));
    expectIssued(own);
    const chained = (scope: string) =>
      post(
        form({
          grant_type: EXCHANGE,
          subject_token: String(own.body?.access_token),
          subject_token_type: ACCESS_TOKEN,
          audience: REPORTS,
          scope,
        }),
      );
    expectRefused(await chained('read write'), 400, 'invalid_scope');
    expectRefused(await chained('write'), 400, 'invalid_scope');
    expect(expectIssued(await chained('read')).scope).toBe('read'); // control: narrowing works
  });

  it.each([
    ['two spaces', 'read  write'],
    ['a leading space', ' read'],
    ['a double quote', 'read"'],
    ['a backslash', 'read\\'],
    ['a control character', 'read\u0001'],
  ])('a malformed scope (%s): 400 invalid_request', async (_name, scope) => {
    expectRefused(await post(form(valid({ scope }))), 400, 'invalid_request');
  });
});
