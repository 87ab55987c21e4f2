import type { JWSHeaderParameters } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { OAuthError } from '../../../lib/shared/errors.ts';
import {
  type KeyResolver,
  localKeySet,
  type RemoteKeySetOptions,
  remoteKeySet,
} from '../../../lib/shared/key-sets.ts';
import { publicKeySet } from '../../../lib/shared/remote-jwks.ts';
import { frozenClock } from '../../support/clock.ts';
import { createFakeFetch, hangs, jsonResponse, unreachable } from '../../support/fetch.ts';
import { generateTestKey, type TestKey, testSigner } from '../../support/keys.ts';

const ISSUER = 'https://issuer.test';
const JWKS = 'https://issuer.test/keys';
const DISCOVERY = 'https://issuer.test/.well-known/openid-configuration';
const MAX_AGE = 600_000;
const COOLDOWN = 30_000;
const STALE_IF_ERROR = 86_400_000;

let key: TestKey;
let other: TestKey;
beforeAll(async () => {
  [key, other] = await Promise.all([generateTestKey('ES256'), generateTestKey('ES256')]);
});

const header = (k: TestKey): JWSHeaderParameters => ({ alg: k.alg, kid: k.kid });

/** A remote key set over a FakeFetch serving `keys` at JWKS, with a frozen clock. */
function setup(keys: () => TestKey[] = () => [key], options: Partial<RemoteKeySetOptions> = {}) {
  const clock = frozenClock();
  const fake = createFakeFetch();
  fake.on(JWKS, () => Response.json({ keys: keys().map((k) => k.jwk) }));
  const resolve = remoteKeySet({ issuer: ISSUER, jwksUri: JWKS, clock, fetch: fake.fetch, ...options });
  return { clock, fake, resolve };
}

/** The OAuthError `resolve` fails with. */
async function failure(resolve: KeyResolver, h: JWSHeaderParameters): Promise<OAuthError> {
  const error = await resolve(h).then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(OAuthError);
  return error as OAuthError;
}

const expectUnavailable = (error: OAuthError) => {
  expect([error.code, error.status, error.reason]).toEqual([
    'temporarily_unavailable',
    503,
    'jwks.unavailable',
  ]);
  expect(error.retryAfter).toBe(COOLDOWN / 1000);
};
const expectUnknownKid = (error: OAuthError) => {
  expect([error.code, error.status, error.reason]).toEqual(['invalid_request', 400, 'unknown_kid']);
};

describe('remoteKeySet', () => {
  it('fetches lazily, once, and caches', async () => {
    const { fake, resolve } = setup();
    expect(fake.count()).toBe(0);
    await expect(resolve(header(key))).resolves.toBeDefined();
    await expect(resolve(header(key))).resolves.toBeDefined();
    expect(fake.calls).toEqual([JWKS]);
  });

  it('shares one fetch between concurrent requests', async () => {
    const { fake, resolve } = setup();
    await Promise.all([resolve(header(key)), resolve(header(key)), resolve(header(key))]);
    expect(fake.count()).toBe(1);
  });

  it('fetches with a deadline, no redirects, asking for JSON', async () => {
    const { fake, resolve } = setup();
    let init: RequestInit | undefined;
    fake.on(JWKS, (_url, requestInit) => {
      init = requestInit;
      return Response.json({ keys: [key.jwk] });
    });
    await resolve(header(key));
    expect(init?.redirect).toBe('error');
    expect(init?.signal).toBeInstanceOf(AbortSignal);
    expect(new Headers(init?.headers).get('accept')).toBe('application/json');
  });

  it('refreshes after maxAge, not before', async () => {
    const { clock, fake, resolve } = setup();
    await resolve(header(key));
    clock.advance(MAX_AGE / 1000 - 1);
    await resolve(header(key));
    expect(fake.count()).toBe(1);
    clock.advance(1);
    await resolve(header(key));
    expect(fake.count()).toBe(2);
  });

  it('honours a custom maxAge', async () => {
    const { clock, fake, resolve } = setup(undefined, { maxAgeMs: 5000 });
    await resolve(header(key));
    clock.advance(5);
    await resolve(header(key));
    expect(fake.count()).toBe(2);
  });

  describe('unknown kid', () => {
    it('refetches at most once per cooldown', async () => {
      const { clock, fake, resolve } = setup();
      await resolve(header(key));
      expectUnknownKid(await failure(resolve, header(other)));
      expect(fake.count()).toBe(1); // just fetched: no refetch within the cooldown

      clock.advance(COOLDOWN / 1000);
      expectUnknownKid(await failure(resolve, header(other)));
      expect(fake.count()).toBe(2);
      expectUnknownKid(await failure(resolve, header(other)));
      expectUnknownKid(await failure(resolve, header(other)));
      expect(fake.count()).toBe(2);

      clock.advance(COOLDOWN / 1000);
      expectUnknownKid(await failure(resolve, header(other)));
      expect(fake.count()).toBe(3);
    });

    it('finds a key the issuer published since (rotation)', async () => {
      const published = [key];
      const { clock, fake, resolve } = setup(() => published);
      await resolve(header(key));
      published.push(other);
      clock.advance(COOLDOWN / 1000);
      await expect(resolve(header(other))).resolves.toBeDefined();
      await expect(resolve(header(key))).resolves.toBeDefined();
      expect(fake.count()).toBe(2);
    });

    it('is an unknown kid, not an outage, when the refetch fails', async () => {
      const { clock, fake, resolve } = setup();
      await resolve(header(key));
      fake.on(JWKS, unreachable);
      clock.advance(COOLDOWN / 1000);
      expectUnknownKid(await failure(resolve, header(other)));
    });

    it('refuses a header without kid when several keys could match', async () => {
      const { resolve } = setup(() => [key, other]);
      const error = await failure(resolve, { alg: 'ES256' });
      expect([error.code, error.reason]).toEqual(['invalid_request', 'ambiguous_kid']);
    });

    it('refuses a key of another algorithm under the same kid', async () => {
      const { resolve } = setup();
      expectUnknownKid(await failure(resolve, { alg: 'RS256', kid: key.kid }));
    });
  });

  describe('outages', () => {
    it('keeps serving stale keys while the JWKS is down, retrying once per cooldown', async () => {
      const { clock, fake, resolve } = setup();
      await resolve(header(key));
      fake.on(JWKS, unreachable);
      clock.advance(MAX_AGE / 1000);

      await expect(resolve(header(key))).resolves.toBeDefined();
      expect(fake.count()).toBe(2);
      await expect(resolve(header(key))).resolves.toBeDefined();
      clock.advance(COOLDOWN / 1000 - 1);
      await expect(resolve(header(key))).resolves.toBeDefined();
      expect(fake.count()).toBe(2);

      clock.advance(1);
      await expect(resolve(header(key))).resolves.toBeDefined();
      expect(fake.count()).toBe(3);
    });

    it('recovers when the JWKS is back', async () => {
      const { clock, fake, resolve } = setup();
      await resolve(header(key));
      fake.on(JWKS, unreachable);
      clock.advance(MAX_AGE / 1000);
      await resolve(header(key));
      fake.on(JWKS, jsonResponse({ keys: [key.jwk, other.jwk] }));
      clock.advance(COOLDOWN / 1000);
      await expect(resolve(header(other))).resolves.toBeDefined();
      clock.advance(MAX_AGE / 1000 - 1);
      await resolve(header(key));
      expect(fake.count()).toBe(3);
    });

    it('stops serving stale keys after staleIfError: 503', async () => {
      const { clock, fake, resolve } = setup();
      await resolve(header(key));
      fake.on(JWKS, unreachable);
      clock.advance(STALE_IF_ERROR / 1000 - 1);
      await expect(resolve(header(key))).resolves.toBeDefined();
      clock.advance(1);
      expectUnavailable(await failure(resolve, header(key)));
      // within the cooldown of that failed attempt: still 503, without another fetch
      const fetches = fake.count();
      expectUnavailable(await failure(resolve, header(key)));
      expect(fake.count()).toBe(fetches);
    });

    it.each([
      ['unreachable', unreachable],
      ['HTTP 500', () => new Response('oops', { status: 500 })],
      ['HTTP 404', () => new Response('', { status: 404 })],
      [
        'a redirect',
        () => new Response(null, { status: 302, headers: { location: 'https://evil.test/keys' } }),
      ],
      ['HTTP 204', () => new Response(null, { status: 204 })],
      ['junk', () => new Response('<html>not json</html>')],
      ['JSON that is not a JWK Set', jsonResponse({ issuer: ISSUER })],
      ['keys that are not an array', jsonResponse({ keys: { kty: 'EC' } })],
      ['JSON null', jsonResponse(null)],
      [
        'a declared size over 256 KiB',
        () =>
          new Response(JSON.stringify({ keys: [] }), { headers: { 'content-length': String(300 * 1024) } }),
      ],
      ['a body over 256 KiB', () => new Response(JSON.stringify({ keys: [], pad: 'x'.repeat(300 * 1024) }))],
    ])('has no keys and answers 503 when the JWKS is %s', async (_what, handler) => {
      const { fake, resolve } = setup();
      fake.on(JWKS, handler);
      expectUnavailable(await failure(resolve, header(key)));
    });

    it('answers 503 when the JWKS does not answer within the deadline', async () => {
      const { fake, resolve } = setup(undefined, { timeoutMs: 20 });
      fake.on(JWKS, hangs);
      expectUnavailable(await failure(resolve, header(key)));
    });

    it('tries again on the next request after a failed first fetch', async () => {
      const { fake, resolve } = setup();
      fake.on(JWKS, unreachable);
      expectUnavailable(await failure(resolve, header(key)));
      fake.on(JWKS, jsonResponse({ keys: [key.jwk] }));
      await expect(resolve(header(key))).resolves.toBeDefined();
    });
  });

  describe('keys', () => {
    it('drops private keys (with "d") and symmetric keys (with "k")', async () => {
      const privateJwk = { ...key.privateKey.export({ format: 'jwk' }), kid: key.kid, alg: 'ES256' };
      const secret = { kty: 'oct', k: 'c2VjcmV0', kid: 'hmac', alg: 'HS256' };
      const { fake, resolve } = setup();
      fake.on(JWKS, jsonResponse({ keys: [privateJwk, secret, other.jwk] }));
      expectUnknownKid(await failure(resolve, header(key)));
      expectUnknownKid(await failure(resolve, { alg: 'HS256', kid: 'hmac' }));
      await expect(resolve(header(other))).resolves.toBeDefined();
    });

    it('publicKeySet keeps only well-formed public JWKs', () => {
      const keys = [key.jwk, { ...key.jwk, d: 'x' }, { kty: 'oct', k: 'x' }, { kid: 'no-kty' }, null, 'x', 1];
      expect(publicKeySet({ keys })).toEqual({ keys: [key.jwk] });
      expect(() => publicKeySet({})).toThrow();
      expect(() => publicKeySet(null)).toThrow();
    });
  });

  describe('discovery', () => {
    /** A remote key set without jwksUri, discovering it from the issuer's metadata. */
    function discovering(metadata: unknown, issuer = ISSUER) {
      const { clock, fake } = setup();
      fake.on(DISCOVERY, jsonResponse(metadata));
      const resolve = remoteKeySet({ issuer, clock, fetch: fake.fetch });
      return { clock, fake, resolve };
    }

    it("finds the JWKS through the issuer's openid-configuration, once", async () => {
      const { clock, fake, resolve } = discovering({ issuer: ISSUER, jwks_uri: JWKS });
      await expect(resolve(header(key))).resolves.toBeDefined();
      clock.advance(MAX_AGE / 1000);
      await resolve(header(key));
      expect(fake.calls).toEqual([DISCOVERY, JWKS, JWKS]);
    });

    it('builds the discovery URL without a double slash for an issuer ending in "/"', async () => {
      const { fake, resolve } = discovering({ issuer: `${ISSUER}/`, jwks_uri: JWKS }, `${ISSUER}/`);
      await expect(resolve(header(key))).resolves.toBeDefined();
      expect(fake.calls[0]).toBe(DISCOVERY);
    });

    it('accepts an http jwks_uri on loopback', async () => {
      const { fake, resolve } = discovering({ issuer: ISSUER, jwks_uri: 'http://127.0.0.1:9/keys' });
      fake.on('http://127.0.0.1:9/keys', jsonResponse({ keys: [key.jwk] }));
      await expect(resolve(header(key))).resolves.toBeDefined();
    });

    it.each([
      ['another issuer', { issuer: 'https://evil.test', jwks_uri: JWKS }],
      ['the issuer with a trailing slash', { issuer: `${ISSUER}/`, jwks_uri: JWKS }],
      ['no issuer', { jwks_uri: JWKS }],
      ['an http jwks_uri', { issuer: ISSUER, jwks_uri: 'http://issuer.test/keys' }],
      ['a jwks_uri with credentials', { issuer: ISSUER, jwks_uri: 'https://u:p@issuer.test/keys' }],
      ['no jwks_uri', { issuer: ISSUER }],
      ['a non-string jwks_uri', { issuer: ISSUER, jwks_uri: [JWKS] }],
      ['not an object', 'metadata'],
    ])('refuses metadata with %s (503, no keys fetched)', async (_what, metadata) => {
      const { fake, resolve } = discovering(metadata);
      expectUnavailable(await failure(resolve, header(key)));
      expect(fake.count(JWKS)).toBe(0);
    });

    it('retries discovery after a failure', async () => {
      const { clock, fake, resolve } = discovering({ issuer: ISSUER, jwks_uri: JWKS });
      fake.on(DISCOVERY, unreachable);
      expectUnavailable(await failure(resolve, header(key)));
      fake.on(DISCOVERY, jsonResponse({ issuer: ISSUER, jwks_uri: JWKS }));
      clock.advance(COOLDOWN / 1000);
      await expect(resolve(header(key))).resolves.toBeDefined();
    });
  });
});

describe('localKeySet', () => {
  it("resolves this service's own published keys by kid", async () => {
    const signer = await testSigner('ES256');
    const resolve = localKeySet(() => signer.publicKeys());
    const { kid, alg } = await signer.activeKey();
    await expect(resolve({ kid, alg })).resolves.toBeDefined();
    expectUnknownKid(await failure(resolve, header(other)));
  });
});
