import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Config } from '../../../lib/config/config.ts';
import { createOwnTokenVerifier } from '../../../lib/exchange/own-token.ts';
import {
  createRevocation,
  parseAdminRevocationRequest,
  parseTokenRequest,
  type Revocation,
  tokenState,
} from '../../../lib/revocation/revocation.ts';
import { OAuthError, temporarilyUnavailable } from '../../../lib/shared/errors.ts';
import { createLogger } from '../../../lib/shared/log.ts';
import type { Signer } from '../../../lib/signers/signer.ts';
import { MemoryStore } from '../../../lib/stores/memory.ts';
import type { TokenStore } from '../../../lib/stores/store.ts';
import { type FrozenClock, frozenClock } from '../../support/clock.ts';
import { buildConfig, trustedIssuerEntry } from '../../support/config.ts';
import { testSigner } from '../../support/keys.ts';
import { issueSelfToken } from '../../support/self-token.ts';
import { type OpenedStore, STORE_KINDS } from '../../support/token-stores.ts';

/** The origin issuer of the tokens issueSelfToken records. */
const ORIGIN = 'https://issuer.test';

const form = (entries: Array<[string, string]>) => {
  const map = new Map<string, string[]>();
  for (const [key, value] of entries) map.set(key, [...(map.get(key) ?? []), value]);
  return map;
};

const codeOf = (run: () => unknown): string | undefined => {
  try {
    run();
  } catch (error) {
    return (error as OAuthError).code;
  }
  return undefined;
};

describe('revocation requests', () => {
  it('reads token and ignores token_type_hint', () => {
    expect(parseTokenRequest(form([['token', 'abc']]))).toEqual({ token: 'abc' });
    expect(
      parseTokenRequest(
        form([
          ['token', 'abc'],
          ['token_type_hint', 'refresh_token'],
        ]),
      ),
    ).toEqual({ token: 'abc' });
  });

  it.each([
    ['no token', []],
    ['an empty token', [['token', '']]],
    [
      'a repeated token',
      [
        ['token', 'a'],
        ['token', 'b'],
      ],
    ],
  ] as Array<[string, Array<[string, string]>]>)('refuses %s with invalid_request', (_name, entries) => {
    expect(codeOf(() => parseTokenRequest(form(entries)))).toBe('invalid_request');
  });

  it('reads exactly one of jti or sub for admin revocation', () => {
    expect(parseAdminRevocationRequest(form([['jti', 'j1']]))).toEqual({ jti: 'j1' });
    expect(parseAdminRevocationRequest(form([['sub', 'alice']]))).toEqual({ sub: 'alice' });
    expect(
      parseAdminRevocationRequest(
        form([
          ['iss', 'github'],
          ['sub', 'alice'],
        ]),
      ),
    ).toEqual({ iss: 'github', sub: 'alice' });
    expect(
      codeOf(() =>
        parseAdminRevocationRequest(
          form([
            ['iss', 'github'],
            ['jti', 'j1'],
          ]),
        ),
      ),
    ).toBe('invalid_request');
    expect(
      codeOf(() =>
        parseAdminRevocationRequest(
          form([
            ['jti', 'j1'],
            ['sub', 'alice'],
          ]),
        ),
      ),
    ).toBe('invalid_request');
    expect(codeOf(() => parseAdminRevocationRequest(form([])))).toBe('invalid_request');
    expect(
      codeOf(() =>
        parseAdminRevocationRequest(
          form([
            ['sub', 'a'],
            ['sub', 'b'],
          ]),
        ),
      ),
    ).toBe('invalid_request');
  });
});

describe.each(STORE_KINDS)('revocation on $name', (kind) => {
  let opened: OpenedStore;
  let store: TokenStore;
  let config: Config;
  let signer: Signer;
  let foreignSigner: Signer;
  let clock: FrozenClock;
  let revocation: Revocation;
  const lines: string[] = [];

  beforeAll(async () => {
    opened = await kind.open();
    store = opened.store;
    config = buildConfig({ trustedIssuers: [trustedIssuerEntry('test', ORIGIN)] });
    [signer, foreignSigner] = await Promise.all([testSigner('ES256'), testSigner('ES256')]);
    clock = frozenClock();
    revocation = createRevocation({
      config,
      store,
      clock,
      logger: createLogger('debug', (line) => lines.push(line)),
      verifyOwnToken: createOwnTokenVerifier({ config, signer, clock }),
    });
  });
  afterAll(() => opened?.close());

  const issue = (overrides: Parameters<typeof issueSelfToken>[1] = {}) =>
    issueSelfToken({ config, signer, store, clock }, { iat: clock.seconds(), ...overrides });

  it('revokes the token its holder presents', async () => {
    const { token, jti } = await issue();
    expect(await tokenState(store, jti, clock.seconds())).toBe('active');
    await revocation.revokeToken(token);
    expect((await store.getToken(jti))?.revokedAt).toBe(clock.seconds());
    expect(await tokenState(store, jti, clock.seconds())).toBe('revoked');
    // Revoking again changes nothing and still succeeds (RFC 7009: idempotent).
    clock.advance(5);
    await revocation.revokeToken(token);
    expect((await store.getToken(jti))?.revokedAt).toBe(clock.seconds() - 5);
  });

  it('revokes an expired token that is validly signed', async () => {
    const { token, jti } = await issue({ lifetime: 60 });
    clock.advance(3600);
    await revocation.revokeToken(token);
    expect((await store.getToken(jti))?.revokedAt).toBe(clock.seconds());
    expect(await tokenState(store, jti, clock.seconds())).toBe('expired');
  });

  it('ignores tokens that are not ours, malformed or forged, without revoking anything', async () => {
    const victim = await issue();
    const forged = await issueSelfToken(
      { config, signer: foreignSigner, store: new MemoryStore(), clock },
      { iat: clock.seconds() },
    );
    // A forgery naming the victim's jti: only a valid signature may revoke it.
    const [header, , signature] = forged.token.split('.');
    const payload = Buffer.from(JSON.stringify({ ...victim.claims })).toString('base64url');
    // And our own header and signature over a payload we did not sign.
    const [ourHeader, , ourSignature] = victim.token.split('.');
    const altered = Buffer.from(JSON.stringify({ ...victim.claims, sub: 'mallory' })).toString('base64url');
    const tokens = [
      forged.token,
      `${header}.${payload}.${signature}`,
      `${ourHeader}.${altered}.${ourSignature}`,
      'garbage',
      'a.b.c',
      '',
    ];
    for (const token of tokens) {
      await expect(revocation.revokeToken(token)).resolves.toBeUndefined();
    }
    expect(await tokenState(store, victim.jti, clock.seconds())).toBe('active');
  });

  it('ignores a validly signed token whose jti was never recorded', async () => {
    const { token, jti } = await issue({ record: false });
    await revocation.revokeToken(token);
    expect(await store.getToken(jti)).toBeUndefined();
  });

  it('revokes by jti for an admin, and reports an unknown jti', async () => {
    const { jti } = await issue();
    expect(await revocation.revokeJti(jti, { admin: 'arn:aws:iam::1:role/admin' })).toEqual({
      jti,
      revoked: true,
    });
    expect(await tokenState(store, jti, clock.seconds())).toBe('revoked');
    expect(await revocation.revokeJti('no-such-jti', { admin: 'x' })).toEqual({
      jti: 'no-such-jti',
      revoked: false,
    });
    expect(await store.getToken('no-such-jti')).toBeUndefined();
  });

  it('revokes every token of a subject issued up to now, including this second, and no other', async () => {
    const sub = `repo:acme/subject-${kind.name}`;
    const older = await issue({ sub, iat: clock.seconds() - 120 });
    const sameSecond = await issue({ sub });
    const other = await issue({ sub: `${sub}-other` });
    const result = await revocation.revokeSubject({ sub }, { admin: 'local-admin' });
    expect(result).toEqual({ iss: ORIGIN, sub, revoked_before: clock.seconds() + 1 });
    expect(await tokenState(store, older.jti, clock.seconds())).toBe('revoked');
    expect(await tokenState(store, sameSecond.jti, clock.seconds())).toBe('revoked');
    expect(await tokenState(store, other.jti, clock.seconds())).toBe('active');
    clock.advance(2);
    const later = await issue({ sub });
    expect(await tokenState(store, later.jti, clock.seconds())).toBe('active');
  });

  it('names the subject by issuer (name or URL); a bare sub is refused when several issuers are trusted', async () => {
    const two = createRevocation({
      config: buildConfig({
        trustedIssuers: [trustedIssuerEntry('test', ORIGIN), trustedIssuerEntry('okta', 'https://okta.test')],
      }),
      store,
      clock,
      logger: createLogger('silent'),
      verifyOwnToken: createOwnTokenVerifier({ config, signer, clock }),
    });
    const sub = `alice-${kind.name}`;
    const mine = await issue({ sub });
    const byUrl = await two.revokeSubject({ iss: 'https://okta.test', sub }, { admin: 'a' });
    expect(byUrl.iss).toBe('https://okta.test');
    expect(await tokenState(store, mine.jti, clock.seconds())).toBe('active'); // okta's alice is not ours
    expect(await two.revokeSubject({ iss: 'test', sub }, { admin: 'a' })).toMatchObject({ iss: ORIGIN, sub });
    expect(await tokenState(store, mine.jti, clock.seconds())).toBe('revoked');
    for (const name of [{ sub }, { iss: 'gitlab', sub }, { iss: 'self', sub }]) {
      const error = await two.revokeSubject(name, { admin: 'a' }).catch((thrown: unknown) => thrown);
      expect((error as OAuthError).code).toBe('invalid_request');
    }
  });

  it('never moves a subject revocation backwards', async () => {
    const sub = `repo:acme/backwards-${kind.name}`;
    clock.advance(100);
    await revocation.revokeSubject({ sub }, { admin: 'a' });
    const revokedBefore = await store.subjectRevokedBefore(ORIGIN, sub);
    clock.advance(-50);
    await revocation.revokeSubject({ sub }, { admin: 'a' });
    expect(await store.subjectRevokedBefore(ORIGIN, sub)).toBe(revokedBefore);
    clock.advance(50);
  });

  it('audit-logs every decision with a fingerprint, never the raw token', async () => {
    const { token } = await issue();
    lines.length = 0;
    await revocation.revokeToken(token);
    await revocation.revokeToken('garbage.token.here');
    const logged = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(logged.map((line) => line.message)).toEqual(['revocation.revoked', 'revocation.ignored']);
    expect(logged[0]).toMatchObject({ by: 'holder', token: expect.stringMatching(/^[0-9a-f]{16}$/) });
    for (const line of lines) {
      expect(line).not.toContain(token);
      expect(line).not.toContain(token.split('.')[2]);
    }
  });
});

describe('revocation when the store is unavailable', () => {
  it('answers 503 rather than pretending the token was revoked', async () => {
    const config = buildConfig();
    const signer = await testSigner();
    const clock = frozenClock();
    const store = new MemoryStore();
    const { token } = await issueSelfToken({ config, signer, store, clock });
    store.revokeToken = async () => {
      throw temporarilyUnavailable('dynamodb.revoke_token.unavailable');
    };
    const revocation = createRevocation({
      config,
      store,
      clock,
      logger: createLogger('silent'),
      verifyOwnToken: createOwnTokenVerifier({ config, signer, clock }),
    });
    const error = await revocation.revokeToken(token).catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(OAuthError);
    expect((error as OAuthError).status).toBe(503);
  });
});
