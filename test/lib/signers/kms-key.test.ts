import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../../../lib/config/config.ts';
import type { OAuthError } from '../../../lib/shared/errors.ts';
import { createKmsSigner } from '../../../lib/signers/kms.ts';
import { type FakeKey, fakeKey, fakeKms, mintWith, variant } from './fake-kms.ts';

/** lib/signers/kms-key.ts through the signer: which KMS keys may sign, refused at start otherwise. */
let ec: FakeKey;
let rsa: FakeKey;
beforeAll(() => {
  ec = fakeKey('ECC_NIST_P256', 'sts-ec');
  rsa = fakeKey('RSA_2048', 'sts-rsa');
});

describe('keys that do not fit are refused at start', () => {
  const misfit = (name: string, entry: (key: FakeKey) => string, key: () => FakeKey) => ({
    name,
    entry,
    key,
  });
  it.each([
    misfit(
      'an ECC_NIST_P384 key',
      (k) => k.arn,
      () => fakeKey('ECC_NIST_P384', 'p384'),
    ),
    misfit(
      'a secp256k1 key (wrong curve)',
      (k) => k.arn,
      () => fakeKey('ECC_SECG_P256K1', 'k1'),
    ),
    misfit(
      'a key whose public key is not on the curve its spec names',
      (k) => k.arn,
      () => variant(ec, 'not-p256', { PublicKey: fakeKey('ECC_SECG_P256K1', 'k1').answer.PublicKey }),
    ),
    misfit(
      'an RSA key for ENCRYPT_DECRYPT',
      (k) => k.alias,
      () => variant(rsa, 'encrypt', { KeyUsage: 'ENCRYPT_DECRYPT', SigningAlgorithms: undefined }),
    ),
    misfit(
      'a symmetric key',
      (k) => k.alias,
      () =>
        variant(ec, 'symmetric', {
          KeySpec: 'SYMMETRIC_DEFAULT',
          KeyUsage: 'ENCRYPT_DECRYPT',
          PublicKey: undefined,
        }),
    ),
    misfit(
      'an HMAC key',
      (k) => k.alias,
      () =>
        variant(ec, 'hmac', { KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC', PublicKey: undefined }),
    ),
    misfit(
      'an RSA key without PKCS#1 v1.5 for RS256',
      (k) => k.alias,
      () => variant(rsa, 'pss-only', { SigningAlgorithms: ['RSASSA_PSS_SHA_256'] }),
    ),
    misfit(
      'an RSA key without PSS for #PS256',
      (k) => `${k.alias}#PS256`,
      () => variant(rsa, 'pkcs1-only', { SigningAlgorithms: ['RSASSA_PKCS1_V1_5_SHA_256'] }),
    ),
    misfit(
      '#ES256 on an RSA key',
      (k) => `${k.arn}#ES256`,
      () => rsa,
    ),
    misfit(
      '#PS256 on a P-256 key',
      (k) => `${k.arn}#PS256`,
      () => ec,
    ),
  ])('$name', async ({ entry, key }) => {
    const bad = key();
    const kms = fakeKms([ec, bad]);
    // Misfit as the active key and as a published one: both stop the start.
    for (const keyIds of [[entry(bad)], [ec.arn, entry(bad)]]) {
      const start = createKmsSigner({ client: kms.client, keyIds });
      await expect(start).rejects.toBeInstanceOf(ConfigError);
      await expect(start).rejects.toThrow(/STS_KMS_KEY_IDS: key ".+" \(arn:aws:kms:/);
      await expect(start).rejects.toThrow(entry(bad));
    }
  });

  it.each([[[]], [['alias/sts#RS512']], [['alias/sts#PS256#RS256']], [['#PS256']]])(
    'refuses the entries %j before calling KMS',
    async (keyIds) => {
      const kms = fakeKms([ec]);
      await expect(createKmsSigner({ client: kms.client, keyIds })).rejects.toThrow(/STS_KMS_KEY_IDS: /);
      expect(kms.calls().getPublicKey).toHaveLength(0);
    },
  );

  it('lazy: a misfit key fails every use with server_error, without asking KMS again', async () => {
    const kms = fakeKms([rsa]);
    const signer = await createKmsSigner({ client: kms.client, keyIds: [`${rsa.arn}#ES256`], lazy: true });
    for (let i = 0; i < 2; i++) {
      const error = await mintWith(signer).catch((thrown: unknown) => thrown);
      expect(error).toMatchObject({ code: 'server_error', reason: 'kms.key.misconfigured' });
      expect((error as OAuthError).cause).toBeInstanceOf(ConfigError);
    }
    expect(kms.calls().getPublicKey).toHaveLength(1);
    expect(kms.calls().sign).toHaveLength(0);
  });
});
