import { DecryptCommand, GenerateDataKeyPairWithoutPlaintextCommand, KMSClient } from '@aws-sdk/client-kms';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { mintAccessToken } from '../../../lib/exchange/access-token.ts';
import { OAuthError } from '../../../lib/shared/errors.ts';
import { isHighS } from '../../../lib/shared/low-s.ts';
import { createDataKeySigner } from '../../../lib/signers/data-key.ts';
import { rotateDataKeys } from '../../../lib/signers/data-key-rotation.ts';
import {
  checkTiming,
  JWKS_MAX_AGE_SECONDS,
  KEY_REFRESH_SECONDS,
} from '../../../lib/signers/data-key-rules.ts';
import { MemoryKeyStore } from '../../../lib/stores/key-store.ts';
import { createAccessTokenVerifier } from '../../../lib/verify/verifier.ts';
import { createKmsStandIn } from '../../../local/kms-stand-in.ts';

const ISSUER = 'https://sts.example.com';
const AUDIENCE = 'https://api.example.com';
const TOKENS = { maxTokenLifetime: 900, clockSkew: 30 };
const TIMING = checkTiming({ rotationPeriod: 3600, publishLead: 360 }, TOKENS);

/** A KMSClient whose two data-key operations answer with real key pairs and real ciphertexts. */
function kmsDouble() {
  const standIn = createKmsStandIn();
  const client = new KMSClient({ region: 'eu-west-1' });
  const mock = mockClient(client);
  mock
    .on(GenerateDataKeyPairWithoutPlaintextCommand)
    .callsFake((input) => standIn.generateDataKeyPairWithoutPlaintext(input));
  mock.on(DecryptCommand).callsFake((input) => standIn.decrypt(input));
  return { client, mock, standIn };
}

describe('data-key timing rules', () => {
  it('refuses a publish lead shorter than the JWKS max-age plus the refresh', () => {
    expect(() => checkTiming({ rotationPeriod: 3600, publishLead: JWKS_MAX_AGE_SECONDS }, TOKENS)).toThrow(
      /STS_DATA_KEY_PUBLISH_LEAD/,
    );
  });
  it('refuses a keep shorter than the longest token lifetime plus skew and refresh', () => {
    expect(() => checkTiming({ rotationPeriod: 3600, publishLead: 600, keep: 900 }, TOKENS)).toThrow(/keep/);
    expect(checkTiming({ rotationPeriod: 3600, publishLead: 600 }, TOKENS).keep).toBe(
      900 + 30 + KEY_REFRESH_SECONDS,
    );
  });
  it('refuses a period not longer than the lead', () => {
    expect(() => checkTiming({ rotationPeriod: 600, publishLead: 600 }, TOKENS)).toThrow(/ROTATION_PERIOD/);
  });
});

describe('data-key signer', () => {
  let now: number;
  const clock = () => now;
  let keys: MemoryKeyStore;
  let kms: ReturnType<typeof kmsDouble>;

  beforeEach(() => {
    now = Date.UTC(2026, 10, 30, 9, 0, 0);
    keys = new MemoryKeyStore();
    kms = kmsDouble();
  });

  const rotate = (bootstrapActive = false) =>
    rotateDataKeys({
      keys,
      kms: kms.client,
      clock,
      wrappingKeyId: kms.standIn.keyArn,
      timing: TIMING,
      bootstrapActive,
    });

  it('answers 503 until the first key activates, then signs with no KMS call per token', async () => {
    const signer = createDataKeySigner({ keys, kms: kms.client, clock });
    const first = await rotate();
    expect(Object.values(first.ring)).toEqual(['next']);
    const refused = (await signer.activeKey().catch((e: unknown) => e)) as OAuthError;
    expect(refused).toBeInstanceOf(OAuthError);
    expect(refused.status).toBe(503);
    expect(refused.reason).toBe('data_key.none_active');
    // Published at once, before it signs.
    expect((await signer.publicKeys()).map((jwk) => jwk.kid)).toEqual(Object.keys(first.ring));

    now += TIMING.publishLead * 1000;
    expect((await rotate()).activated).toBe(first.created);
    now += KEY_REFRESH_SECONDS * 1000;
    const tokens = [];
    for (let index = 0; index < 20; index++) {
      tokens.push(await mint(signer, now));
    }
    expect(kms.standIn.calls.Decrypt).toBe(1);
    expect(kms.mock.commandCalls(DecryptCommand)[0]!.args[0].input.EncryptionContext).toMatchObject({
      'sts-purpose': 'token-signing-key',
    });
    const verifier = verifierOver(signer, clock);
    for (const token of tokens) expect((await verifier.verify(token)).iss).toBe(ISSUER);
  });

  it('signs low-S, as every signer of the service (the STS refuses the high-S spelling of its own tokens)', async () => {
    await rotate(true);
    const signer = createDataKeySigner({ keys, kms: kms.client, clock });
    // A raw P-256 signature is high-S half the time: 64 tokens would all be low-S by chance once in 2^64.
    for (let index = 0; index < 64; index++) {
      const token = await mint(signer, now);
      expect(isHighS(Buffer.from(token.slice(token.lastIndexOf('.') + 1), 'base64url'))).toBe(false);
    }
  });

  it('refuses a KEY# item whose ciphertext is another key: nothing is signed with it', async () => {
    await rotate(true);
    const other = new MemoryKeyStore();
    await rotateDataKeys({
      keys: other,
      kms: kms.client,
      clock,
      wrappingKeyId: kms.standIn.keyArn,
      timing: TIMING,
      bootstrapActive: true,
    });
    const [mine] = (await keys.readRing()).keys;
    const [theirs] = (await other.readRing()).keys;
    await keys.writeRing(1, [
      {
        ...mine!,
        encryptedPrivateKey: theirs!.encryptedPrivateKey,
        encryptionContext: theirs!.encryptionContext,
      },
    ]);
    const signer = createDataKeySigner({ keys, kms: kms.client, clock });
    const error = (await mint(signer, now).catch((e: unknown) => e)) as OAuthError;
    expect(error.reason).toBe('data_key.decrypt.mismatch');
  });

  it('refuses a ciphertext presented with another encryption context (KMS InvalidCiphertextException)', async () => {
    await rotate(true);
    const [key] = (await keys.readRing()).keys;
    await keys.writeRing(1, [
      { ...key!, encryptionContext: { ...key!.encryptionContext, 'sts-key': 'other' } },
    ]);
    const signer = createDataKeySigner({ keys, kms: kms.client, clock });
    const error = (await mint(signer, now).catch((e: unknown) => e)) as OAuthError;
    expect(error).toBeInstanceOf(OAuthError);
    expect(error.code).toBe('server_error');
  });

  it('walks every rotation stage; tokens verify throughout with a caching verifier', async () => {
    // The token function and the JWKS function are separate containers with their own caches.
    const tokenSigner = createDataKeySigner({ keys, kms: kms.client, clock });
    const jwksSigner = createDataKeySigner({ keys, kms: kms.client, clock });
    const verifier = verifierOver(jwksSigner, clock, { strict: true });
    const start = now;
    const stages = new Set<string>();
    const live: { token: string; exp: number }[] = [];
    let minted = 0;
    let verified = 0;
    // Three and a half rotation periods in 30 s steps; the rotation runs every 5 minutes.
    for (let t = 0; t <= 3.5 * TIMING.rotationPeriod; t += 30) {
      now = start + t * 1000;
      if (t % 300 === 0) {
        const report = await rotate();
        if (report.created) stages.add(report.activated ? 'created+active' : 'next created');
        if (report.activated && !report.created) stages.add('next activated');
        if (report.retired) stages.add('active retired to previous');
        if (report.removed.length > 0) stages.add('previous removed');
      }
      const ring = Object.values((await keys.readRing()).keys.map((key) => key.state));
      stages.add(`ring ${[...ring].sort().join('+')}`);
      try {
        const token = await mint(tokenSigner, now);
        live.push({ token, exp: now / 1000 + TOKENS.maxTokenLifetime });
        minted++;
      } catch (error) {
        // Only before the first key is active (the bootstrap lead).
        expect((error as OAuthError).reason).toBe('data_key.none_active');
        expect(t).toBeLessThan(TIMING.publishLead + 300 + KEY_REFRESH_SECONDS);
      }
      // Every live token every 150 s; in between the oldest and the newest.
      const alive = live.filter((entry) => entry.exp > now / 1000);
      const checked = t % 150 === 0 ? alive : [alive[0], alive.at(-1)].filter((entry) => entry !== undefined);
      for (const { token } of checked) {
        await expect(verifier.verify(token)).resolves.toMatchObject({ iss: ISSUER });
        verified++;
      }
    }
    expect([...stages]).toEqual(
      expect.arrayContaining([
        'next created',
        'next activated',
        'active retired to previous',
        'previous removed',
        'ring next',
        'ring active',
        'ring active+next',
        'ring active+previous',
      ]),
    );
    expect(minted).toBeGreaterThan(350);
    expect(verified).toBeGreaterThan(minted * 3);
    // KMS per token: none. One GenerateDataKeyPair per key, one Decrypt per key per container.
    const created = kms.standIn.calls.GenerateDataKeyPairWithoutPlaintext;
    expect(created).toBe(4);
    expect(kms.standIn.calls.Decrypt).toBeLessThanOrEqual(created);
  });
});

/** Mints one token with the longest lifetime. */
async function mint(signer: ReturnType<typeof createDataKeySigner>, at: number): Promise<string> {
  const minted = await mintAccessToken(signer, {
    iss: ISSUER,
    sub: 'user:1',
    aud: AUDIENCE,
    clientId: 'test',
    scope: undefined,
    act: undefined,
    iat: Math.floor(at / 1000),
    lifetime: TOKENS.maxTokenLifetime,
    copied: {},
  });
  return minted.token;
}

/**
 * A verifier fetching the JWKS that `jwks` publishes. `strict`: it keeps a key set for the JWKS
 * max-age and refetches no sooner, not even for an unknown kid, as a cache honouring
 * Cache-Control would.
 */
function verifierOver(
  jwks: ReturnType<typeof createDataKeySigner>,
  clock: () => number,
  options: { strict?: boolean } = {},
) {
  const fetchJwks = (async () =>
    new Response(JSON.stringify({ keys: await jwks.publicKeys() }), {
      headers: { 'content-type': 'application/json' },
    })) as unknown as typeof fetch;
  return createAccessTokenVerifier({
    issuer: ISSUER,
    audience: AUDIENCE,
    jwksUri: `${ISSUER}/.well-known/jwks.json`,
    algorithms: ['ES256'],
    clock,
    fetch: fetchJwks,
    jwksMaxAgeMs: JWKS_MAX_AGE_SECONDS * 1000,
    // Never refetches sooner than max-age, not even for an unknown kid.
    ...(options.strict ? { jwksCooldownMs: JWKS_MAX_AGE_SECONDS * 1000 } : {}),
  });
}
