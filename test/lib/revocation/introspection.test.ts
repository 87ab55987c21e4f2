import type { KeyObject } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../../lib/config/config.ts';
import { createOwnTokenVerifier } from '../../../lib/exchange/own-token.ts';
import { createIntrospection, type Introspect } from '../../../lib/revocation/introspection.ts';
import { OAuthError, temporarilyUnavailable } from '../../../lib/shared/errors.ts';
import { createLogger, silentLogger } from '../../../lib/shared/log.ts';
import { createLocalSigner, generateSigningKey, publicJwk } from '../../../lib/signers/local.ts';
import type { Signer } from '../../../lib/signers/signer.ts';
import { MemoryStore } from '../../../lib/stores/memory.ts';
import type { TokenStore } from '../../../lib/stores/store.ts';
import { type FrozenClock, frozenClock } from '../../support/clock.ts';
import { buildConfig } from '../../support/config.ts';
import { b64url, signCompact, testSigner } from '../../support/keys.ts';
import { issueSelfToken } from '../../support/self-token.ts';
import { type OpenedStore, STORE_KINDS } from '../../support/token-stores.ts';

const INACTIVE = { active: false };

describe.each(STORE_KINDS)('introspection on $name', (kind) => {
  let opened: OpenedStore;
  let store: TokenStore;
  let config: Config;
  let key: KeyObject;
  let kid: string;
  let signer: Signer;
  let clock: FrozenClock;
  let introspect: Introspect;
  const lines: string[] = [];

  beforeAll(async () => {
    opened = await kind.open();
    store = opened.store;
    config = buildConfig();
    key = generateSigningKey('ES256');
    signer = await createLocalSigner(key, 'ES256');
    kid = (await signer.activeKey()).kid;
    clock = frozenClock();
    introspect = createIntrospection({
      store,
      clock,
      logger: createLogger('debug', (line) => lines.push(line)),
      verifyOwnToken: createOwnTokenVerifier({ config, signer, clock }),
    });
  });
  afterAll(() => opened?.close());

  const issue = (overrides: Parameters<typeof issueSelfToken>[1] = {}) =>
    issueSelfToken({ config, signer, store, clock }, { iat: clock.seconds(), ...overrides });

  /** A token signed with our key but shaped by hand (what mintAccessToken would never produce). */
  const handMade = (header: Record<string, unknown>, payload: Record<string, unknown>) =>
    signCompact({ alg: 'ES256', kid, typ: 'at+jwt', ...header }, payload, key);

  it('answers active with the RFC 7662 fields and act for a valid token', async () => {
    const { token, jti } = await issue({
      sub: 'alice',
      aud: 'https://api.test',
      clientId: 'ci',
      scope: 'read write',
      act: { sub: 'service:deployer', iss: 'https://issuer.test' },
      lifetime: 300,
      copied: { email: 'alice@example.com' },
    });
    const now = clock.seconds();
    expect(await introspect(token)).toEqual({
      active: true,
      token_type: 'Bearer',
      iss: config.issuer,
      sub: 'alice',
      aud: 'https://api.test',
      client_id: 'ci',
      scope: 'read write',
      act: { sub: 'service:deployer', iss: 'https://issuer.test' },
      iat: now,
      nbf: now,
      exp: now + 300,
      jti,
      email: 'alice@example.com',
    });
  });

  it('never lets a copied claim shadow active or token_type', async () => {
    const { token } = await issue({ copied: { active: false, token_type: 'N_A' } });
    expect(await introspect(token)).toMatchObject({ active: true, token_type: 'Bearer' });
  });

  it('answers exactly {"active":false} once the token expired (exp compared on read)', async () => {
    const { token } = await issue({ lifetime: 60 });
    clock.advance(60 + config.clockSkew + 1);
    expect(await introspect(token)).toEqual(INACTIVE);
  });

  it('answers exactly {"active":false} for a token revoked by jti', async () => {
    const { token, jti } = await issue();
    expect((await introspect(token)).active).toBe(true);
    await store.revokeToken(jti, clock.seconds());
    expect(await introspect(token)).toEqual(INACTIVE);
  });

  it('answers exactly {"active":false} for a token revoked by subject, and active for a later one', async () => {
    const sub = `subject-${kind.name}`;
    const { token } = await issue({ sub });
    await store.revokeSubject('https://issuer.test', sub, clock.seconds() + 1);
    expect(await introspect(token)).toEqual(INACTIVE);
    clock.advance(2);
    const later = await issue({ sub });
    expect((await introspect(later.token)).active).toBe(true);
  });

  it('answers exactly {"active":false} for a validly signed token that was never recorded', async () => {
    const { token } = await issue({ record: false });
    expect(await introspect(token)).toEqual(INACTIVE);
  });

  it('answers exactly {"active":false} for a token signed by another key', async () => {
    const foreign = await issueSelfToken(
      { config, signer: await testSigner(), store, clock },
      { iat: clock.seconds() },
    );
    expect(await introspect(foreign.token)).toEqual(INACTIVE);
  });

  it('answers exactly {"active":false} for our signature over an altered payload', async () => {
    const { token, claims } = await issue({ scope: 'read' });
    const [header, , signature] = token.split('.');
    expect(
      await introspect(`${header}.${b64url({ ...claims, scope: 'read write admin' })}.${signature}`),
    ).toEqual(INACTIVE);
  });

  it('answers exactly {"active":false} for tokens of another issuer, even signed with our key', async () => {
    const now = clock.seconds();
    const payload = { iss: 'https://elsewhere.test', sub: 'a', aud: 'x', iat: now, exp: now + 60, jti: 'j' };
    expect(await introspect(handMade({}, payload))).toEqual(INACTIVE);
  });

  it.each([
    ['typ JWT instead of at+jwt', { typ: 'JWT' }],
    ['no typ', { typ: undefined }],
    ['a jku header', { jku: 'https://attacker.test/jwks' }],
    ['an embedded jwk', { jwk: { kty: 'EC' } }],
    ['alg ES384', { alg: 'ES384' }],
  ])('answers exactly {"active":false} for a token with %s', async (_name, header) => {
    const { claims } = await issue();
    const shaped = Object.fromEntries(
      Object.entries({ alg: 'ES256', kid, typ: 'at+jwt', ...header }).filter(
        ([, value]) => value !== undefined,
      ),
    );
    const token = signCompact(shaped, claims as Record<string, unknown>, key, 'ES256');
    expect(await introspect(token)).toEqual(INACTIVE);
  });

  it('answers exactly {"active":false} for an HS256 token keyed with our public JWK', async () => {
    const { claims } = await issue();
    const secret = Buffer.from(JSON.stringify(await publicJwk(key, 'ES256')));
    const token = signCompact(
      { alg: 'HS256', kid, typ: 'at+jwt' },
      claims as Record<string, unknown>,
      secret,
    );
    expect(await introspect(token)).toEqual(INACTIVE);
  });

  it('answers exactly {"active":false} for a token without jti', async () => {
    const { claims } = await issue();
    const { jti: _jti, ...withoutJti } = claims as Record<string, unknown>;
    expect(await introspect(handMade({}, withoutJti))).toEqual(INACTIVE);
  });

  it.each([
    ['an empty string', ''],
    ['garbage', 'not a token'],
    ['three dots', 'a.b.c'],
    ['alg none', `${b64url({ alg: 'none', typ: 'at+jwt' })}.${b64url({ iss: 'https://sts.test' })}.`],
    ['a JWE-shaped string', 'a.b.c.d.e'],
    ['an oversized token', `${'a'.repeat(20_000)}.b.c`],
  ])('answers exactly {"active":false} for %s', async (_name, token) => {
    expect(await introspect(token)).toEqual(INACTIVE);
  });

  it('logs the decision with a fingerprint, never the token', async () => {
    const { token } = await issue();
    lines.length = 0;
    await introspect(token);
    await introspect('garbage');
    const logged = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(logged).toMatchObject([
      { message: 'token.introspected', active: true },
      { message: 'token.introspected', active: false, reason: 'malformed' },
    ]);
    for (const line of lines) expect(line).not.toContain(token.split('.')[2]);
  });
});

describe('introspection with other signing algorithms', () => {
  it.each(['RS256', 'PS256'] as const)('answers active for a %s token', async (alg) => {
    const config = buildConfig();
    const signer = await testSigner(alg);
    const clock = frozenClock();
    const store = new MemoryStore();
    const introspect = createIntrospection({
      store,
      clock,
      logger: silentLogger,
      verifyOwnToken: createOwnTokenVerifier({ config, signer, clock }),
    });
    const { token } = await issueSelfToken({ config, signer, store, clock });
    expect((await introspect(token)).active).toBe(true);
  });
});

describe('introspection when a dependency is unavailable', () => {
  it('answers 503 instead of a misleading {"active":false}', async () => {
    const config = buildConfig();
    const signer = await testSigner();
    const clock = frozenClock();
    const store = new MemoryStore();
    const { token } = await issueSelfToken({ config, signer, store, clock });
    store.getToken = async () => {
      throw temporarilyUnavailable('dynamodb.get_token.unavailable');
    };
    const introspect = createIntrospection({
      store,
      clock,
      logger: silentLogger,
      verifyOwnToken: createOwnTokenVerifier({ config, signer, clock }),
    });
    const error = await introspect(token).catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(OAuthError);
    expect((error as OAuthError).status).toBe(503);
  });
});
