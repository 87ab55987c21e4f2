import { createPublicKey } from 'node:crypto';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLocalJWKSet, type JWK, jwtVerify } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { mintAccessToken } from '../../../lib/exchange/access-token.ts';
import { SIGNING_ALGORITHMS, type SigningAlgorithm } from '../../../lib/shared/claims.ts';
import {
  createLocalSigner,
  generateSigningKey,
  loadOrCreateLocalSigner,
  publicJwk,
} from '../../../lib/signers/local.ts';
import type { Signer } from '../../../lib/signers/signer.ts';
import { frozenClock } from '../../support/clock.ts';
import rfc7638 from '../../vectors/rfc7638.json' with { type: 'json' };

const dir = mkdtempSync(join(tmpdir(), 'sts-local-signer-'));
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k'];

describe('publicJwk', () => {
  it('computes the RFC 7638 §3.1 example thumbprint as kid', async () => {
    const key = createPublicKey({ key: rfc7638.jwk as JWK as never, format: 'jwk' });
    const jwk = await publicJwk(key, 'RS256');
    expect(jwk).toEqual({
      kty: 'RSA',
      n: rfc7638.jwk.n,
      e: rfc7638.jwk.e,
      kid: rfc7638.thumbprint,
      alg: 'RS256',
      use: 'sig',
    });
  });

  it('gives the private and the public half the same kid', async () => {
    const key = generateSigningKey('ES256');
    expect((await publicJwk(key, 'ES256')).kid).toBe((await publicJwk(createPublicKey(key), 'ES256')).kid);
  });
});

describe('createLocalSigner', () => {
  it('publishes the active key first, then the extra keys', async () => {
    const old = await publicJwk(generateSigningKey('ES256'), 'ES256');
    const signer = await createLocalSigner(generateSigningKey('ES256'), 'ES256', { extraPublicKeys: [old] });
    const keys = await signer.publicKeys();
    expect(keys.map((key) => key.kid)).toEqual([(await signer.activeKey()).kid, old.kid]);
  });

  it('signs ES256 as the 64-byte JOSE r||s', async () => {
    const signer = await createLocalSigner(generateSigningKey('ES256'), 'ES256');
    expect(await signer.sign(Buffer.from('input'))).toHaveLength(64);
  });
});

describe('loadOrCreateLocalSigner', () => {
  // One key file per algorithm, created once: generating RSA keys is slow.
  const created = new Map<SigningAlgorithm, { path: string; signer: Signer }>();
  beforeAll(async () => {
    for (const alg of SIGNING_ALGORITHMS) {
      const path = join(dir, alg, 'nested', 'signing-key.json');
      created.set(alg, { path, signer: await loadOrCreateLocalSigner(path, alg) });
    }
  });

  it.each(SIGNING_ALGORITHMS)('creates a %s key file readable only by its owner (0600)', (alg) => {
    const { path } = created.get(alg)!;
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(path, 'utf8'))).toMatchObject({ alg, jwk: { d: expect.any(String) } });
  });

  it.each(SIGNING_ALGORITHMS)('publishes only the public members of the %s key', async (alg) => {
    const [jwk] = await created.get(alg)!.signer.publicKeys();
    for (const member of PRIVATE_MEMBERS) expect(jwk).not.toHaveProperty(member);
    expect(jwk).toMatchObject({ alg, use: 'sig', kty: alg === 'ES256' ? 'EC' : 'RSA' });
  });

  it.each(SIGNING_ALGORITHMS)(
    'reloads the same %s key: same kid, and old tokens still verify',
    async (alg) => {
      const { path, signer } = created.get(alg)!;
      const reloaded = await loadOrCreateLocalSigner(path, alg);
      expect(await reloaded.activeKey()).toEqual(await signer.activeKey());
      expect(await reloaded.publicKeys()).toEqual(await signer.publicKeys());

      const clock = frozenClock();
      const minted = await mintAccessToken(signer, {
        iss: 'https://sts.test',
        sub: 'alice',
        aud: 'https://api.test',
        clientId: 'c',
        scope: undefined,
        act: undefined,
        iat: clock.seconds(),
        lifetime: 60,
        copied: {},
      });
      const keys = createLocalJWKSet({ keys: [...(await reloaded.publicKeys())] });
      await expect(
        jwtVerify(minted.token, keys, { algorithms: [alg], currentDate: new Date(clock()) }),
      ).resolves.toBeDefined();
    },
  );

  it('refuses a key file of another algorithm', async () => {
    const path = join(dir, 'mismatch.json');
    await loadOrCreateLocalSigner(path, 'ES256');
    await expect(loadOrCreateLocalSigner(path, 'RS256')).rejects.toThrow(Error);
    await expect(loadOrCreateLocalSigner(path, 'PS256')).rejects.toThrow(Error);
    expect(JSON.parse(readFileSync(path, 'utf8')).alg).toBe('ES256');
  });

  it('refuses a corrupt key file rather than replacing it', async () => {
    const path = join(dir, 'corrupt.json');
    writeFileSync(path, '{not json');
    await expect(loadOrCreateLocalSigner(path, 'ES256')).rejects.toThrow();
    expect(readFileSync(path, 'utf8')).toBe('{not json');
  });
});
