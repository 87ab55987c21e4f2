import type { KeyObject } from 'node:crypto';
import type { JWK } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { OAuthError, temporarilyUnavailable } from '../../../lib/shared/errors.ts';
import { isHighS, P256_ORDER } from '../../../lib/shared/low-s.ts';
import { createLocalSigner, generateSigningKey } from '../../../lib/signers/local.ts';
import type { Signer } from '../../../lib/signers/signer.ts';
import { MemoryStore } from '../../../lib/stores/memory.ts';
import type { TokenStore } from '../../../lib/stores/store.ts';
import {
  type AccessTokenVerifier,
  createAccessTokenVerifier,
  hasScope,
  type VerifierOptions,
} from '../../../lib/verify/verifier.ts';
import { type FrozenClock, frozenClock } from '../../support/clock.ts';
import { API_AUDIENCE, buildConfig, STS_ISSUER } from '../../support/config.ts';
import { createFakeFetch, type FakeFetch, jsonResponse, unreachable } from '../../support/fetch.ts';
import { signCompact, testSigner } from '../../support/keys.ts';
import { issueSelfToken, type SelfTokenOptions } from '../../support/self-token.ts';
import { type OpenedStore, STORE_KINDS } from '../../support/token-stores.ts';

const DISCOVERY = `${STS_ISSUER}/.well-known/openid-configuration`;
const JWKS = `${STS_ISSUER}/.well-known/jwks.json`;
const INTROSPECT = `${STS_ISSUER}/introspect`;
const config = buildConfig();

let clock: FrozenClock;
let key: KeyObject;
let signer: Signer;
let store: MemoryStore;
let fake: FakeFetch;
let published: JWK[];

async function serveSts(): Promise<void> {
  fake = createFakeFetch();
  published = [...(await signer.publicKeys())];
  fake.on(
    DISCOVERY,
    jsonResponse({ issuer: STS_ISSUER, jwks_uri: JWKS, introspection_endpoint: INTROSPECT }),
  );
  fake.on(JWKS, () => Response.json({ keys: published }));
}

beforeAll(async () => {
  key = generateSigningKey('ES256');
  signer = await createLocalSigner(key, 'ES256');
});

beforeEach(async () => {
  clock = frozenClock();
  store = new MemoryStore();
  await serveSts();
});

const issue = (options: SelfTokenOptions = {}, using: Signer = signer) =>
  issueSelfToken(
    { config, signer: using, store, clock },
    { aud: API_AUDIENCE, scope: 'read write', iat: clock.seconds(), ...options },
  );

const verifierWith = (options: Partial<VerifierOptions> = {}): AccessTokenVerifier =>
  createAccessTokenVerifier({
    issuer: STS_ISSUER,
    audience: API_AUDIENCE,
    clock,
    fetch: fake.fetch,
    ...options,
  });

async function failure(promise: Promise<unknown>): Promise<OAuthError> {
  const error = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(OAuthError);
  return error as OAuthError;
}

describe('hasScope', () => {
  it.each([
    ['read write', 'read', true],
    ['read write', 'write', true],
    ['read write', 'rea', false],
    ['reader', 'read', false],
    ['pre-read read', 'read', true],
    ['deploy:read', 'read', false],
    ['', 'read', false],
    [undefined, 'read', false],
    ['read', '', false],
  ])('hasScope(%j, %j) is %s', (scope, wanted, expected) => {
    expect(hasScope(scope, wanted)).toBe(expected);
  });
});

describe('createAccessTokenVerifier', () => {
  it('verifies a token and returns its claims', async () => {
    const { token, jti } = await issue({ sub: 'alice', act: { sub: 'service:ci' } });
    const claims = await verifierWith().verify(token);
    expect(claims).toMatchObject({
      iss: STS_ISSUER,
      sub: 'alice',
      aud: API_AUDIENCE,
      jti,
      scope: 'read write',
      act: { sub: 'service:ci' },
    });
  });

  it('refuses the high-S spelling of a genuine ES256 signature, as the STS does (high_s)', async () => {
    const { token } = await issue();
    const signature = Buffer.from(token.slice(token.lastIndexOf('.') + 1), 'base64url');
    const s = BigInt(`0x${signature.subarray(32).toString('hex')}`);
    const twin = `${token.slice(0, token.lastIndexOf('.'))}.${Buffer.concat([
      signature.subarray(0, 32),
      Buffer.from((P256_ORDER - s).toString(16).padStart(64, '0'), 'hex'),
    ]).toString('base64url')}`;
    expect(isHighS(Buffer.from(twin.slice(twin.lastIndexOf('.') + 1), 'base64url'))).toBe(true);
    const verifier = verifierWith();
    await expect(verifier.verify(token)).resolves.toBeDefined();
    const error = await failure(verifier.verify(twin));
    expect([error.code, error.reason]).toEqual(['invalid_token', 'high_s']);
  });

  it('refuses other spellings of a genuine signature, which cannot get the token cached as revoked', async () => {
    const { token } = await issue();
    // Like the STS: only the token as it was issued is active.
    const verifier = verifierWith({ revocation: { via: async (presented) => presented === token } });
    const dot = token.lastIndexOf('.');
    const signature = token.slice(dot + 1);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const last = alphabet[alphabet.indexOf(signature.at(-1)!) ^ 1]!;
    const spellings = [
      `${token.slice(0, -1)}${last}`, // a stray bit the decoder drops
      `${token.slice(0, dot + 11)} ${token.slice(dot + 11)}`, // white space it skips
      `${token}==`, // padding
    ];
    for (const spelling of spellings) {
      const error = await failure(verifier.verify(spelling));
      expect([error.code, error.reason]).toEqual(['invalid_token', 'malformed']);
    }
    await expect(verifier.verify(token)).resolves.toBeDefined();
  });

  it('reads discovery and the JWKS once for many verifications', async () => {
    const verifier = verifierWith();
    const { token } = await issue();
    await Promise.all(Array.from({ length: 20 }, () => verifier.verify(token)));
    for (let i = 0; i < 20; i++) await verifier.verify(token);
    expect(fake.count(DISCOVERY)).toBe(1);
    expect(fake.count(JWKS)).toBe(1);
  });

  it('skips discovery when jwksUri is given, and fetches keys at ready()', async () => {
    const verifier = verifierWith({ jwksUri: JWKS });
    await verifier.ready();
    expect(fake.calls).toEqual([JWKS]);
    await verifier.verify((await issue()).token);
    expect(fake.calls).toEqual([JWKS]);
  });

  it('accepts RS256 and PS256 tokens when the STS signs with them', async () => {
    for (const alg of ['RS256', 'PS256'] as const) {
      const rsa = await testSigner(alg);
      published = [...(await rsa.publicKeys())];
      const { token } = await issue({}, rsa);
      await expect(verifierWith().verify(token)).resolves.toMatchObject({ iss: STS_ISSUER });
    }
  });

  describe('refuses with invalid_token (401)', () => {
    const cases: Array<[string, () => Promise<string>, Partial<VerifierOptions>?]> = [
      ['another audience', async () => (await issue({ aud: 'https://other.test' })).token],
      [
        'an expired token',
        async () => {
          const { token } = await issue({ lifetime: 60 });
          clock.advance(60 + 31);
          return token;
        },
      ],
      ['a token not yet valid', async () => (await issue({ iat: clock.seconds() + 120 })).token],
      ['a token signed by an unpublished key', async () => (await issue({}, await testSigner())).token],
      [
        'another issuer',
        async () => {
          const now = clock.seconds();
          const kid = (await signer.activeKey()).kid;
          const payload = {
            iss: 'https://evil.test',
            sub: 'a',
            aud: API_AUDIENCE,
            iat: now,
            exp: now + 60,
            jti: 'j',
            client_id: 'c',
          };
          return signCompact({ alg: 'ES256', kid, typ: 'at+jwt' }, payload, key);
        },
      ],
      [
        'typ JWT',
        async () => {
          const { claims } = await issue();
          const kid = (await signer.activeKey()).kid;
          return signCompact({ alg: 'ES256', kid, typ: 'JWT' }, claims as Record<string, unknown>, key);
        },
      ],
      [
        'a missing client_id',
        async () => {
          const { claims } = await issue();
          const { client_id: _dropped, ...rest } = claims as Record<string, unknown>;
          const kid = (await signer.activeKey()).kid;
          return signCompact({ alg: 'ES256', kid, typ: 'at+jwt' }, rest, key);
        },
      ],
      ['an alg outside the pinned list', async () => (await issue()).token, { algorithms: ['RS256'] }],
      [
        'a header without kid',
        async () => {
          const { claims } = await issue();
          return signCompact({ alg: 'ES256', typ: 'at+jwt' }, claims as Record<string, unknown>, key);
        },
      ],
      ['garbage', async () => 'not.a.token'],
      ['an oversized token', async () => `${(await issue()).token}${'A'.repeat(20_000)}`],
    ];
    it.each(cases)('%s', async (_name, make, options = {}) => {
      const token = await make();
      const error = await failure(verifierWith(options).verify(token));
      expect(error.code).toBe('invalid_token');
      expect(error.status).toBe(401);
    });
  });

  it('refuses a missing scope with insufficient_scope (403), globally and per call', async () => {
    const { token } = await issue({ scope: 'read' });
    expect((await failure(verifierWith({ requiredScopes: ['write'] }).verify(token))).code).toBe(
      'insufficient_scope',
    );
    const verifier = verifierWith({ requiredScopes: ['read'] });
    await expect(verifier.verify(token)).resolves.toBeDefined();
    const error = await failure(verifier.verify(token, ['admin']));
    expect([error.code, error.status]).toEqual(['insufficient_scope', 403]);
    expect(
      (await failure(verifierWith().verify((await issue({ scope: undefined })).token, ['read']))).code,
    ).toBe('insufficient_scope');
  });

  it('refetches the JWKS for an unknown kid (key rotation), at most once per cooldown', async () => {
    const verifier = verifierWith();
    await verifier.verify((await issue()).token);
    const rotated = await testSigner();
    const { token } = await issue({}, rotated);
    expect((await failure(verifier.verify(token))).code).toBe('invalid_token'); // within the cooldown
    expect(fake.count(JWKS)).toBe(1);
    clock.advance(31);
    published.push(...(await rotated.publicKeys()));
    await expect(verifier.verify(token)).resolves.toBeDefined();
    expect(fake.count(JWKS)).toBe(2);
  });

  it('refreshes an old key set in the background and keeps serving the one it has', async () => {
    const verifier = verifierWith();
    const { token } = await issue({ lifetime: 900 });
    await verifier.verify(token);
    clock.advance(601);
    fake.on(JWKS, unreachable);
    await expect(verifier.verify(token)).resolves.toBeDefined();
    await expect(verifier.verify(token)).resolves.toBeDefined();
    expect(fake.count(JWKS)).toBe(2);
  });

  it('stops trusting a key set older than jwksStaleIfErrorMs while the JWKS is down (503)', async () => {
    const verifier = verifierWith({ jwksStaleIfErrorMs: 700_000 });
    const { token } = await issue({ lifetime: 900 });
    await verifier.verify(token);
    fake.on(JWKS, unreachable);
    clock.advance(701);
    const error = await failure(verifier.verify(token));
    expect([error.code, error.status]).toEqual(['temporarily_unavailable', 503]);
  });

  it('ignores JWKS members that are private, symmetric, unpinned or without kid', async () => {
    const [good] = published;
    published = [
      { ...good, d: 'private' } as JWK,
      { kty: 'oct', k: 'c2VjcmV0', kid: good!.kid, alg: 'HS256' },
      { ...good, alg: 'ES384' },
      { ...good, kid: undefined } as JWK,
    ];
    const error = await failure(verifierWith().verify((await issue()).token));
    expect(error.code).toBe('invalid_token');
  });

  describe('answers 503 temporarily_unavailable when it cannot get keys', () => {
    it.each([
      ['discovery unreachable', () => fake.on(DISCOVERY, unreachable)],
      [
        'discovery for another issuer',
        () => fake.on(DISCOVERY, jsonResponse({ issuer: 'https://x.test', jwks_uri: JWKS })),
      ],
      [
        'a plain-http jwks_uri',
        () => fake.on(DISCOVERY, jsonResponse({ issuer: STS_ISSUER, jwks_uri: 'http://sts.test/jwks' })),
      ],
      ['JWKS answering 500', () => fake.on(JWKS, () => new Response('', { status: 500 }))],
      ['JWKS not a key set', () => fake.on(JWKS, jsonResponse({ nope: true }))],
    ])('%s', async (_name, breakIt) => {
      breakIt();
      const { token } = await issue();
      const error = await failure(verifierWith().verify(token));
      expect([error.code, error.status]).toEqual(['temporarily_unavailable', 503]);
      await expect(verifierWith().ready()).rejects.toMatchObject({ status: 503 });
    });
  });

  it('refuses unsafe configuration at construction', () => {
    expect(() => verifierWith({ issuer: 'http://sts.example.com' })).toThrow(TypeError);
    expect(() => verifierWith({ audience: [] })).toThrow(TypeError);
    expect(() => verifierWith({ algorithms: ['HS256' as never] })).toThrow(TypeError);
    expect(() => verifierWith({ jwksUri: 'http://example.com/jwks' })).toThrow(TypeError);
  });
});

// The table check is tokenState() over DynamoStore, proven on DynamoDB Local by the revocation
// and introspection tests; here memory and dynalite keep the file quick.
describe.each(STORE_KINDS.filter((kind) => kind.name !== 'DynamoDB Local'))(
  'revocation check through a TokenStore on $name',
  (kind) => {
    let opened: OpenedStore;
    let table: TokenStore;
    beforeAll(async () => {
      opened = await kind.open();
      table = opened.store;
    });
    afterAll(() => opened?.close());

    it('accepts until revoked, then refuses once the cached answer is older than maxStaleMs', async () => {
      const minted = await issueSelfToken(
        { config, signer, store: table, clock },
        { aud: API_AUDIENCE, iat: clock.seconds() },
      );
      const verifier = verifierWith({ revocation: { via: table, maxStaleMs: 5000 } });
      await expect(verifier.verify(minted.token)).resolves.toBeDefined();
      await table.revokeToken(minted.jti, clock.seconds());
      clock.advance(4);
      await expect(verifier.verify(minted.token)).resolves.toBeDefined(); // cached "active", 4 s old
      clock.advance(1);
      const error = await failure(verifier.verify(minted.token));
      expect([error.code, error.reason]).toEqual(['invalid_token', 'revoked']);
    });

    it('refuses a token of a revoked subject, and a token whose jti was never recorded', async () => {
      const sub = `revoked-subject-${kind.name}`;
      const minted = await issueSelfToken(
        { config, signer, store: table, clock },
        { aud: API_AUDIENCE, sub, iat: clock.seconds() },
      );
      await table.revokeSubject('https://issuer.test', sub, clock.seconds() + 1);
      const verifier = verifierWith({ revocation: { via: table, maxStaleMs: 0 } });
      expect((await failure(verifier.verify(minted.token))).reason).toBe('revoked');
      const unrecorded = await issueSelfToken(
        { config, signer, store: table, clock },
        { aud: API_AUDIENCE, iat: clock.seconds(), record: false },
      );
      expect((await failure(verifier.verify(unrecorded.token))).reason).toBe('revoked');
    });
  },
);

describe('revocation check cache', () => {
  const counting = () => {
    const calls: string[] = [];
    const revoked = new Set<string>();
    const lookup = async (_token: string, claims: { jti: string }) => {
      calls.push(claims.jti);
      return !revoked.has(claims.jti);
    };
    return { calls, revoked, lookup };
  };

  it('asks once per maxStaleMs, and never again once a token is known revoked', async () => {
    const { calls, revoked, lookup } = counting();
    const verifier = verifierWith({ revocation: { via: lookup, maxStaleMs: 5000 } });
    const { token, jti } = await issue();
    for (let i = 0; i < 5; i++) await verifier.verify(token);
    expect(calls).toHaveLength(1);
    clock.advance(5);
    revoked.add(jti);
    await expect(verifier.verify(token)).rejects.toMatchObject({ code: 'invalid_token' });
    clock.advance(60);
    await expect(verifier.verify(token)).rejects.toMatchObject({ code: 'invalid_token' });
    expect(calls).toHaveLength(2);
  });

  it('asks every time when maxStaleMs is 0', async () => {
    const { calls, lookup } = counting();
    const verifier = verifierWith({ revocation: { via: lookup, maxStaleMs: 0 } });
    const { token } = await issue();
    for (let i = 0; i < 3; i++) await verifier.verify(token);
    expect(calls).toHaveLength(3);
  });

  it('shares one lookup among concurrent verifications of a token', async () => {
    const { calls, lookup } = counting();
    const verifier = verifierWith({ revocation: { via: lookup } });
    const { token } = await issue();
    await Promise.all(Array.from({ length: 10 }, () => verifier.verify(token)));
    expect(calls).toHaveLength(1);
  });

  it('is bounded: the least recently used token is evicted first', async () => {
    const { calls, lookup } = counting();
    const verifier = verifierWith({ revocation: { via: lookup, maxEntries: 2 } });
    const [a, b, c] = await Promise.all([issue(), issue(), issue()]);
    await verifier.verify(a!.token);
    await verifier.verify(b!.token);
    await verifier.verify(a!.token); // a is now the most recently used
    await verifier.verify(c!.token); // evicts b
    await verifier.verify(a!.token);
    expect(calls).toEqual([a!.jti, b!.jti, c!.jti]);
    await verifier.verify(b!.token);
    expect(calls).toEqual([a!.jti, b!.jti, c!.jti, b!.jti]);
  });

  it('fails closed with 503 when the source cannot answer, and caches nothing', async () => {
    let down = true;
    const lookup = async () => {
      if (down) throw new Error('connection refused');
      return true;
    };
    const verifier = verifierWith({ revocation: { via: lookup } });
    const { token } = await issue();
    expect((await failure(verifier.verify(token))).status).toBe(503);
    down = false;
    await expect(verifier.verify(token)).resolves.toBeDefined();
  });

  it('checks revocation before scope: a revoked token is invalid_token, not insufficient_scope', async () => {
    const verifier = verifierWith({ revocation: { via: async () => false } });
    const { token } = await issue({ scope: 'read' });
    expect((await failure(verifier.verify(token, ['admin']))).code).toBe('invalid_token');
  });
});

describe('revocation check through the introspection endpoint', () => {
  it('posts the token with the configured headers to the discovered endpoint', async () => {
    const seen: Array<{ body: string; authorization: string | null }> = [];
    let active = true;
    fake.on(INTROSPECT, async (_url, init) => {
      seen.push({
        body: String(init?.body),
        authorization: new Headers(init?.headers).get('authorization'),
      });
      return Response.json(active ? { active: true, sub: 'x' } : { active: false });
    });
    const verifier = verifierWith({
      revocation: { via: 'introspection', headers: { authorization: 'Bearer admin-secret' }, maxStaleMs: 0 },
    });
    const { token } = await issue();
    await expect(verifier.verify(token)).resolves.toBeDefined();
    expect(seen).toEqual([
      { body: `token=${encodeURIComponent(token)}`, authorization: 'Bearer admin-secret' },
    ]);
    active = false;
    expect((await failure(verifier.verify(token))).reason).toBe('revoked');
  });

  it('uses an explicit endpoint and header function', async () => {
    const other = 'https://introspect.internal/check';
    fake.on(other, jsonResponse({ active: true }));
    const verifier = verifierWith({
      revocation: {
        via: 'introspection',
        introspectionEndpoint: other,
        headers: async () => ({ authorization: 'Bearer x' }),
      },
    });
    await verifier.verify((await issue()).token);
    expect(fake.count(other)).toBe(1);
    expect(fake.count(INTROSPECT)).toBe(0);
  });

  it.each([
    ['answers 401 (wrong credential)', () => new Response('{"error":"invalid_client"}', { status: 401 })],
    ['is unreachable', unreachable],
    ['answers junk', () => new Response('<html>', { status: 200 })],
  ])('fails closed with 503 when the endpoint %s', async (_name, handler) => {
    fake.on(INTROSPECT, handler);
    const verifier = verifierWith({ revocation: { via: 'introspection' } });
    expect((await failure(verifier.verify((await issue()).token))).status).toBe(503);
  });

  it('passes a 503 from a custom lookup through unchanged', async () => {
    const verifier = verifierWith({
      revocation: {
        via: async () => {
          throw temporarilyUnavailable('verifier.revocation_unavailable', { retryAfter: 7 });
        },
      },
    });
    const error = await failure(verifier.verify((await issue()).token));
    expect([error.status, error.retryAfter]).toEqual([503, 7]);
  });
});
