import { generateKeyPairSync } from 'node:crypto';
import {
  DependencyTimeoutException,
  DisabledException,
  GetPublicKeyCommand,
  InvalidKeyUsageException,
  KeyUnavailableException,
  KMSInternalException,
  KMSInvalidStateException,
  KMSServiceException,
  LimitExceededException,
  NotFoundException,
  SignCommand,
} from '@aws-sdk/client-kms';
import { exportJWK, SignJWT } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../lib/config/config.ts';
import { createTokenExchange } from '../../../lib/exchange/token-exchange.ts';
import { TOKEN_EXCHANGE_GRANT, TOKEN_TYPE } from '../../../lib/shared/claims.ts';
import { errorBody, OAuthError } from '../../../lib/shared/errors.ts';
import { silentLogger } from '../../../lib/shared/log.ts';
import { createKmsSigner } from '../../../lib/signers/kms.ts';
import { kmsError } from '../../../lib/signers/kms-error.ts';
import { MemoryStore } from '../../../lib/stores/memory.ts';
import { derSignature } from './digest-signatures.ts';
import { type FakeKey, fakeKey, fakeKms, mintWith } from './fake-kms.ts';

const SECRET = 'raw-sdk-detail-7f3a';
const meta = (httpStatusCode: number) => ({ $metadata: { httpStatusCode } });
const unmodeled = (name: string, httpStatusCode: number) =>
  new KMSServiceException({
    name,
    $fault: httpStatusCode >= 500 ? 'server' : 'client',
    message: SECRET,
    ...meta(httpStatusCode),
  });
const withCode = (code: string) => Object.assign(new Error(SECRET), { code });
const named = (name: string) => Object.assign(new Error(SECRET), { name });

/** Every fault the issue names (and a few more), and what the caller must see. */
const FAULTS: { name: string; error: () => unknown; outcome: 'unavailable' | 'failed' }[] = [
  { name: 'ThrottlingException', error: () => unmodeled('ThrottlingException', 400), outcome: 'unavailable' },
  {
    name: 'LimitExceededException',
    error: () => new LimitExceededException({ message: SECRET, ...meta(400) }),
    outcome: 'unavailable',
  },
  {
    name: 'DisabledException',
    error: () => new DisabledException({ message: SECRET, ...meta(400) }),
    outcome: 'unavailable',
  },
  {
    name: 'KMSInvalidStateException (pending deletion)',
    error: () => new KMSInvalidStateException({ message: SECRET, ...meta(400) }),
    outcome: 'unavailable',
  },
  {
    name: 'KeyUnavailableException',
    error: () => new KeyUnavailableException({ message: SECRET, ...meta(500) }),
    outcome: 'unavailable',
  },
  {
    name: 'DependencyTimeoutException',
    error: () => new DependencyTimeoutException({ message: SECRET, ...meta(503) }),
    outcome: 'unavailable',
  },
  {
    name: 'KMSInternalException',
    error: () => new KMSInternalException({ message: SECRET, ...meta(500) }),
    outcome: 'unavailable',
  },
  { name: 'an unmodeled 503', error: () => unmodeled('ServiceUnavailable', 503), outcome: 'unavailable' },
  { name: 'ECONNRESET', error: () => withCode('ECONNRESET'), outcome: 'unavailable' },
  { name: 'ENOTFOUND', error: () => withCode('ENOTFOUND'), outcome: 'unavailable' },
  { name: 'a socket TimeoutError', error: () => named('TimeoutError'), outcome: 'unavailable' },
  { name: 'an AbortError', error: () => named('AbortError'), outcome: 'unavailable' },
  { name: 'AccessDeniedException', error: () => unmodeled('AccessDeniedException', 400), outcome: 'failed' },
  {
    name: 'NotFoundException',
    error: () => new NotFoundException({ message: SECRET, ...meta(400) }),
    outcome: 'failed',
  },
  {
    name: 'InvalidKeyUsageException',
    error: () => new InvalidKeyUsageException({ message: SECRET, ...meta(400) }),
    outcome: 'failed',
  },
  { name: 'ValidationException', error: () => unmodeled('ValidationException', 400), outcome: 'failed' },
  { name: 'a TypeError', error: () => new TypeError(SECRET), outcome: 'failed' },
];

let ec: FakeKey;
let rsa: FakeKey;
beforeAll(() => {
  ec = fakeKey('ECC_NIST_P256', 'sts-ec');
  rsa = fakeKey('RSA_2048', 'sts-rsa');
});

const failure = (promise: Promise<unknown>): Promise<OAuthError> =>
  promise.then(
    () => expect.unreachable('expected a failure'),
    (error: unknown) => {
      expect(error).toBeInstanceOf(OAuthError);
      return error as OAuthError;
    },
  );

function expectTranslated(
  error: OAuthError,
  operation: string,
  outcome: 'unavailable' | 'failed',
  cause: unknown,
) {
  expect(error.cause).toBe(cause);
  if (outcome === 'unavailable') {
    expect(error).toMatchObject({
      code: 'temporarily_unavailable',
      status: 503,
      reason: `kms.${operation}.unavailable`,
    });
    expect(error.retryAfter).toBeGreaterThan(0);
  } else {
    expect(error).toMatchObject({ code: 'server_error', status: 500, reason: `kms.${operation}.failed` });
    expect(errorBody(error)).toEqual({ error: 'server_error' });
  }
  expect(`${error.message} ${JSON.stringify(errorBody(error))}`).not.toContain(SECRET);
}

describe('KMS faults become the service’s errors', () => {
  it.each(FAULTS)('Sign: $name', async ({ error, outcome }) => {
    const kms = fakeKms([ec]);
    const signer = await createKmsSigner({ client: kms.client, keyIds: [ec.arn] });
    const thrown = error();
    kms.mock.on(SignCommand).rejects(thrown as Error);
    expectTranslated(await failure(mintWith(signer)), 'sign', outcome, thrown);
  });

  it.each(FAULTS)('GetPublicKey at start: $name', async ({ error, outcome }) => {
    const kms = fakeKms([ec]);
    const thrown = error();
    kms.mock.on(GetPublicKeyCommand).rejects(thrown as Error);
    expectTranslated(
      await failure(createKmsSigner({ client: kms.client, keyIds: [ec.arn] })),
      'get_public_key',
      outcome,
      thrown,
    );
  });

  it('a KMS call that outlives its deadline becomes 503, and send was given the abort signal', async () => {
    const kms = fakeKms([ec]);
    const signer = await createKmsSigner({ client: kms.client, keyIds: [ec.arn], timeoutMs: 50 });
    kms.mock.on(SignCommand).callsFake(() => new Promise(() => {}));
    const started = Date.now();
    const error = await failure(mintWith(signer));
    expect(Date.now() - started).toBeLessThan(1500);
    expect(error).toMatchObject({ status: 503, reason: 'kms.sign.unavailable' });
    expect((error.cause as Error).name).toBe('TimeoutError');
    const options = kms.mock.send.lastCall.args as unknown[];
    expect((options[1] as { abortSignal?: unknown }).abortSignal).toBeInstanceOf(AbortSignal);
  });

  it.each([
    { name: 'no signature', key: 'ec', answer: () => ({}) },
    {
      name: 'a JOSE r||s instead of DER',
      key: 'ec',
      answer: () => ({ Signature: new Uint8Array(64).fill(1) }),
    },
    {
      name: 'DER with a trailing byte',
      key: 'ec',
      answer: () => ({ Signature: new Uint8Array([...derSignature(5n, 7n), 0]) }),
    },
    {
      name: 'an RSA signature of the wrong length',
      key: 'rsa',
      answer: () => ({ Signature: new Uint8Array(255) }),
    },
    {
      name: 'a signature from another key',
      key: 'ec',
      answer: () => ({
        KeyId: 'arn:aws:kms:eu-west-1:111122223333:key/other',
        Signature: derSignature(5n, 7n),
      }),
    },
  ])('a Sign answer with $name is a server_error', async ({ key, answer }) => {
    const fake = key === 'ec' ? ec : rsa;
    const kms = fakeKms([fake]);
    const signer = await createKmsSigner({ client: kms.client, keyIds: [fake.arn] });
    kms.mock.on(SignCommand).resolves({ KeyId: fake.arn, ...answer(), $metadata: {} });
    expect(await failure(mintWith(signer))).toMatchObject({
      code: 'server_error',
      reason: 'kms.sign.bad_signature',
    });
  });

  it('kmsError passes the service’s own errors through', () => {
    const own = new OAuthError('temporarily_unavailable', 503, 'x', { reason: 'kms.sign.unavailable' });
    expect(kmsError('sign', own)).toBe(own);
    expect(kmsError('sign', undefined)).toMatchObject({ reason: 'kms.sign.failed' });
  });
});

describe('no token record for a token KMS did not sign', () => {
  const ISSUER = 'https://sts.example.com';
  const CI = 'https://ci.example.com';
  const NOW = 1_750_000_000;

  it('records the first exchange, then refuses with 503 and records nothing while Sign fails', async () => {
    const ciKey = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const ciJwk = { ...(await exportJWK(ciKey.publicKey)), kid: 'ci-1', alg: 'ES256' };
    const config = parseConfig({
      issuer: ISSUER,
      trustedIssuers: [{ name: 'ci', issuer: CI, jwksUri: `${CI}/jwks`, algorithms: ['ES256'] }],
      policies: [
        {
          name: 'deploy',
          issuer: 'ci',
          subject: 'repo:acme/app',
          audiences: ['https://api.example.com'],
          scopes: ['read'],
        },
      ],
    });
    const kms = fakeKms([ec]);
    const store = new MemoryStore();
    const exchange = createTokenExchange({
      config,
      signer: await createKmsSigner({ client: kms.client, keyIds: [ec.alias] }),
      store,
      clock: () => NOW * 1000,
      logger: silentLogger,
      fetch: async () => Response.json({ keys: [ciJwk] }),
    });
    const form = async () => {
      const subjectToken = await new SignJWT({ sub: 'repo:acme/app' })
        .setProtectedHeader({ alg: 'ES256', kid: 'ci-1' })
        .setIssuer(CI)
        .setAudience(ISSUER)
        .setIssuedAt(NOW)
        .setExpirationTime(NOW + 300)
        .setJti(crypto.randomUUID())
        .sign(ciKey.privateKey);
      return new Map([
        ['grant_type', [TOKEN_EXCHANGE_GRANT]],
        ['subject_token', [subjectToken]],
        ['subject_token_type', [TOKEN_TYPE.jwt]],
        ['audience', ['https://api.example.com']],
        ['scope', ['read']],
      ]);
    };

    const issued = await exchange.exchange(await form());
    expect(issued.access_token.split('.')).toHaveLength(3);
    expect(store.tokens.size).toBe(1);

    kms.mock.on(SignCommand).rejects(unmodeled('ThrottlingException', 400));
    await expect(exchange.exchange(await form())).rejects.toMatchObject({
      status: 503,
      code: 'temporarily_unavailable',
    });
    kms.mock.on(SignCommand).resolves({ KeyId: ec.arn, Signature: new Uint8Array(64), $metadata: {} });
    await expect(exchange.exchange(await form())).rejects.toMatchObject({
      status: 500,
      code: 'server_error',
    });
    expect(store.tokens.size).toBe(1);
  });
});
