import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { refreshMargin } from '../../../lib/client/cache.ts';
import { exchangeCacheKey, StsClient, type StsClientOptions } from '../../../lib/client/client.ts';
import { parseRetryAfter, TokenExchangeError } from '../../../lib/client/http.ts';
import { TOKEN_TYPE } from '../../../lib/shared/claims.ts';
import { frozenClock } from '../../support/clock.ts';
import {
  ADMIN_TOKEN,
  type StandIn,
  startStandIn,
  startTestSts,
  type TestSts,
} from '../../support/local-sts.ts';
import { freePort } from '../../support/ports.ts';

const API = 'https://api.example.local';
const DEPLOY = 'https://deploy.example.local';

/** A fetch that counts the calls it forwards to the real one. */
function countingFetch() {
  const counter = { calls: 0 };
  const counted: typeof fetch = (input, init) => {
    counter.calls++;
    return fetch(input, init);
  };
  return { fetch: counted, counter };
}

async function refusal(promise: Promise<unknown>): Promise<TokenExchangeError> {
  const error = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(TokenExchangeError);
  return error as TokenExchangeError;
}

describe('StsClient against the local server', () => {
  let sts: TestSts;
  beforeAll(async () => {
    sts = await startTestSts();
  });
  afterAll(() => sts.close());

  it('exchanges a subject token for a token for one audience', async () => {
    const client = new StsClient({ endpoint: `${sts.url}/` });
    const subjectToken = await sts.subjectToken('alice', { email: 'alice@example.com' });
    const result = await client.exchange({ subjectToken, audience: API, scope: ['read'] });
    expect(result).toMatchObject({
      tokenType: 'Bearer',
      issuedTokenType: TOKEN_TYPE.accessToken,
      scope: 'read',
      expiresIn: 300,
      fromCache: false,
    });
    expect(decodeJwt(result.accessToken)).toMatchObject({
      iss: sts.url,
      sub: 'alice',
      aud: API,
      scope: 'read',
      email: 'alice@example.com',
    });
  });

  it('delegates with an actor token (the result carries act)', async () => {
    const client = new StsClient({ endpoint: sts.url });
    const result = await client.exchange({
      subjectToken: await sts.subjectToken('alice'),
      actorToken: await sts.subjectToken('service:billing'),
      audience: DEPLOY,
    });
    expect(decodeJwt(result.accessToken)).toMatchObject({
      sub: 'alice',
      act: { sub: 'service:billing' },
    });
  });

  it('serves the cache until a margin before expiry, then exchanges again', async () => {
    const clock = frozenClock(Date.now());
    const { fetch, counter } = countingFetch();
    const client = new StsClient({ endpoint: sts.url, clock, fetch });
    const subjectToken = await sts.subjectToken('carol');
    const first = await client.exchange({ subjectToken, audience: API, scope: 'read write' });
    const again = await client.exchange({ subjectToken, audience: API, scope: ['write', 'read', 'read'] });
    expect(again).toMatchObject({ accessToken: first.accessToken, fromCache: true, expiresIn: 300 });
    clock.advance(239); // a 300 s token is served for 300 - 60 s
    expect(await client.exchange({ subjectToken, audience: API, scope: 'read write' })).toMatchObject({
      accessToken: first.accessToken,
      expiresIn: 61,
    });
    expect(counter.calls).toBe(1);
    clock.advance(2);
    const renewed = await client.exchange({ subjectToken, audience: API, scope: 'read write' });
    expect(renewed.fromCache).toBe(false);
    expect(renewed.accessToken).not.toBe(first.accessToken);
    expect(counter.calls).toBe(2);
  });

  it('collapses concurrent identical requests into one (single flight)', async () => {
    const { fetch, counter } = countingFetch();
    const client = new StsClient({ endpoint: sts.url, fetch, cache: false });
    const subjectToken = await sts.subjectToken('dave');
    const results = await Promise.all([
      ...Array.from({ length: 8 }, () => client.exchange({ subjectToken, audience: API, scope: 'read' })),
      client.exchange({ subjectToken, audience: DEPLOY, scope: 'read' }),
    ]);
    expect(counter.calls).toBe(2);
    expect(new Set(results.slice(0, 8).map((result) => result.accessToken)).size).toBe(1);
    expect(results[8]!.accessToken).not.toBe(results[0]!.accessToken);
    // With the cache off, the next call exchanges again.
    await client.exchange({ subjectToken, audience: API, scope: 'read' });
    expect(counter.calls).toBe(3);
  });

  it('bounds the cache, evicting the least recently used entry', async () => {
    const { fetch, counter } = countingFetch();
    const client = new StsClient({ endpoint: sts.url, fetch, cache: { maxEntries: 2 } });
    const subjectToken = await sts.subjectToken('erin');
    const request = (scope: string) => ({ subjectToken, audience: API, scope });
    await client.exchange(request('read'));
    await client.exchange(request('write'));
    await client.exchange(request('read')); // touch: "write" is now the oldest
    await client.exchange(request('deploy'));
    expect(client.cacheSize).toBe(2);
    expect(counter.calls).toBe(3);
    expect((await client.exchange(request('read'))).fromCache).toBe(true);
    expect((await client.exchange(request('write'))).fromCache).toBe(false);
    expect((await client.exchange({ ...request('deploy'), cache: false })).fromCache).toBe(false);
    expect(counter.calls).toBe(5);
  });

  it('surfaces refusals as typed errors carrying the OAuth error code, never caching them', async () => {
    const { fetch, counter } = countingFetch();
    const client = new StsClient({ endpoint: sts.url, fetch });
    const subjectToken = await sts.subjectToken('frank');
    const target = await refusal(client.exchange({ subjectToken, audience: 'https://elsewhere.example' }));
    expect(target).toMatchObject({ code: 'invalid_target', status: 400, refused: true, attempts: 1 });
    const scope = await refusal(client.exchange({ subjectToken, audience: API, scope: 'admin' }));
    expect(scope).toMatchObject({ code: 'invalid_scope', status: 400, refused: true });
    const forged = `${subjectToken.slice(0, -4)}AAAA`;
    const invalid = await refusal(client.exchange({ subjectToken: forged, audience: API }));
    expect(invalid).toMatchObject({ code: 'invalid_request', status: 400, refused: true });
    expect(invalid.description).toBe('subject_token could not be verified');
    expect(`${invalid.message}${invalid.stack}`).not.toContain(forged);
    await refusal(client.exchange({ subjectToken, audience: 'https://elsewhere.example' }));
    expect(counter.calls).toBe(4);
  });

  it('introspects (with the admin bearer) and revokes, dropping the revoked token from the cache', async () => {
    const client = new StsClient({ endpoint: sts.url });
    const request = { subjectToken: await sts.subjectToken('grace'), audience: API, scope: 'read' };
    const { accessToken } = await client.exchange(request);
    expect(await client.introspect(accessToken, { adminToken: ADMIN_TOKEN })).toMatchObject({
      active: true,
      sub: 'grace',
      aud: API,
      scope: 'read',
    });
    const unauthorized = await refusal(client.introspect(accessToken));
    expect(unauthorized).toMatchObject({ code: 'invalid_client', status: 401, refused: true });

    await client.revoke(accessToken, { tokenTypeHint: 'access_token' });
    expect(await client.introspect(accessToken, { adminToken: ADMIN_TOKEN })).toEqual({ active: false });
    const renewed = await client.exchange(request);
    expect(renewed.fromCache).toBe(false);
    expect(renewed.accessToken).not.toBe(accessToken);
    await client.revoke('not-a-token-at-all'); // RFC 7009 §2.2: 200 for invalid tokens too
  });
});

describe('StsClient retries (fault-injecting stand-in)', () => {
  let standIn: StandIn;
  beforeAll(async () => {
    standIn = await startStandIn();
  });
  afterAll(() => standIn.close());

  const ok = { status: 200, body: { access_token: 'a.b.c', token_type: 'Bearer', expires_in: 300 } };
  function client(options: Partial<StsClientOptions> = {}) {
    const sleeps: number[] = [];
    const sts = new StsClient({
      endpoint: standIn.url,
      sleep: async (ms) => {
        sleeps.push(ms);
      },
      random: () => 0.5,
      cache: false,
      ...options,
    });
    return { sts, sleeps };
  }
  const exchange = (sts: StsClient) => sts.exchange({ subjectToken: 'x.y.z', audience: API });

  it('retries a 503, waiting the Retry-After it names plus jitter', async () => {
    standIn.script('/token', [
      { status: 503, headers: { 'Retry-After': '2' }, body: { error: 'temporarily_unavailable' } },
      ok,
    ]);
    const { sts, sleeps } = client();
    expect((await exchange(sts)).accessToken).toBe('a.b.c');
    expect(sleeps).toEqual([2125]);
  });

  it('retries a 429 without Retry-After with jittered exponential backoff', async () => {
    standIn.script('/token', [{ status: 429, body: { message: 'Too Many Requests' } }, { status: 429 }, ok]);
    const { sts, sleeps } = client();
    expect((await exchange(sts)).accessToken).toBe('a.b.c');
    expect(sleeps).toEqual([125, 250]);
  });

  it('gives up after the attempts allowed, with the last error', async () => {
    standIn.script('/token', [
      { status: 503, headers: { 'Retry-After': '1' }, body: { error: 'temporarily_unavailable' } },
    ]);
    const { sts, sleeps } = client({ retry: { maxAttempts: 4 } });
    const error = await refusal(exchange(sts));
    expect(error).toMatchObject({
      code: 'temporarily_unavailable',
      status: 503,
      retryAfter: 1,
      attempts: 4,
      refused: false,
    });
    expect(sleeps).toHaveLength(3);
  });

  it('gives up at once when Retry-After exceeds the time budget, and keeps within it', async () => {
    standIn.script('/token', [{ status: 503, headers: { 'Retry-After': '120' } }]);
    const first = client();
    expect(await refusal(exchange(first.sts))).toMatchObject({ attempts: 1, retryAfter: 120 });
    expect(first.sleeps).toEqual([]);

    standIn.script('/token', [{ status: 503, headers: { 'Retry-After': '1' } }]);
    const clock = frozenClock();
    const sleeps: number[] = [];
    const budgeted = new StsClient({
      endpoint: standIn.url,
      clock,
      random: () => 0,
      sleep: async (ms) => {
        sleeps.push(ms);
        clock.advance(ms / 1000);
      },
      retry: { maxAttempts: 10, maxElapsedMs: 2_500 },
    });
    expect(await refusal(exchange(budgeted))).toMatchObject({ attempts: 3 });
    expect(sleeps).toEqual([1000, 1000]);
  });

  it('does not retry refusals, and reads bodies that are not OAuth errors', async () => {
    standIn.script('/token', [
      { status: 400, body: { error: 'invalid_request', error_description: 'bad\nline' } },
    ]);
    const { sts, sleeps } = client();
    expect(await refusal(exchange(sts))).toMatchObject({
      code: 'invalid_request',
      description: 'bad line',
      refused: true,
    });
    expect(sleeps).toEqual([]);

    standIn.script('/token', [{ status: 404, body: { message: 'Not Found' } }]);
    expect(await refusal(exchange(sts))).toMatchObject({
      code: 'invalid_response',
      status: 404,
      refused: false,
    });
    standIn.script('/token', [{ status: 200, body: '<html>' }]);
    expect(await refusal(exchange(sts))).toMatchObject({ code: 'invalid_response', refused: false });
    standIn.script('/token', [{ status: 502, body: 'Bad Gateway' }]);
    expect(await refusal(exchange(sts))).toMatchObject({ code: 'server_error', status: 502, attempts: 3 });
  });

  it('retries network failures and reports them as network_error', async () => {
    const port = await freePort();
    const { sts, sleeps } = client({ endpoint: `http://127.0.0.1:${port}` });
    expect(await refusal(exchange(sts))).toMatchObject({ code: 'network_error', status: 0, attempts: 3 });
    expect(sleeps).toHaveLength(2);
  });

  it('sends RFC 8693, 7662 and 7009 forms', async () => {
    standIn.script('/token', [ok]);
    standIn.script('/introspect', [{ status: 200, body: { active: false } }]);
    standIn.script('/revoke', [{ status: 200 }]);
    const { sts } = client();
    standIn.requests.length = 0;
    await sts.exchange({
      subjectToken: 's.t.x',
      subjectTokenType: TOKEN_TYPE.idToken,
      actorToken: 'a.t.x',
      resource: 'https://r.example/',
      scope: ' read  write ',
    });
    await sts.introspect('i.t.x', { adminToken: 'adm', tokenTypeHint: 'access_token' });
    await sts.revoke('r.t.x');
    const [token, introspect, revoke] = standIn.requests;
    expect(Object.fromEntries(token!.form)).toEqual({
      grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
      subject_token: 's.t.x',
      subject_token_type: TOKEN_TYPE.idToken,
      actor_token: 'a.t.x',
      actor_token_type: TOKEN_TYPE.jwt,
      resource: 'https://r.example/',
      scope: 'read write',
    });
    expect(introspect).toMatchObject({ path: '/introspect', authorization: 'Bearer adm' });
    expect(Object.fromEntries(introspect!.form)).toEqual({ token: 'i.t.x', token_type_hint: 'access_token' });
    expect(revoke).toMatchObject({ path: '/revoke', authorization: undefined });
    expect(Object.fromEntries(revoke!.form)).toEqual({ token: 'r.t.x' });

    standIn.script('/introspect', [{ status: 200, body: { sub: 'x' } }]);
    expect(await refusal(sts.introspect('i.t.x'))).toMatchObject({ code: 'invalid_response' });
  });
});

describe('client building blocks', () => {
  it('keys the cache by a digest that holds no token and ignores scope order', () => {
    const request = { subjectToken: 'header.payload.signature', audience: API, scope: 'b a' };
    const key = exchangeCacheKey(request);
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    expect(exchangeCacheKey({ ...request, scope: ['a', 'b', 'a'] })).toBe(key);
    for (const other of [
      { ...request, scope: 'a' },
      { ...request, actorToken: 'x.y.z' },
      { ...request, audience: undefined, resource: API },
      { ...request, subjectTokenType: TOKEN_TYPE.idToken },
    ]) {
      expect(exchangeCacheKey(other)).not.toBe(key);
    }
  });

  it.each([
    [300, 60],
    [900, 90],
    [60, 30],
    [10, 5],
    [3600, 360],
  ])('refreshes a %i s token %i s before expiry', (lifetime, margin) => {
    expect(refreshMargin(lifetime)).toBe(margin);
  });

  it('parses Retry-After as seconds or an HTTP date', () => {
    const now = Date.UTC(2030, 0, 1);
    expect(parseRetryAfter('7', now)).toBe(7);
    expect(parseRetryAfter(new Date(now + 3_000).toUTCString(), now)).toBe(3);
    expect(parseRetryAfter(new Date(now - 3_000).toUTCString(), now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });

  it('refuses endpoints that would send tokens in clear, and malformed requests', async () => {
    expect(() => new StsClient({ endpoint: 'http://sts.example.com' })).toThrow(TypeError);
    expect(() => new StsClient({ endpoint: 'https://user:pw@sts.example.com' })).toThrow(TypeError);
    const client = new StsClient({ endpoint: 'https://sts.example.com' });
    await expect(client.exchange({ subjectToken: 'a.b.c' })).rejects.toThrow(TypeError);
    await expect(client.exchange({ subjectToken: 'a.b.c', audience: API, resource: API })).rejects.toThrow(
      TypeError,
    );
  });
});
