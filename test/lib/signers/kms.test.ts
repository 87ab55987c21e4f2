import { GetPublicKeyCommand, KMSClient, KMSServiceException } from '@aws-sdk/client-kms';
import { createLocalJWKSet, type JWK, jwtVerify } from 'jose';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { mintAccessToken } from '../../../lib/exchange/access-token.ts';
import type { SigningAlgorithm } from '../../../lib/shared/claims.ts';
import { OAuthError } from '../../../lib/shared/errors.ts';
import { isHighS, P256_ORDER } from '../../../lib/shared/low-s.ts';
import { createKmsSigner } from '../../../lib/signers/kms.ts';
import { createLocalSigner } from '../../../lib/signers/local.ts';
import type { Signer } from '../../../lib/signers/signer.ts';
import { toBigInt, toBytes } from './digest-signatures.ts';
import { type FakeKey, fakeKey, fakeKms, sha256 } from './fake-kms.ts';

const ISSUER = 'https://sts.example.com';
const AUDIENCE = 'https://api.example.com';
const NOW = 1_750_000_000;

let ec: FakeKey;
let ec2: FakeKey;
let rsa: FakeKey;
let rsa3072: FakeKey;
beforeAll(() => {
  ec = fakeKey('ECC_NIST_P256', 'sts-ec');
  ec2 = fakeKey('ECC_NIST_P256', 'sts-ec-2');
  rsa = fakeKey('RSA_2048', 'sts-rsa');
  rsa3072 = fakeKey('RSA_3072', 'sts-rsa-3072');
});

const mint = (signer: Signer, sub = 'repo:acme/app') =>
  mintAccessToken(signer, {
    iss: ISSUER,
    sub,
    aud: AUDIENCE,
    clientId: 'deploy',
    scope: 'deploy:read',
    act: undefined,
    iat: NOW,
    lifetime: 300,
    copied: {},
  });

const verifier = (keys: readonly JWK[], alg: SigningAlgorithm) => {
  const jwks = createLocalJWKSet({ keys: [...keys] });
  return (token: string) =>
    jwtVerify(token, jwks, {
      issuer: ISSUER,
      audience: AUDIENCE,
      algorithms: [alg],
      typ: 'at+jwt',
      currentDate: new Date((NOW + 1) * 1000),
    });
};

/** Mints `count` tokens and checks each against the JWKS and against what KMS was sent. */
async function mintAndVerify(
  keys: readonly FakeKey[],
  entries: string[],
  alg: SigningAlgorithm,
  count: number,
) {
  const kms = fakeKms(keys);
  const signer = await createKmsSigner({ client: kms.client, keyIds: entries });
  const verify = verifier(await signer.publicKeys(), alg);
  const { kid } = await signer.activeKey();
  const tokens: string[] = [];
  for (let i = 0; i < count; i++) {
    const { token, jti } = await mint(signer, `subject-${i}`);
    const { payload, protectedHeader } = await verify(token);
    expect(payload.jti).toBe(jti);
    expect(protectedHeader).toEqual({ alg, kid, typ: 'at+jwt' });
    tokens.push(token);
  }
  const { sign, getPublicKey } = kms.calls();
  expect(sign).toHaveLength(count);
  sign.forEach((request, i) => {
    const [header, body] = tokens[i]!.split('.');
    expect(request).toMatchObject({ KeyId: keys[0]!.arn, MessageType: 'DIGEST' });
    expect(Buffer.from(request.Message!)).toEqual(sha256(`${header}.${body}`));
  });
  expect(getPublicKey).toHaveLength(entries.length);
  return kms;
}

describe('createKmsSigner', () => {
  it('ES256: 3000 tokens minted through KMS verify with jose against the JWKS from GetPublicKey', async () => {
    const kms = await mintAndVerify([ec], [ec.arn], 'ES256', 3000);
    expect(kms.calls().sign.every((call) => call.SigningAlgorithm === 'ECDSA_SHA_256')).toBe(true);
    // DER r and s come in every width; about half need a 0x00 sign byte, a few lose a zero byte.
    const widths = new Set(kms.derSignatures.map((der) => `${der[3]}/${der[5 + der[3]!]}`));
    expect([...widths]).toEqual(expect.arrayContaining(['32/32', '33/32', '32/33', '33/33']));
  });

  it('ES256: KMS answers high-S about half the time; every token carries the low-S spelling', async () => {
    const kms = await mintAndVerify([ec], [ec.arn], 'ES256', 200);
    const signer = await createKmsSigner({ client: kms.client, keyIds: [ec.arn] });
    const highFromKms = kms.derSignatures.filter((der) => {
      const rLen = der[3]!;
      return toBigInt(der.subarray(6 + rLen, 6 + rLen + der[5 + rLen]!)) > P256_ORDER >> 1n;
    });
    expect(highFromKms.length).toBeGreaterThan(50);
    for (let i = 0; i < 50; i++) {
      const { token } = await mint(signer);
      expect(isHighS(Buffer.from(token.split('.')[2]!, 'base64url'))).toBe(false);
    }
  });

  const B240 = 1n << 240n; // below it, r or s would be 30 DER bytes or fewer
  const B247 = 1n << 247n;
  const B248 = 1n << 248n;
  const B255 = 1n << 255n;
  it.each([
    { name: 'short r (31 DER bytes)', filter: (r: bigint) => r >= B240 && r < B247, rLength: 31 },
    {
      name: 'short r with a sign byte (00 + 31 bytes)',
      filter: (r: bigint) => r >= B247 && r < B248,
      rLength: 32,
    },
    { name: 'short s (31 DER bytes)', filter: (_: bigint, s: bigint) => s >= B240 && s < B247, sLength: 31 },
    {
      name: 'short s with a sign byte (00 + 31 bytes)',
      filter: (_: bigint, s: bigint) => s >= B247 && s < B248,
      sLength: 32,
    },
    {
      name: 'r and s with sign bytes',
      filter: (r: bigint, s: bigint) => r >= B255 && s >= B255,
      rLength: 33,
      sLength: 33,
    },
  ])('ES256: a KMS signature with $name converts and verifies', async ({ filter, rLength, sLength }) => {
    const kms = fakeKms([ec]);
    kms.ecdsaFilter = filter;
    const signer = await createKmsSigner({ client: kms.client, keyIds: [ec.alias] });
    const verify = verifier(await signer.publicKeys(), 'ES256');
    for (let i = 0; i < 4; i++) {
      const { token } = await mint(signer);
      await verify(token);
      const der = kms.derSignatures[i]!;
      const rLen = der[3]!;
      const sLen = der[5 + rLen]!;
      if (rLength) expect(rLen).toBe(rLength);
      if (sLength) expect(sLen).toBe(sLength);
      const r = toBigInt(der.subarray(4, 4 + rLen));
      const s = toBigInt(der.subarray(6 + rLen, 6 + rLen + sLen));
      const jose = Buffer.from(token.split('.')[2]!, 'base64url');
      // Tokens carry the low-S spelling (issue 12 item 7): s above n/2 becomes n - s.
      const lowS = s > P256_ORDER >> 1n ? P256_ORDER - s : s;
      expect(jose.toString('hex')).toBe(Buffer.concat([toBytes(r, 32), toBytes(lowS, 32)]).toString('hex'));
    }
  });

  it('RS256: 200 tokens verify with jose', async () => {
    const kms = await mintAndVerify([rsa], [rsa.alias], 'RS256', 200);
    expect(kms.calls().sign.every((call) => call.SigningAlgorithm === 'RSASSA_PKCS1_V1_5_SHA_256')).toBe(
      true,
    );
  });

  it('PS256 (entry suffix #PS256): 200 tokens verify with jose, on a 3072-bit key', async () => {
    const kms = await mintAndVerify([rsa3072], [`${rsa3072.keyId}#PS256`], 'PS256', 200);
    expect(kms.calls().sign.every((call) => call.SigningAlgorithm === 'RSASSA_PSS_SHA_256')).toBe(true);
  });

  it('publishes JWKs whose kid is the RFC 7638 thumbprint, identical to a local key', async () => {
    for (const [key, alg] of [
      [ec, 'ES256'],
      [rsa, 'RS256'],
      [rsa, 'PS256'],
    ] as const) {
      const kms = await createKmsSigner({ client: fakeKms([key]).client, keyIds: [`${key.arn}#${alg}`] });
      const local = await createLocalSigner(key.privateKey, alg);
      expect(await kms.publicKeys()).toEqual(await local.publicKeys());
      expect(await kms.activeKey()).toEqual(await local.activeKey());
      const [jwk] = await kms.publicKeys();
      expect(jwk).toMatchObject({ alg, use: 'sig' });
      expect(jwk).not.toHaveProperty('d');
    }
  });

  it('resolves ids, ARNs, aliases and alias ARNs once per container and signs with the key ARN', async () => {
    const kms = fakeKms([ec, ec2, rsa]);
    const signer = await createKmsSigner({ client: kms.client, keyIds: [ec.alias, ec2.aliasArn, rsa.keyId] });
    for (let i = 0; i < 20; i++) await mint(signer);
    await Promise.all([signer.activeKey(), signer.publicKeys(), signer.publicKeys()]);
    const { getPublicKey, sign } = kms.calls();
    expect(getPublicKey.map((call) => call.KeyId)).toEqual([ec.alias, ec2.aliasArn, rsa.keyId]);
    expect(new Set(sign.map((call) => call.KeyId))).toEqual(new Set([ec.arn]));
    const kids = (await signer.publicKeys()).map((jwk) => jwk.kid);
    expect(kids).toHaveLength(3);
    expect(kids[0]).toBe((await signer.activeKey()).kid);
  });

  it('publishes a key listed twice (alias and ARN) once', async () => {
    const signer = await createKmsSigner({
      client: fakeKms([ec]).client,
      keyIds: [ec.alias, ec.arn, ec.keyId],
    });
    expect(await signer.publicKeys()).toHaveLength(1);
  });

  it('lazy: fetches nothing before first use, then once, even under concurrency', async () => {
    const kms = fakeKms([ec, rsa]);
    const signer = await createKmsSigner({ client: kms.client, keyIds: [ec.arn, rsa.arn], lazy: true });
    expect(kms.calls().getPublicKey).toHaveLength(0);
    await Promise.all([mint(signer), mint(signer), signer.publicKeys(), signer.activeKey()]);
    await signer.publicKeys();
    expect(kms.calls().getPublicKey).toHaveLength(2);
  });

  it('does not keep a failed GetPublicKey: the next call fetches again', async () => {
    const kms = fakeKms([ec]);
    const throttled = new KMSServiceException({
      name: 'ThrottlingException',
      $fault: 'client',
      message: 'Rate exceeded',
      $metadata: { httpStatusCode: 400 },
    });
    kms.mock
      .on(GetPublicKeyCommand)
      .rejectsOnce(throttled)
      .callsFake(async () => ec.answer);
    const signer = await createKmsSigner({ client: kms.client, keyIds: [ec.arn], lazy: true });
    await expect(signer.activeKey()).rejects.toMatchObject({
      status: 503,
      reason: 'kms.get_public_key.unavailable',
    });
    await expect(signer.activeKey()).resolves.toMatchObject({ alg: 'ES256' });
    await signer.publicKeys();
    expect(kms.calls().getPublicKey).toHaveLength(2);

    const again = fakeKms([ec]);
    again.mock
      .on(GetPublicKeyCommand)
      .rejectsOnce(throttled)
      .callsFake(async () => ec.answer);
    await expect(createKmsSigner({ client: again.client, keyIds: [ec.arn] })).rejects.toBeInstanceOf(
      OAuthError,
    );
  });
});

describe('the KMSClient the caller creates with new KMSClient({})', () => {
  const saved = { ...process.env };
  afterEach(() => {
    process.env = { ...saved };
  });

  it('sends to AWS_ENDPOINT_URL_KMS in AWS_REGION (request captured before it leaves)', async () => {
    Object.assign(process.env, {
      AWS_ENDPOINT_URL_KMS: 'http://127.0.0.1:4599',
      AWS_REGION: 'eu-west-3',
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
    });
    const client = new KMSClient({});
    expect(await client.config.region()).toBe('eu-west-3');
    let request: { protocol?: string; hostname?: string; port?: number; headers?: Record<string, string> } =
      {};
    client.middlewareStack.add(
      () => async (args) => {
        request = args.request as typeof request;
        throw new Error('captured');
      },
      { step: 'build', name: 'captureRequest' },
    );
    await expect(client.send(new GetPublicKeyCommand({ KeyId: 'alias/sts' }))).rejects.toThrow('captured');
    expect(request).toMatchObject({ protocol: 'http:', hostname: '127.0.0.1', port: 4599 });
    expect(request.headers?.['x-amz-target']).toBe('TrentService.GetPublicKey');
  });
});
