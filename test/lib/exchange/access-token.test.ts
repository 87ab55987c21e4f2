import { calculateJwkThumbprint, createLocalJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  type AccessTokenClaims,
  copyClaims,
  mintAccessToken,
  newJti,
} from '../../../lib/exchange/access-token.ts';
import { RESERVED_CLAIMS, SIGNING_ALGORITHMS, type SigningAlgorithm } from '../../../lib/shared/claims.ts';
import { OAuthError } from '../../../lib/shared/errors.ts';
import { createLocalSigner, generateSigningKey } from '../../../lib/signers/local.ts';
import type { Signer } from '../../../lib/signers/signer.ts';
import { frozenClock } from '../../support/clock.ts';
import { testSigner } from '../../support/keys.ts';

const clock = frozenClock();
const iat = clock.seconds();

const input = (overrides: Partial<AccessTokenClaims> = {}): AccessTokenClaims => ({
  iss: 'https://sts.test',
  sub: 'repo:acme/app:environment:prod',
  aud: 'https://deploy.acme.internal',
  clientId: 'deploy-prod',
  scope: undefined,
  act: undefined,
  iat,
  lifetime: 300,
  copied: {},
  ...overrides,
});

const signers = new Map<SigningAlgorithm, Signer>();
beforeAll(async () => {
  // One RSA key serves both RSA algorithms: generating RSA keys is slow.
  const rsa = generateSigningKey('RS256');
  signers.set('ES256', await testSigner('ES256'));
  signers.set('RS256', await createLocalSigner(rsa, 'RS256'));
  signers.set('PS256', await createLocalSigner(rsa, 'PS256'));
});

describe.each(SIGNING_ALGORITHMS)('mintAccessToken with a local %s signer', (alg) => {
  it('signs an RFC 9068 token that jose verifies with the published keys', async () => {
    const signer = signers.get(alg)!;
    const minted = await mintAccessToken(signer, input({ scope: 'deploy:read' }));
    const keys = await signer.publicKeys();
    const { payload, protectedHeader } = await jwtVerify(
      minted.token,
      createLocalJWKSet({ keys: [...keys] }),
      {
        algorithms: [alg],
        typ: 'at+jwt',
        issuer: 'https://sts.test',
        audience: 'https://deploy.acme.internal',
        currentDate: new Date(clock()),
      },
    );
    expect(protectedHeader).toEqual({ alg, kid: keys[0]?.kid, typ: 'at+jwt' });
    expect(payload).toEqual(minted.claims);
  });

  it('uses the RFC 7638 thumbprint of the public key as kid', async () => {
    const signer = signers.get(alg)!;
    const [jwk] = await signer.publicKeys();
    const { kid: _kid, alg: _alg, use: _use, ...key } = jwk!;
    const minted = await mintAccessToken(signer, input());
    expect(decodeProtectedHeader(minted.token).kid).toBe(await calculateJwkThumbprint(key, 'sha256'));
    expect((await signer.activeKey()).kid).toBe(jwk?.kid);
  });
});

describe('mintAccessToken claims', () => {
  const signer = () => signers.get('ES256')!;

  it('sets exactly the claims DESIGN.md lists', async () => {
    const minted = await mintAccessToken(signer(), input());
    expect(decodeJwt(minted.token)).toEqual({
      iss: 'https://sts.test',
      sub: 'repo:acme/app:environment:prod',
      aud: 'https://deploy.acme.internal',
      exp: iat + 300,
      iat,
      nbf: iat,
      jti: minted.jti,
      client_id: 'deploy-prod',
    });
  });

  it('adds scope when any and act when delegated', async () => {
    const act = { sub: 'svc-b', iss: 'https://okta.test', act: { sub: 'svc-a' } };
    const minted = await mintAccessToken(signer(), input({ scope: 'deploy:read deploy:write', act }));
    expect(decodeJwt(minted.token)).toMatchObject({ scope: 'deploy:read deploy:write', act });
  });

  it('leaves out an empty scope', async () => {
    const minted = await mintAccessToken(signer(), input({ scope: '' }));
    expect(decodeJwt(minted.token)).not.toHaveProperty('scope');
  });

  it('adds copied claims, but never over a reserved claim', async () => {
    const hostile = Object.fromEntries([...RESERVED_CLAIMS].map((name) => [name, `evil-${name}`]));
    const minted = await mintAccessToken(
      signer(),
      input({ copied: { ...hostile, repository: 'acme/app', run_id: 42, nested: { a: [1] } } }),
    );
    const claims = decodeJwt(minted.token);
    expect(claims).toEqual({
      iss: 'https://sts.test',
      sub: 'repo:acme/app:environment:prod',
      aud: 'https://deploy.acme.internal',
      exp: iat + 300,
      iat,
      nbf: iat,
      jti: minted.jti,
      client_id: 'deploy-prod',
      repository: 'acme/app',
      run_id: 42,
      nested: { a: [1] },
    });
  });

  it('gives each token a fresh jti of at least 128 bits', async () => {
    const first = await mintAccessToken(signer(), input());
    const second = await mintAccessToken(signer(), input());
    expect(first.jti).not.toBe(second.jti);
    expect(Buffer.from(first.jti, 'base64url').length).toBeGreaterThanOrEqual(16);
  });

  it('refuses to return a token with an empty signature', async () => {
    const broken: Signer = { ...signer(), sign: async () => new Uint8Array() };
    const error = await mintAccessToken(broken, input()).catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(OAuthError);
    expect([(error as OAuthError).code, (error as OAuthError).reason]).toEqual([
      'server_error',
      'signer.empty_signature',
    ]);
  });
});

describe('newJti', () => {
  it('is 22 base64url characters (128 bits) and does not repeat', () => {
    const jtis = new Set(Array.from({ length: 2000 }, newJti));
    expect(jtis.size).toBe(2000);
    for (const jti of jtis) expect(jti).toMatch(/^[A-Za-z0-9_-]{22}$/);
  });
});

describe('copyClaims', () => {
  const source = { sub: 'alice', scope: 'admin', repository: 'acme/app', run_id: '1', empty: '' };

  it('copies only the named, present, non-reserved claims', () => {
    expect(copyClaims(source, ['repository', 'missing', 'sub', 'scope', 'empty'])).toEqual({
      repository: 'acme/app',
      empty: '',
    });
  });

  it.each([...RESERVED_CLAIMS])('never copies %s', (name) => {
    expect(copyClaims({ [name]: 'x' }, [name])).toEqual({});
  });
});
