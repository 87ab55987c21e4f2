import { beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../../lib/config/config.ts';
import {
  createTokenVerifier,
  type TokenRole,
  type TokenVerifier,
} from '../../../lib/exchange/subject-token.ts';
import { TOKEN_TYPE } from '../../../lib/shared/claims.ts';
import { OAuthError } from '../../../lib/shared/errors.ts';
import type { Signer } from '../../../lib/signers/signer.ts';
import { MemoryStore } from '../../../lib/stores/memory.ts';
import { frozenClock } from '../../support/clock.ts';
import { buildConfig, STS_ISSUER, trustedIssuerEntry } from '../../support/config.ts';
import { createFakeFetch, unreachable } from '../../support/fetch.ts';
import { createFakeIssuer, type FakeIssuer, GITHUB_ISSUER } from '../../support/issuer.ts';
import { b64url, generateTestKey, signCompact, type TestKey, testSigner } from '../../support/keys.ts';
import { issueSelfToken } from '../../support/self-token.ts';

const ES_ISSUER = 'https://es.issuer.test';
const ONE_TIME_ISSUER = 'https://one-time.issuer.test';
const SKEW = 30;

const clock = frozenClock();
const now = clock.seconds();
const fake = createFakeFetch();
let github: FakeIssuer; // RS256, JWKS found through discovery
let es: FakeIssuer; // pins ES256, configured jwksUri
let oneTime: FakeIssuer;
let stranger: TestKey; // a key no issuer publishes
let signer: Signer;
let store: MemoryStore;
let config: Config;
let verify: TokenVerifier;

beforeAll(async () => {
  [github, es, oneTime, stranger, signer] = await Promise.all([
    createFakeIssuer({ clock, fetch: fake, alg: 'RS256', audience: STS_ISSUER }),
    createFakeIssuer({ clock, fetch: fake, alg: 'ES256', issuer: ES_ISSUER, audience: 'api://sts' }),
    createFakeIssuer({ clock, fetch: fake, alg: 'ES256', issuer: ONE_TIME_ISSUER, audience: STS_ISSUER }),
    generateTestKey('ES256'),
    testSigner('ES256'),
  ]);
  config = buildConfig({
    trustedIssuers: [
      trustedIssuerEntry('github', github.issuer, { algorithms: ['RS256'] }),
      trustedIssuerEntry('es', es.issuer, {
        algorithms: ['ES256'],
        audiences: ['api://sts'],
        jwksUri: es.jwksUri,
      }),
      trustedIssuerEntry('one-time', oneTime.issuer, { algorithms: ['ES256'], oneTimeUse: true }),
    ],
  });
  store = new MemoryStore();
  verify = createTokenVerifier({ config, signer, store, clock, fetch: fake.fetch });
});

/** The private reason `verify` refuses `token` with; fails unless it is an invalid_request (400). */
async function refusal(
  token: string,
  type: string = TOKEN_TYPE.jwt,
  role: TokenRole = 'subject',
): Promise<string> {
  const error = await verify(token, type, role).then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(OAuthError);
  expect([(error as OAuthError).code, (error as OAuthError).status]).toEqual(['invalid_request', 400]);
  return (error as OAuthError).reason;
}

/** Signs a token with the service's own signer, whatever its header says. */
async function selfSigned(
  header: Record<string, unknown>,
  payload: Record<string, unknown>,
): Promise<string> {
  const input = `${b64url(header)}.${b64url(payload)}`;
  return `${input}.${Buffer.from(await signer.sign(Buffer.from(input))).toString('base64url')}`;
}

describe('createTokenVerifier: external issuers', () => {
  it('accepts a valid token and names its issuer', async () => {
    const token = await github.token({ repository: 'acme/app' });
    const verified = await verify(token, TOKEN_TYPE.jwt, 'subject');
    expect(verified.issuerName).toBe('github');
    expect(verified.issuer).toBe(config.trustedIssuers[0]);
    expect(verified.claims).toMatchObject({
      iss: github.issuer,
      sub: 'repo:acme/app:ref:refs/heads/main',
      repository: 'acme/app',
    });
  });

  it.each([TOKEN_TYPE.jwt, TOKEN_TYPE.idToken, TOKEN_TYPE.accessToken])('accepts it as %s', async (type) => {
    await expect(verify(await github.token(), type, 'subject')).resolves.toBeDefined();
  });

  it('accepts a configured audience and an aud array that contains it', async () => {
    await expect(verify(await es.token(), TOKEN_TYPE.jwt, 'subject')).resolves.toBeDefined();
    await expect(
      verify(await es.token({ aud: ['other', 'api://sts'] }), TOKEN_TYPE.jwt, 'subject'),
    ).resolves.toBeDefined();
  });

  it('prefixes reasons with the role', async () => {
    expect(await refusal(await github.token({ exp: now - 60 }), TOKEN_TYPE.jwt, 'actor')).toBe(
      'actor_token.expired',
    );
  });

  describe('time, with a skew of 30 s', () => {
    it.each([
      ['exp just within the skew', { exp: now - SKEW + 1 }],
      ['nbf in the future within the skew', { nbf: now + SKEW }],
      ['iat in the future within the skew', { iat: now + SKEW }],
      ['no nbf nor iat', { nbf: undefined, iat: undefined }],
    ])('accepts %s', async (_what, claims) => {
      await expect(verify(await github.token(claims), TOKEN_TYPE.jwt, 'subject')).resolves.toBeDefined();
    });

    it.each([
      ['expired beyond the skew', { exp: now - SKEW - 1 }, 'subject_token.expired'],
      ['nbf in the future beyond the skew', { nbf: now + SKEW + 1 }, 'subject_token.claim_nbf'],
      ['iat in the future beyond the skew', { iat: now + SKEW + 1 }, 'subject_token.iat_in_future'],
      ['no exp', { exp: undefined }, 'subject_token.claim_exp'],
      ['a string exp', { exp: String(now + 60) }, 'subject_token.claim_exp'],
    ])('refuses %s', async (_what, claims, reason) => {
      expect(await refusal(await github.token(claims))).toBe(reason);
    });
  });

  describe('issuer and audience', () => {
    it.each([
      ['another audience', { aud: 'https://evil.test' }, 'subject_token.claim_aud'],
      ['no audience', { aud: undefined }, 'subject_token.claim_aud'],
      ['the audience of another trusted issuer', { aud: 'api://sts' }, 'subject_token.claim_aud'],
      ['an unknown issuer', { iss: 'https://evil.test' }, 'subject_token.untrusted_issuer'],
      ['the issuer with a trailing slash', { iss: `${GITHUB_ISSUER}/` }, 'subject_token.untrusted_issuer'],
      ['the issuer in another case', { iss: GITHUB_ISSUER.toUpperCase() }, 'subject_token.untrusted_issuer'],
      ['no issuer', { iss: undefined }, 'subject_token.untrusted_issuer'],
      ['an issuer array', { iss: [GITHUB_ISSUER] }, 'subject_token.untrusted_issuer'],
      ['no sub', { sub: undefined }, 'subject_token.claim_sub'],
      ['an empty sub', { sub: '' }, 'subject_token.missing_sub'],
    ])('refuses %s', async (_what, claims, reason) => {
      expect(await refusal(await github.token(claims))).toBe(reason);
    });

    it("refuses one trusted issuer's claims signed with another trusted issuer's key", async () => {
      // github pins RS256; the ES256 key of the `es` issuer is refused before any key lookup
      expect(await refusal(await github.token({}, { key: es.key }))).toBe('subject_token.alg_not_allowed');
    });
  });

  describe('algorithms and signatures', () => {
    it('refuses an algorithm the issuer does not pin (RS256 token, issuer pins ES256)', async () => {
      const token = await es.token({}, { key: github.key });
      expect(await refusal(token)).toBe('subject_token.alg_not_allowed');
    });

    it.each(['none', 'None', 'NONE', 'nOnE'])('refuses alg %s with an empty signature', async (alg) => {
      const payload = { iss: github.issuer, sub: 'admin', aud: STS_ISSUER, exp: now + 60 };
      const unsigned = `${b64url({ alg, typ: 'JWT' })}.${b64url(payload)}.`;
      expect(await refusal(unsigned)).toBe('subject_token.malformed');
      expect(await refusal(`${unsigned}c2ln`)).toBe('subject_token.alg_not_allowed');
    });

    it.each([
      ['PEM', 'pem'],
      ['DER', 'der'],
    ])('refuses HS256 signed with the public key bytes (%s)', async (_what, format) => {
      const secret = github.key.publicKey.export({ type: 'spki', format: format as 'pem' });
      const payload = { iss: github.issuer, sub: 'admin', aud: STS_ISSUER, exp: now + 60, iat: now };
      const token = signCompact(
        { alg: 'HS256', kid: github.key.kid, typ: 'JWT' },
        payload,
        Buffer.from(secret),
      );
      expect(await refusal(token)).toBe('subject_token.alg_not_allowed');
    });

    it('refuses HS256 keyed with the JWK text', async () => {
      const payload = { iss: github.issuer, sub: 'admin', aud: STS_ISSUER, exp: now + 60 };
      const token = signCompact(
        { alg: 'HS256', typ: 'JWT' },
        payload,
        Buffer.from(JSON.stringify(github.key.jwk)),
      );
      expect(await refusal(token)).toBe('subject_token.alg_not_allowed');
    });

    it('refuses a signature by another key under a published kid', async () => {
      const token = await es.token({}, { key: stranger, header: { kid: es.key.kid } });
      expect(await refusal(token)).toBe('subject_token.bad_signature');
    });

    it('refuses an unpublished kid', async () => {
      expect(await refusal(await es.token({}, { key: stranger }))).toBe('subject_token.unknown_kid');
    });

    it('refuses a tampered payload', async () => {
      const [header, , signature] = (await github.token()).split('.');
      const forged = b64url({ iss: github.issuer, sub: 'admin', aud: STS_ISSUER, exp: now + 60 });
      expect(await refusal(`${header}.${forged}.${signature}`)).toBe('subject_token.bad_signature');
    });
  });

  describe('headers', () => {
    it.each([
      ['jku', { jku: 'https://evil.test/jwks' }],
      ['x5u', { x5u: 'https://evil.test/cert.pem' }],
      ['x5c', { x5c: ['MIIB'] }],
      ['jwk', { jwk: { kty: 'EC', crv: 'P-256', x: 'x', y: 'y' } }],
      ['crit', { crit: ['exp'] }],
      ['b64', { b64: false, crit: undefined }],
      ['zip', { zip: 'DEF' }],
    ])('refuses a validly signed token with header %s', async (name, extra) => {
      const header = { alg: 'ES256', kid: es.key.kid, typ: 'JWT', ...extra };
      const payload = { iss: es.issuer, sub: 'alice', aud: 'api://sts', exp: now + 60, iat: now };
      const token = signCompact(JSON.parse(JSON.stringify(header)), payload, es.key.privateKey);
      expect(await refusal(token)).toBe(`subject_token.header_${name}`);
    });

    it.each(['JWT', 'jwt', 'application/jwt'])('refuses a nested JWT (cty %s)', async (cty) => {
      expect(await refusal(await es.token({}, { header: { cty } }))).toBe('subject_token.nested_jwt');
    });

    it('refuses duplicate claims even when validly signed', async () => {
      const payload = `{"iss":"${es.issuer}","sub":"alice","aud":"api://sts","exp":${now + 60},"sub":"admin"}`;
      const token = signCompact({ alg: 'ES256', kid: es.key.kid, typ: 'JWT' }, payload, es.key.privateKey);
      expect(await refusal(token)).toBe('subject_token.malformed');
    });
  });

  it('refuses a token over maxTokenBytes before parsing it', async () => {
    const token = await github.token({ pad: 'x'.repeat(config.maxTokenBytes) });
    expect(await refusal(token)).toBe('subject_token.too_large');
    expect(await refusal('x'.repeat(config.maxTokenBytes + 1))).toBe('subject_token.too_large');
  });

  it.each([
    ['not a JWT', 'opaque-access-token'],
    ['a JWE', 'a.b.c.d.e'],
    ['empty', ''],
  ])('refuses %s as malformed', async (_what, token) => {
    expect(await refusal(token)).toBe('subject_token.malformed');
  });

  describe('token types', () => {
    it.each(['at+jwt', 'application/at+jwt', 'AT+JWT'])(
      'refuses an external access token (typ %s) presented as id_token',
      async (typ) => {
        const token = await github.token({}, { header: { typ } });
        expect(await refusal(token, TOKEN_TYPE.idToken)).toBe('subject_token.token_type_mismatch');
        await expect(verify(token, TOKEN_TYPE.accessToken, 'subject')).resolves.toBeDefined();
      },
    );
  });

  describe('one-time-use issuers', () => {
    it('accepts a token with jti', async () => {
      await expect(verify(await oneTime.token(), TOKEN_TYPE.jwt, 'subject')).resolves.toMatchObject({
        issuerName: 'one-time',
        issuer: { oneTimeUse: true },
      });
    });

    it('refuses a token without jti', async () => {
      expect(await refusal(await oneTime.token({ jti: undefined }))).toBe('subject_token.missing_jti');
    });

    it('does not need jti from other issuers', async () => {
      await expect(
        verify(await github.token({ jti: undefined }), TOKEN_TYPE.jwt, 'subject'),
      ).resolves.toBeDefined();
    });
  });

  it('passes an issuer outage on as 503 temporarily_unavailable', async () => {
    const down = createFakeFetch();
    down.on(`${github.issuer}/.well-known/openid-configuration`, unreachable);
    const offline = createTokenVerifier({ config, signer, store, clock, fetch: down.fetch });
    const error = await offline(await github.token(), TOKEN_TYPE.jwt, 'subject').catch(
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(OAuthError);
    expect([(error as OAuthError).code, (error as OAuthError).status]).toEqual([
      'temporarily_unavailable',
      503,
    ]);
    expect((error as OAuthError).retryAfter).toBeGreaterThan(0);
  });

  it('fetches each issuer key set once across tokens', async () => {
    const counting = createFakeFetch();
    for (const url of [github.discoveryUrl, github.jwksUri])
      counting.on(url, (...args) => fake.fetch(...args));
    const cached = createTokenVerifier({ config, signer, store, clock, fetch: counting.fetch });
    for (let i = 0; i < 3; i++) await cached(await github.token(), TOKEN_TYPE.jwt, 'subject');
    expect(counting.calls).toEqual([github.discoveryUrl, github.jwksUri]);
  });
});

describe('createTokenVerifier: tokens of this service (self)', () => {
  const deps = () => ({ config, signer, store, clock });

  it.each([TOKEN_TYPE.accessToken, TOKEN_TYPE.jwt])('accepts a recorded token as %s', async (type) => {
    const minted = await issueSelfToken(deps(), { scope: 'read write' });
    const verified = await verify(minted.token, type, 'subject');
    expect(verified.issuerName).toBe('self');
    expect(verified.issuer).toBeUndefined();
    expect(verified.claims).toEqual(minted.claims);
  });

  it('refuses it as an id_token', async () => {
    const minted = await issueSelfToken(deps());
    expect(await refusal(minted.token, TOKEN_TYPE.idToken)).toBe('subject_token.token_type_mismatch');
  });

  it.each([
    ['JWT', 'JWT'],
    ['absent', undefined],
    ['id token style', 'id_token+jwt'],
  ])('refuses typ %s', async (_what, typ) => {
    const minted = await issueSelfToken(deps());
    const { kid, alg } = await signer.activeKey();
    const token = await selfSigned({ alg, kid, ...(typ ? { typ } : {}) }, minted.claims);
    expect(await refusal(token)).toBe('subject_token.self_not_at_jwt');
  });

  it('accepts typ application/at+jwt', async () => {
    const minted = await issueSelfToken(deps());
    const { kid, alg } = await signer.activeKey();
    const token = await selfSigned({ alg, kid, typ: 'application/at+jwt' }, minted.claims);
    await expect(verify(token, TOKEN_TYPE.jwt, 'subject')).resolves.toBeDefined();
  });

  it('refuses a token whose TOKEN# record is absent', async () => {
    const minted = await issueSelfToken(deps(), { record: false });
    expect(await refusal(minted.token)).toBe('subject_token.self_unknown_jti');
  });

  it('refuses a token revoked by jti', async () => {
    const minted = await issueSelfToken(deps());
    await store.revokeToken(minted.jti, now);
    expect(await refusal(minted.token)).toBe('subject_token.revoked');
  });

  it('refuses a token revoked by subject, and not one issued after', async () => {
    const sub = 'repo:acme/revoked:ref:refs/heads/main';
    const before = await issueSelfToken(deps(), { sub });
    await store.revokeSubject('https://issuer.test', sub, now + 1);
    expect(await refusal(before.token)).toBe('subject_token.revoked');
    const after = await issueSelfToken(deps(), { sub, iat: now + 1 });
    await expect(verify(after.token, TOKEN_TYPE.jwt, 'subject')).resolves.toBeDefined();
  });

  it.each([
    ['for a downstream audience', { aud: 'https://api.test' }, 'subject_token.claim_aud'],
    ['expired', { iat: now - 400, lifetime: 300 }, 'subject_token.expired'],
    ['issued in the future', { iat: now + 120 }, 'subject_token.claim_nbf'],
  ])('refuses a token %s', async (_what, overrides, reason) => {
    const minted = await issueSelfToken(deps(), overrides);
    expect(await refusal(minted.token)).toBe(reason);
  });

  it('refuses a token signed by another key under its kid', async () => {
    const minted = await issueSelfToken(deps());
    const { kid } = await signer.activeKey();
    const token = signCompact({ alg: 'ES256', kid, typ: 'at+jwt' }, minted.claims, stranger.privateKey);
    expect(await refusal(token)).toBe('subject_token.bad_signature');
  });

  it('refuses a token of another signer', async () => {
    const other = await testSigner('ES256');
    const minted = await issueSelfToken({ ...deps(), signer: other });
    expect(await refusal(minted.token)).toBe('subject_token.unknown_kid');
  });

  it('refuses a self token with header jwk pointing at an attacker key', async () => {
    const minted = await issueSelfToken(deps());
    const token = signCompact(
      { alg: 'ES256', kid: stranger.kid, typ: 'at+jwt', jwk: stranger.jwk },
      minted.claims,
      stranger.privateKey,
    );
    expect(await refusal(token)).toBe('subject_token.header_jwk');
  });
});
