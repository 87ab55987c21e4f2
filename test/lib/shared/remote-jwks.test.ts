import type { JWK } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { OAuthError } from '../../../lib/shared/errors.ts';
import { remoteKeySet } from '../../../lib/shared/key-sets.ts';
import {
  fetchJson,
  KeySetUnavailable,
  MAX_DOCUMENT_BYTES,
  RemoteFetchError,
  remoteJwks,
} from '../../../lib/shared/remote-jwks.ts';
import { createAccessTokenVerifier } from '../../../lib/verify/verifier.ts';
import { frozenClock } from '../../support/clock.ts';
import { createFakeFetch, type FetchHandler, jsonResponse, unreachable } from '../../support/fetch.ts';
import { generateTestKey, type TestKey } from '../../support/keys.ts';

const ISSUER = 'https://issuer.test';
const JWKS = 'https://issuer.test/keys';
const DISCOVERY = 'https://issuer.test/.well-known/openid-configuration';

let key: TestKey;
let other: TestKey;
beforeAll(async () => {
  [key, other] = await Promise.all([generateTestKey('ES256'), generateTestKey('ES256')]);
});

/** A body that never ends, in 16 KiB chunks, counting what was pulled and whether it was cancelled. */
function endlessBody() {
  const state = { pulled: 0, cancelled: false };
  const chunk = new TextEncoder().encode(`{"keys":[],"pad":"${'x'.repeat(16 * 1024)}`);
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      state.pulled += chunk.byteLength;
      controller.enqueue(chunk);
    },
    cancel() {
      state.cancelled = true;
    },
  });
  return { state, stream };
}

const reason = (error: unknown) => (error instanceof Error ? error.message : String(error));

describe('fetchJson', () => {
  it('stops reading an endless body past 256 KiB and cancels it', async () => {
    const { state, stream } = endlessBody();
    const fake = createFakeFetch();
    fake.on(JWKS, () => new Response(stream));
    const error = await fetchJson(fake.fetch, JWKS, { timeoutMs: 60_000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RemoteFetchError);
    expect(reason(error)).toBe(`GET ${JWKS}: document too large`);
    expect(state.cancelled).toBe(true);
    expect(state.pulled).toBeLessThanOrEqual(MAX_DOCUMENT_BYTES + 2 * 16 * 1024 + 64);
  });

  it('decodes UTF-8 split across chunks', async () => {
    const bytes = new TextEncoder().encode(JSON.stringify({ name: 'Zoë 🔑' }));
    const fake = createFakeFetch();
    fake.on(
      JWKS,
      () =>
        new Response(
          new ReadableStream({
            start(controller) {
              for (const byte of bytes) controller.enqueue(Uint8Array.of(byte));
              controller.close();
            },
          }),
        ),
    );
    await expect(fetchJson(fake.fetch, JWKS, { timeoutMs: 1000 })).resolves.toEqual({ name: 'Zoë 🔑' });
  });

  it('posts a body with its headers, asking for JSON, refusing redirects, under a deadline', async () => {
    const fake = createFakeFetch();
    let init: RequestInit | undefined;
    fake.on(JWKS, (_url, requestInit) => {
      init = requestInit;
      return Response.json({ active: true });
    });
    const answer = await fetchJson(fake.fetch, JWKS, {
      timeoutMs: 1000,
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'token=x',
    });
    expect(answer).toEqual({ active: true });
    expect(init?.method).toBe('POST');
    expect(init?.body).toBe('token=x');
    expect(init?.redirect).toBe('error');
    expect(init?.signal).toBeInstanceOf(AbortSignal);
    const headers = new Headers(init?.headers);
    expect([headers.get('accept'), headers.get('content-type')]).toEqual([
      'application/json',
      'application/x-www-form-urlencoded',
    ]);
  });

  it.each([
    ['HTTP 500', () => new Response('oops', { status: 500 }), 'HTTP 500'],
    ['not JSON', () => new Response('<html>'), 'not JSON'],
    ['unreachable', unreachable, 'TypeError'],
  ] as [string, FetchHandler, string][])('names the URL and the fault: %s', async (_what, handler, fault) => {
    const fake = createFakeFetch();
    fake.on(JWKS, handler);
    const error = await fetchJson(fake.fetch, JWKS, { timeoutMs: 1000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RemoteFetchError);
    expect(reason(error)).toBe(`GET ${JWKS}: ${fault}`);
  });
});

describe('remoteJwks', () => {
  function setup(keys: () => JWK[] = () => [key.jwk]) {
    const clock = frozenClock();
    const fake = createFakeFetch();
    fake.on(JWKS, () => Response.json({ keys: keys() }));
    let builds = 0;
    const cache = remoteJwks({
      issuer: ISSUER,
      jwksUri: JWKS,
      clock,
      fetch: fake.fetch,
      build: (jwks) => {
        builds++;
        return jwks.map((jwk) => jwk.kid);
      },
    });
    return { clock, fake, cache, builds: () => builds };
  }

  it('builds the caller’s key form once per fetch and hands it back synchronously while fresh', async () => {
    const { cache, builds } = setup(() => [key.jwk, other.jwk]);
    await expect(cache.current()).resolves.toEqual([key.kid, other.kid]);
    expect(cache.current()).toEqual([key.kid, other.kid]);
    expect(builds()).toBe(1);
  });

  it('makes a refetch wait for a background refresh in flight instead of skipping it', async () => {
    const published = [key.jwk];
    const { clock, fake, cache } = setup(() => published);
    await cache.current();
    clock.advance(600);
    published.push(other.jwk);
    expect(cache.current()).toEqual([key.kid]); // old set served; refresh started
    await expect(cache.refetch()).resolves.toEqual([key.kid, other.kid]);
    expect(fake.count()).toBe(2);
  });

  it('past staleIfError, refuses without a fetch within the cooldown of a failure, then tries again', async () => {
    const { clock, fake, cache } = setup();
    await cache.current();
    fake.on(JWKS, unreachable);
    clock.advance(86_400);
    await expect(cache.current()).rejects.toMatchObject({ name: 'KeySetUnavailable', stale: true });
    expect(fake.count()).toBe(2);
    await expect(cache.current()).rejects.toBeInstanceOf(KeySetUnavailable);
    expect(fake.count()).toBe(2);
    fake.on(JWKS, jsonResponse({ keys: [key.jwk] }));
    clock.advance(30);
    await expect(cache.current()).resolves.toEqual([key.kid]);
  });

  it('never serves a set older than staleIfError, even with a longer maxAge', async () => {
    const clock = frozenClock();
    const fake = createFakeFetch();
    let published = [key.jwk];
    fake.on(JWKS, () => Response.json({ keys: published }));
    const cache = remoteJwks({
      issuer: ISSUER,
      jwksUri: JWKS,
      clock,
      fetch: fake.fetch,
      maxAgeMs: 3_600_000,
      staleIfErrorMs: 900_000,
      build: (jwks) => jwks.map((jwk) => jwk.kid),
    });
    await cache.current();
    published = [other.jwk]; // the party withdrew the key
    clock.advance(900);
    await expect(cache.current()).resolves.toEqual([other.kid]);
    expect(fake.count()).toBe(2);
  });

  it('keeps the discovery document for the other endpoints it names', async () => {
    const fake = createFakeFetch();
    fake.on(
      DISCOVERY,
      jsonResponse({ issuer: ISSUER, jwks_uri: JWKS, introspection_endpoint: `${ISSUER}/i` }),
    );
    const cache = remoteJwks({ issuer: ISSUER, clock: frozenClock(), fetch: fake.fetch, build: () => 0 });
    const discovery = await cache.discovery();
    expect(discovery.jwksUri).toBe(JWKS);
    expect(discovery.document.introspection_endpoint).toBe(`${ISSUER}/i`);
    await cache.discovery();
    expect(fake.count(DISCOVERY)).toBe(1);
  });
});

// Both sides that fetch keys over HTTP (the service's trusted issuers and the downstream verifier)
// go through remoteJwks, so they refuse the same documents: this table is run against each.
describe.each([
  {
    side: 'trusted issuer (remoteKeySet)',
    keysFrom: (fetchFn: typeof fetch) => {
      const resolve = remoteKeySet({
        issuer: ISSUER,
        clock: frozenClock(),
        fetch: fetchFn,
        timeoutMs: 60_000,
      });
      return () => resolve({ alg: 'ES256', kid: key.kid });
    },
  },
  {
    side: 'downstream verifier (createAccessTokenVerifier)',
    keysFrom: (fetchFn: typeof fetch) => {
      const verifier = createAccessTokenVerifier({
        issuer: ISSUER,
        audience: 'https://api.test',
        clock: frozenClock(),
        fetch: fetchFn,
        timeoutMs: 60_000,
      });
      return () => verifier.ready();
    },
  },
])('$side', ({ keysFrom }) => {
  const serve = (jwks: FetchHandler, metadata: unknown = { issuer: ISSUER, jwks_uri: JWKS }) => {
    const fake = createFakeFetch();
    fake.on(DISCOVERY, jsonResponse(metadata));
    fake.on(JWKS, jwks);
    return { fake, load: keysFrom(fake.fetch) };
  };

  it('loads public keys through discovery', async () => {
    const { fake, load } = serve(jsonResponse({ keys: [key.jwk] }));
    await load();
    expect(fake.calls).toEqual([DISCOVERY, JWKS]);
  });

  it.each([
    [
      'an endless body (stopped at 256 KiB, not read to the deadline)',
      () => new Response(endlessBody().stream),
    ],
    ['a redirect', () => new Response(null, { status: 302, headers: { location: 'https://evil.test/k' } })],
    ['a declared size over 256 KiB', () => new Response('{}', { headers: { 'content-length': '300000' } })],
    ['not a JWK Set', jsonResponse({ issuer: ISSUER })],
  ] as [string, FetchHandler][])('answers 503 for %s', async (_what, handler) => {
    const { load } = serve(handler);
    const error = await load().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OAuthError);
    expect((error as OAuthError).status).toBe(503);
  });

  it('answers 503 for discovery naming another issuer, and fetches no keys', async () => {
    const { fake, load } = serve(jsonResponse({ keys: [key.jwk] }), {
      issuer: 'https://evil.test',
      jwks_uri: JWKS,
    });
    await expect(load()).rejects.toMatchObject({ status: 503 });
    expect(fake.count(JWKS)).toBe(0);
  });
});
