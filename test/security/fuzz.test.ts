import { generateKeyPairSync } from 'node:crypto';
import fc from 'fast-check';
import { calculateJwkThumbprint, decodeJwt, type JWK } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Result } from '../../lambdas/http.ts';
import { createRuntime } from '../../lambdas/runtime.ts';
import { createHandler } from '../../lambdas/token.ts';
import { parseConfig } from '../../lib/config/config.ts';
import { loadSettings } from '../../lib/config/settings.ts';
import { TOKEN_EXCHANGE_PARAMETERS } from '../../lib/exchange/token-request.ts';
import { silentLogger } from '../../lib/shared/log.ts';
import { createLocalSigner, generateSigningKey } from '../../lib/signers/local.ts';
import { MemoryStore } from '../../lib/stores/memory.ts';
import { apiEvent, lambdaContext } from '../support/api-event.ts';
import { b64url, jwsSign } from '../support/hostile-issuer.ts';

/**
 * Fuzzing the token handler in process (createHandler with API Gateway v2 events, MemoryStore,
 * a local signer, the issuer's JWKS behind an in-memory fetch): 10,000 random requests and 10,000
 * mutated tokens. No 5xx, no throw, and a TOKEN# record exactly for each 200 and for nothing else.
 */
const STS = 'https://sts.example.com';
const ISSUER = 'https://issuer.example.com';
const API = 'https://api.example.com';
const REPORTS = 'https://reports.example.com';
const EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const JWT = 'urn:ietf:params:oauth:token-type:jwt';
const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';
const ID_TOKEN = 'urn:ietf:params:oauth:token-type:id_token';
const FORM = 'application/x-www-form-urlencoded';
const NOW = Date.UTC(2030, 0, 1);
const RUNS = 10_000;
const ERRORS = new Set(['invalid_request', 'unsupported_grant_type', 'invalid_target', 'invalid_scope']);

const store = new MemoryStore();
let jwksFetches = 0;
let kid: string;
let subjectToken: string;
let actorToken: string;
let handler: (event: ReturnType<typeof apiEvent>) => Promise<Result>;

beforeAll(async () => {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const jwk = publicKey.export({ format: 'jwk' }) as JWK;
  kid = await calculateJwkThumbprint(jwk);
  const fetch = (async (input: string | URL | Request) => {
    if (String(input) !== `${ISSUER}/jwks`) return new Response('not found', { status: 404 });
    jwksFetches++;
    return Response.json({ keys: [{ ...jwk, kid, alg: 'ES256', use: 'sig' }] });
  }) as typeof globalThis.fetch;
  const sign = (sub: string) => {
    const seconds = NOW / 1000;
    const claims = { iss: ISSUER, sub, aud: STS, iat: seconds, nbf: seconds, exp: seconds + 3600, jti: sub };
    const input = `${b64url(JSON.stringify({ alg: 'ES256', kid, typ: 'JWT' }))}.${b64url(JSON.stringify(claims))}`;
    return `${input}.${jwsSign('ES256', privateKey, input).toString('base64url')}`;
  };
  subjectToken = sign('user:alice');
  actorToken = sign('service:ci');
  const config = parseConfig({
    issuer: STS,
    trustedIssuers: [
      { name: 'ext', issuer: ISSUER, jwksUri: `${ISSUER}/jwks`, algorithms: ['ES256'], audiences: [STS] },
    ],
    policies: [
      {
        name: 'users',
        issuer: 'ext',
        subject: 'user:*',
        audiences: [API, STS],
        scopes: ['read', 'write'],
        actors: [{ issuer: 'ext', subject: 'service:*' }],
      },
      { name: 'chained', issuer: 'self', subject: 'user:*', audiences: [REPORTS], scopes: ['read'] },
    ],
  });
  const runtime = createRuntime({
    settings: loadSettings({ STS_LOG_LEVEL: 'silent' }),
    config,
    signer: await createLocalSigner(generateSigningKey('ES256'), 'ES256'),
    store,
    clock: () => NOW,
    logger: silentLogger,
    fetch,
  });
  const middy = createHandler(async () => runtime);
  handler = (event) => middy(event, lambdaContext);
});

interface Outcome {
  readonly status: number;
  readonly error: string | undefined;
}

/** Invokes the handler and checks what every answer must satisfy; returns status and error code. */
async function invoke(event: ReturnType<typeof apiEvent>): Promise<Outcome> {
  const before = store.tokens.size;
  const result = await handler(event);
  const status = result.statusCode ?? 0;
  const body = JSON.parse(result.body ?? '') as Record<string, unknown>;
  const check = (ok: boolean, what: string) => {
    if (!ok) throw new Error(`${what}: ${status} ${result.body} (records ${before} -> ${store.tokens.size})`);
  };
  check(status < 500, 'a 5xx');
  check(result.headers?.['Cache-Control'] === 'no-store', 'no Cache-Control: no-store');
  if (status === 200) {
    check(store.tokens.size === before + 1, 'a 200 without exactly one new record');
    check(
      store.tokens.has(String(decodeJwt(String(body.access_token)).jti)),
      'a 200 whose jti was not recorded',
    );
    return { status, error: undefined };
  }
  check(status === 400 || status === 413, 'an unexpected status');
  check(ERRORS.has(String(body.error)), 'an unexpected error code');
  check(
    Object.keys(body).sort().join() === 'error,error_description',
    'unexpected members in the error body',
  );
  check(store.tokens.size === before, 'a refusal that recorded a token');
  return { status, error: String(body.error) };
}

const tally = (outcomes: Map<string, number>, outcome: Outcome) => {
  const key = outcome.error ?? String(outcome.status);
  outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
};

describe('fuzzing the token handler in process', () => {
  it(`${RUNS} random requests: never a 5xx, a record for each 200 and only for it`, async () => {
    const names = [...TOKEN_EXCHANGE_PARAMETERS, 'client_id', 'foo'];
    const name = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...names) }, fc.string({ maxLength: 12 }));
    const value = fc.oneof(
      {
        weight: 4,
        arbitrary: fc.constantFrom(
          EXCHANGE,
          JWT,
          ACCESS_TOKEN,
          ID_TOKEN,
          'urn:ietf:params:oauth:token-type:saml2',
          API,
          STS,
          REPORTS,
          'https://evil.example',
          '/relative',
          'read',
          'read write',
          'admin',
          'read  write',
          '',
          subjectToken,
          actorToken,
          'client_credentials',
        ),
      },
      fc.string({ maxLength: 40 }),
      fc.string({ unit: 'binary', maxLength: 40 }),
    );
    const valid = () =>
      new Map<string, string>([
        ['grant_type', EXCHANGE],
        ['subject_token', subjectToken],
        ['subject_token_type', JWT],
        ['audience', API],
      ]);
    const nearValid = fc
      .record({
        drop: fc.subarray(['grant_type', 'subject_token', 'subject_token_type', 'audience']),
        replace: fc.array(fc.tuple(name, value), { maxLength: 2 }),
        extra: fc.array(fc.tuple(name, value), { maxLength: 3 }),
      })
      .map(({ drop, replace, extra }) => {
        const params = valid();
        for (const key of drop) params.delete(key);
        for (const [key, v] of replace) params.set(key, v);
        const form = new URLSearchParams([...params]);
        for (const [key, v] of extra) form.append(key, v);
        return Buffer.from(form.toString());
      });
    const randomPairs = fc
      .array(fc.tuple(name, value), { maxLength: 12 })
      .map((pairs) => Buffer.from(new URLSearchParams(pairs).toString()));
    const unencodedPairs = fc
      .array(fc.tuple(name, value, fc.constantFrom('&', '&&', ';', '')), { maxLength: 8 })
      .map((pairs) => Buffer.from(pairs.map(([k, v, sep]) => `${k}=${v}${sep}`).join('&')));
    const body = fc.oneof(
      { weight: 6, arbitrary: nearValid },
      { weight: 2, arbitrary: randomPairs },
      { weight: 1, arbitrary: unencodedPairs },
      {
        weight: 1,
        arbitrary: fc.string({ unit: 'binary', maxLength: 400 }).map((text) => Buffer.from(text)),
      },
      { weight: 1, arbitrary: fc.uint8Array({ maxLength: 400 }).map((bytes) => Buffer.from(bytes)) },
    );
    const contentType = fc.oneof(
      { weight: 8, arbitrary: fc.constant<string | undefined>(FORM) },
      fc.constantFrom<string | undefined>(
        `${FORM}; charset=utf-8`,
        'application/json',
        'text/plain',
        'multipart/form-data; boundary=x',
        '',
        undefined,
      ),
      fc.string({ maxLength: 30 }),
    );
    const request = fc.record({
      body,
      contentType,
      headerName: fc.constantFrom('content-type', 'Content-Type', 'CONTENT-TYPE'),
      base64: fc.oneof({ weight: 3, arbitrary: fc.constant(true) }, fc.constant(false)),
    });

    const outcomes = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(request, async ({ body, contentType, headerName, base64 }) => {
        const headers = contentType === undefined ? {} : { [headerName]: contentType };
        tally(outcomes, await invoke(apiEvent({ body, headers, base64 })));
      }),
      { numRuns: RUNS },
    );
    // The fuzzer reached every stage: parsing, grant, verification, policy and issuance.
    for (const reached of [
      '200',
      'invalid_request',
      'unsupported_grant_type',
      'invalid_target',
      'invalid_scope',
    ]) {
      expect(outcomes.get(reached) ?? 0, JSON.stringify([...outcomes])).toBeGreaterThan(10);
    }
  });

  it(`${RUNS} mutated tokens: refused unless unchanged, never a 5xx, nothing recorded for them`, async () => {
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const char = fc.constantFrom(...alphabet, '.', '=', '+', '/', ' ', '%', '\u0000', 'é');
    const segmentText = (value: unknown) => b64url(JSON.stringify(value));
    const claimValue = fc.oneof(
      fc.constantFrom(
        ISSUER,
        `${ISSUER}/`,
        STS,
        API,
        'user:alice',
        'user:admin',
        NOW / 1000 + 60,
        0,
        null,
        true,
      ),
      fc.jsonValue({ maxDepth: 2 }),
    );
    type Mutation = (token: string) => string;
    const mutation: fc.Arbitrary<Mutation> = fc.oneof(
      fc.tuple(fc.nat(), char).map(
        ([at, c]): Mutation =>
          (t) => {
            const i = at % t.length;
            return t.slice(0, i) + c + t.slice(i + 1);
          },
      ),
      fc.tuple(fc.nat(), char).map(
        ([at, c]): Mutation =>
          (t) => {
            const i = at % (t.length + 1);
            return t.slice(0, i) + c + t.slice(i);
          },
      ),
      fc.tuple(fc.nat(), fc.integer({ min: 1, max: 8 })).map(
        ([at, n]): Mutation =>
          (t) => {
            const i = at % t.length;
            return t.slice(0, i) + t.slice(i + n);
          },
      ),
      fc.nat().map(
        (at): Mutation =>
          (t) =>
            t.slice(0, at % t.length),
      ),
      fc.string({ maxLength: 8 }).map(
        (text): Mutation =>
          (t) =>
            t + text,
      ),
      fc.tuple(fc.nat(), fc.nat()).map(
        ([segment, bit]): Mutation =>
          (t) => {
            const parts = t.split('.');
            const index = segment % parts.length;
            const bytes = Buffer.from(parts[index] ?? '', 'base64url');
            if (bytes.length === 0) return t;
            const at = bit % (bytes.length * 8);
            bytes[at >> 3]! ^= 1 << (at & 7);
            parts[index] = bytes.toString('base64url');
            return parts.join('.');
          },
      ),
      fc
        .constantFrom(
          'swap01',
          'swap12',
          'drop0',
          'drop1',
          'drop2',
          'dup0',
          'dup2',
          'empty0',
          'empty1',
          'empty2',
        )
        .map(
          (op): Mutation =>
            (t) => {
              const p = t.split('.');
              const [a = '', b = '', c = ''] = p;
              const result: Record<string, string[]> = {
                swap01: [b, a, c],
                swap12: [a, c, b],
                drop0: [b, c],
                drop1: [a, c],
                drop2: [a, b],
                dup0: [a, a, b, c],
                dup2: [a, b, c, c],
                empty0: ['', b, c],
                empty1: [a, '', c],
                empty2: [a, b, ''],
              };
              return result[op]!.join('.');
            },
        ),
      fc
        .record(
          {
            alg: fc.constantFrom('ES256', 'none', 'HS256', 'RS256', 'ES384', 'es256'),
            kid: fc.oneof(fc.constant(kid), fc.string({ maxLength: 10 })),
            typ: fc.constantFrom('JWT', 'at+jwt', 'JOSE'),
            jku: fc.constant('https://evil.example/jwks'),
            crit: fc.constant(['exp']),
            cty: fc.constant('JWT'),
          },
          { requiredKeys: [] },
        )
        .map(
          (header): Mutation =>
            (t) =>
              [segmentText(header), ...t.split('.').slice(1)].join('.'),
        ),
      fc
        .dictionary(
          fc.constantFrom('iss', 'sub', 'aud', 'exp', 'nbf', 'iat', 'act', 'scope', 'jti'),
          claimValue,
          {
            maxKeys: 3,
          },
        )
        .map(
          (overrides): Mutation =>
            (t) => {
              const [h, p, s] = t.split('.');
              let claims: Record<string, unknown> = {};
              try {
                claims = JSON.parse(Buffer.from(p ?? '', 'base64url').toString()) as Record<string, unknown>;
              } catch {
                claims = {};
              }
              return [h, segmentText({ ...claims, ...overrides }), s].join('.');
            },
        ),
      fc.uint8Array({ maxLength: 80 }).map(
        (bytes): Mutation =>
          (t) => {
            const [h, p] = t.split('.');
            return `${h}.${p}.${Buffer.from(bytes).toString('base64url')}`;
          },
      ),
    );
    const mutated = fc.record({
      role: fc.constantFrom('subject', 'actor'),
      mutations: fc.array(mutation, { minLength: 1, maxLength: 3 }),
    });

    const outcomes = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(mutated, async ({ role, mutations }) => {
        const original = role === 'subject' ? subjectToken : actorToken;
        const token = mutations.reduce((t, mutate) => mutate(t), original);
        const params: Record<string, string> = {
          grant_type: EXCHANGE,
          subject_token: role === 'subject' ? token : subjectToken,
          subject_token_type: JWT,
          audience: API,
        };
        if (role === 'actor') Object.assign(params, { actor_token: token, actor_token_type: JWT });
        const body = new URLSearchParams(params).toString();
        const outcome = await invoke(apiEvent({ body, headers: { 'content-type': FORM } }));
        tally(outcomes, outcome);
        const expected = token === original ? '200' : 'invalid_request';
        if ((outcome.error ?? String(outcome.status)) !== expected) {
          throw new Error(
            `expected ${expected}, got ${JSON.stringify(outcome)} for ${JSON.stringify(token)}`,
          );
        }
      }),
      { numRuns: RUNS },
    );
    expect(outcomes.get('invalid_request') ?? 0).toBeGreaterThan(RUNS * 0.9);
    expect(jwksFetches).toBeLessThanOrEqual(1); // one fetch, then cooldown: mutated kids cannot hammer the issuer
  });
});
