import { randomBytes } from 'node:crypto';
import {
  ConditionalCheckFailedException,
  type DynamoDBClient,
  DynamoDBServiceException,
  InternalServerError,
  ProvisionedThroughputExceededException,
  RequestLimitExceeded,
  ResourceNotFoundException,
  ThrottlingException,
} from '@aws-sdk/client-dynamodb';
import {
  DependencyTimeoutException,
  DisabledException,
  IncorrectKeyException,
  KeyUnavailableException,
  KMSClient,
  KMSInternalException,
  KMSInvalidStateException,
  KMSServiceException,
  NotFoundException,
  SignCommand,
} from '@aws-sdk/client-kms';
import { createLocalJWKSet, decodeJwt, jwtVerify } from 'jose';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../lib/config/config.ts';
import { createKmsSigner } from '../../lib/signers/kms.ts';
import { createLocalSigner, generateSigningKey } from '../../lib/signers/local.ts';
import type { Signer } from '../../lib/signers/signer.ts';
import { DynamoStore } from '../../lib/stores/dynamodb.ts';
import { ensureTable } from '../../lib/stores/dynamodb-table.ts';
import { MemoryStore } from '../../lib/stores/memory.ts';
import {
  type EmbeddedDynamo,
  localDynamoClient,
  startEmbeddedDynamo,
} from '../../local/embedded-dynamodb.ts';
import {
  type FakeKms,
  type FaultyDynamo,
  fakeKms,
  faultyDynamo,
  SDK_SECRET,
  tokenItems,
} from '../support/fault-doubles.ts';
import {
  type Behaviour,
  generateIssuerKeys,
  type HangingServer,
  type HostileIssuer,
  type IssuerKey,
  type KeyName,
  type Recorder,
  startHangingServer,
  startHostileIssuer,
  startRecorder,
} from '../support/hostile-issuer.ts';
import { freePort } from '../support/ports.ts';
import {
  ACCESS_TOKEN,
  API,
  adjustableClock,
  expectOAuthError,
  type Harness,
  type HttpAnswer,
  JWT,
  REPORTS,
  securityConfig,
  send,
  startHarness,
} from '../support/sts-harness.ts';

/**
 * Every dependency fault fails closed: KMS (the real KMS signer on aws-sdk-client-mock), DynamoDB
 * (the real DynamoStore, its calls passing through to dynalite unless made to fail, plus a hung and
 * a refusing endpoint) and an issuer's JWKS (down, slow, junk). Each answer is checked for its
 * status, Retry-After, a body with nothing internal, and that no TOKEN# item appeared for it.
 */
const TABLE = 'sts-faults';
let dynamo: EmbeddedDynamo;
let real: DynamoDBClient;
let keys: Readonly<Record<KeyName, IssuerKey>>;
let ext: HostileIssuer;
let once: HostileIssuer;
const clock = adjustableClock();

beforeAll(async () => {
  dynamo = await startEmbeddedDynamo(undefined);
  real = localDynamoClient(dynamo.endpoint);
  await ensureTable(real, TABLE);
  keys = await generateIssuerKeys();
  [ext, once] = await Promise.all([startHostileIssuer(clock, keys), startHostileIssuer(clock, keys)]);
});

afterAll(async () => {
  await Promise.all([ext?.close(), once?.close()]);
  real?.destroy();
  await dynamo?.close();
});

/** securityConfig plus a one-time-use issuer (its tokens write SEEN#<issuer>#<jti> before signing). */
function faultsConfig(base: string) {
  once.audience = base;
  ext.audience = base;
  const actors = [{ issuer: 'ext', subject: 'service:*' }];
  return parseConfig({
    issuer: base,
    trustedIssuers: [
      { name: 'ext', issuer: ext.issuer, algorithms: ['RS256', 'ES256'], audiences: [base] },
      { name: 'once', issuer: once.issuer, jwksUri: once.jwksUri, audiences: [base], oneTimeUse: true },
    ],
    policies: [
      { name: 'users', issuer: 'ext', subject: 'user:*', audiences: [API, base], scopes: ['read'], actors },
      { name: 'chained', issuer: 'self', subject: 'user:*', audiences: [REPORTS], scopes: ['read'], actors },
      { name: 'once', issuer: 'once', subject: '**', audiences: [API] },
    ],
  });
}

/** A signer that counts signatures: a count that rises with no 200 is a token dropped. */
function counting(signer: Signer): Signer & { count(): number } {
  let signed = 0;
  return {
    activeKey: () => signer.activeKey(),
    publicKeys: () => signer.publicKeys(),
    sign: (input) => {
      signed++;
      return signer.sign(input);
    },
    count: () => signed,
  };
}

const dynamoError =
  (error: Error): (() => Promise<never>) =>
  () =>
    Promise.reject(error);
const metadata = (httpStatusCode: number) => ({ $metadata: { httpStatusCode }, message: SDK_SECRET });
const dynamoFault = (name: string, httpStatusCode: number) =>
  new DynamoDBServiceException({
    name,
    $fault: httpStatusCode >= 500 ? 'server' : 'client',
    ...metadata(httpStatusCode),
  });

/** The refusal, Retry-After where it applies, and nothing of the SDK in headers or body. */
function expectFailClosed(answer: HttpAnswer, status: number, error: string, retryAfter?: string): void {
  expectOAuthError(answer, status, error);
  expect(answer.headers.get('retry-after')).toBe(retryAfter ?? null);
  expect(answer.text).not.toContain(SDK_SECRET);
  expect(answer.text).not.toContain(TABLE);
}

describe('DynamoDB faults (the real DynamoStore; its calls pass through to dynalite unless failed)', () => {
  let faulty: FaultyDynamo;
  let signer: ReturnType<typeof counting>;
  let harness: Harness;

  beforeAll(async () => {
    faulty = faultyDynamo(localDynamoClient(dynamo.endpoint), real);
    signer = counting(await createLocalSigner(generateSigningKey('ES256'), 'ES256'));
    harness = await startHarness({
      config: faultsConfig,
      store: new DynamoStore({ client: faulty.client, tableName: TABLE, timeoutMs: 500 }),
      signer,
      clock,
    });
  });
  afterEach(() => faulty.passThrough());
  afterAll(async () => {
    await harness?.close();
    faulty?.client.destroy();
  });

  const exchange = (subject = ext.token()) =>
    harness.exchange({ subject_token: subject, subject_token_type: JWT, audience: API });

  it('healthy: 200, and the TOKEN# item of the returned jti is in the table (control)', async () => {
    const answer = await exchange();
    expect(answer.status, answer.text).toBe(200);
    const { jti } = decodeJwt(String(answer.body?.access_token));
    expect((await tokenItems(real, TABLE)).has(String(jti))).toBe(true);
  });

  it.each(
    (
      [
        [
          'ProvisionedThroughputExceededException',
          () => new ProvisionedThroughputExceededException(metadata(400)),
          503,
        ],
        ['ThrottlingException', () => new ThrottlingException(metadata(400)), 503],
        ['RequestLimitExceeded', () => new RequestLimitExceeded(metadata(400)), 503],
        ['InternalServerError', () => new InternalServerError(metadata(500)), 503],
        ['an unmodelled 503 (ServiceUnavailable)', () => dynamoFault('ServiceUnavailable', 503), 503],
        [
          'ConditionalCheckFailedException (the jti exists)',
          () => new ConditionalCheckFailedException(metadata(400)),
          500,
        ],
        ['ValidationException', () => dynamoFault('ValidationException', 400), 500],
        ['AccessDeniedException', () => dynamoFault('AccessDeniedException', 400), 500],
        ['ResourceNotFoundException (no table)', () => new ResourceNotFoundException(metadata(400)), 500],
        ['a plain Error', () => new Error(SDK_SECRET), 500],
      ] as const
    ).map(([fault, error, status]) => [fault, status, error] as const),
  )('PutItem TOKEN# fails with %s: %s, the signed token is dropped', async (_fault, status, error) => {
    faulty.failPut('TOKEN#', dynamoError(error()));
    const [items, signed] = [await tokenItems(real, TABLE), signer.count()];
    const answer = await exchange();
    if (status === 503) expectFailClosed(answer, 503, 'temporarily_unavailable', '1');
    else expectFailClosed(answer, 500, 'server_error');
    expect(signer.count()).toBe(signed + 1); // signed, then never returned
    expect(await tokenItems(real, TABLE)).toEqual(items);
  });

  it('PutItem SEEN# (one-time subject token) throttled: 503, the signed token is dropped; the same token works once DynamoDB recovers', async () => {
    const subject = once.token({ claims: { sub: 'runner-1' } });
    faulty.failPut('SEEN#', dynamoError(new ProvisionedThroughputExceededException(metadata(400))));
    const [items, signed] = [await tokenItems(real, TABLE), signer.count()];
    expectFailClosed(await exchange(subject), 503, 'temporarily_unavailable', '1');
    expect(signer.count()).toBe(signed + 1); // signed before the one-time token is spent, then dropped
    expect(await tokenItems(real, TABLE)).toEqual(items);
    faulty.passThrough();
    expect((await exchange(subject)).status).toBe(200);
    expectOAuthError(await exchange(subject), 400, 'invalid_request'); // and then it is spent
  });

  it('GetItem throttled while verifying a chained subject token: 503, nothing signed or recorded', async () => {
    const first = await harness.exchange({
      subject_token: ext.token(),
      subject_token_type: JWT,
      audience: harness.sts.url,
    });
    expect(first.status).toBe(200);
    faulty.failGet(dynamoError(new ThrottlingException(metadata(400))));
    const [items, signed] = [await tokenItems(real, TABLE), signer.count()];
    const answer = await harness.exchange({
      subject_token: String(first.body?.access_token),
      subject_token_type: ACCESS_TOKEN,
      audience: REPORTS,
    });
    expectFailClosed(answer, 503, 'temporarily_unavailable', '1');
    expect(signer.count()).toBe(signed);
    expect(await tokenItems(real, TABLE)).toEqual(items);
  });

  it('GetItem failing with AccessDeniedException while verifying a chained subject token: 500, not admitted', async () => {
    const first = await harness.exchange({
      subject_token: ext.token(),
      subject_token_type: JWT,
      audience: harness.sts.url,
    });
    faulty.failGet(dynamoError(dynamoFault('AccessDeniedException', 400)));
    const items = await tokenItems(real, TABLE);
    const answer = await harness.exchange({
      subject_token: String(first.body?.access_token),
      subject_token_type: ACCESS_TOKEN,
      audience: REPORTS,
    });
    expectFailClosed(answer, 500, 'server_error');
    expect(await tokenItems(real, TABLE)).toEqual(items);
  });
});

describe('DynamoDB unreachable over the network', () => {
  let hanging: HangingServer;
  beforeAll(async () => {
    hanging = await startHangingServer();
  });
  afterAll(async () => {
    await hanging?.close();
  });

  async function withStore(
    endpoint: string,
    work: (harness: Harness, signer: ReturnType<typeof counting>) => Promise<void>,
  ) {
    const client = localDynamoClient(endpoint);
    const signer = counting(await createLocalSigner(generateSigningKey('ES256'), 'ES256'));
    const harness = await startHarness({
      config: faultsConfig,
      store: new DynamoStore({ client, tableName: TABLE, timeoutMs: 300 }),
      signer,
      clock,
    });
    try {
      await work(harness, signer);
    } finally {
      await harness.close();
      client.destroy();
    }
  }

  it('an endpoint that accepts and never answers: 503 within the 300 ms store deadline, no token', async () => {
    await withStore(hanging.url, async (harness, signer) => {
      const started = performance.now();
      const answer = await harness.exchange({
        subject_token: ext.token(),
        subject_token_type: JWT,
        audience: API,
      });
      const elapsed = performance.now() - started;
      expectFailClosed(answer, 503, 'temporarily_unavailable', '1');
      expect(elapsed).toBeLessThan(2000);
      expect(hanging.connections()).toBeGreaterThan(0);
      // The subject's revocation (SUBJECT#) is read before signing: the outage stops it there.
      expect(signer.count()).toBe(0);
    });
  });

  it('an endpoint that refuses connections (ECONNREFUSED): 503, no token', async () => {
    const port = await freePort();
    await withStore(`http://127.0.0.1:${port}`, async (harness) => {
      const answer = await harness.exchange({
        subject_token: ext.token(),
        subject_token_type: JWT,
        audience: API,
      });
      expectFailClosed(answer, 503, 'temporarily_unavailable', '1');
    });
  });
});

describe('KMS faults (the real KMS signer on aws-sdk-client-mock; the store is DynamoStore on dynalite)', () => {
  let kms: FakeKms;
  let harness: Harness;

  beforeAll(async () => {
    kms = fakeKms();
    const signer = await createKmsSigner({ client: kms.client, keyIds: [kms.keyArn], timeoutMs: 300 });
    harness = await startHarness({
      config: faultsConfig,
      store: new DynamoStore({ client: real, tableName: TABLE }),
      signer,
      clock,
    });
  });
  afterEach(() => kms.healthy());
  afterAll(async () => {
    await harness?.close();
  });

  const exchange = () =>
    harness.exchange({ subject_token: ext.token(), subject_token_type: JWT, audience: API });

  it('healthy: 200, an RS256 at+jwt that verifies against the JWKS, and its TOKEN# item (control)', async () => {
    const answer = await exchange();
    expect(answer.status, answer.text).toBe(200);
    const jwks = await send(`${harness.sts.url}/.well-known/jwks.json`, undefined, { method: 'GET' });
    const token = String(answer.body?.access_token);
    const { payload } = await jwtVerify(token, createLocalJWKSet(jwks.body as never), {
      algorithms: ['RS256'],
      typ: 'at+jwt',
      currentDate: new Date(clock()),
    });
    expect((await tokenItems(real, TABLE)).has(String(payload.jti))).toBe(true);
  });

  const kmsFault = (name: string, httpStatusCode: number) =>
    new KMSServiceException({
      name,
      $fault: httpStatusCode >= 500 ? 'server' : 'client',
      ...metadata(httpStatusCode),
    });
  const networkError = (code: string) => Object.assign(new Error(`socket hang up ${SDK_SECRET}`), { code });

  it.each(
    (
      [
        [
          'ThrottlingException',
          () => kms.mock.on(SignCommand).rejects(kmsFault('ThrottlingException', 400)),
          503,
        ],
        [
          'KMSInternalException',
          () => kms.mock.on(SignCommand).rejects(new KMSInternalException(metadata(500))),
          503,
        ],
        [
          'DependencyTimeoutException',
          () => kms.mock.on(SignCommand).rejects(new DependencyTimeoutException(metadata(503))),
          503,
        ],
        [
          'KeyUnavailableException',
          () => kms.mock.on(SignCommand).rejects(new KeyUnavailableException(metadata(500))),
          503,
        ],
        [
          'DisabledException (key disabled)',
          () => kms.mock.on(SignCommand).rejects(new DisabledException(metadata(400))),
          503,
        ],
        [
          'KMSInvalidStateException (pending deletion)',
          () => kms.mock.on(SignCommand).rejects(new KMSInvalidStateException(metadata(400))),
          503,
        ],
        [
          'a connection reset (ECONNRESET)',
          () => kms.mock.on(SignCommand).rejects(networkError('ECONNRESET')),
          503,
        ],
        [
          'no answer (hangs past the 300 ms deadline)',
          () => kms.mock.on(SignCommand).callsFake(() => new Promise(() => {})),
          503,
        ],
        [
          'AccessDeniedException',
          () => kms.mock.on(SignCommand).rejects(kmsFault('AccessDeniedException', 400)),
          500,
        ],
        [
          'NotFoundException (key deleted)',
          () => kms.mock.on(SignCommand).rejects(new NotFoundException(metadata(400))),
          500,
        ],
        [
          'IncorrectKeyException',
          () => kms.mock.on(SignCommand).rejects(new IncorrectKeyException(metadata(400))),
          500,
        ],
        [
          'a signature of the wrong length',
          () => kms.mock.on(SignCommand).resolves({ KeyId: kms.keyArn, Signature: new Uint8Array(10) }),
          500,
        ],
        ['no signature at all', () => kms.mock.on(SignCommand).resolves({ KeyId: kms.keyArn }), 500],
        [
          'a signature from another key',
          () =>
            kms.mock
              .on(SignCommand)
              .resolves({ KeyId: `${kms.keyArn}-other`, Signature: new Uint8Array(randomBytes(256)) }),
          500,
        ],
      ] as const
    ).map(([fault, arrange, status]) => [fault, status, arrange] as const),
  )('Sign fails with %s: %s, nothing recorded', async (_fault, status, arrange) => {
    arrange();
    const [items, calls] = [await tokenItems(real, TABLE), kms.signCalls()];
    const started = performance.now();
    const answer = await exchange();
    expect(performance.now() - started).toBeLessThan(2000);
    if (status === 503) expectFailClosed(answer, 503, 'temporarily_unavailable', '1');
    else expectFailClosed(answer, 500, 'server_error');
    expect(kms.signCalls()).toBe(calls + 1);
    expect(await tokenItems(real, TABLE)).toEqual(items);
  });

  it('Sign throttled with a one-time subject token: 503, and the token is not spent (the retry succeeds)', async () => {
    const subject = once.token({ claims: { sub: 'runner-2' } });
    const request = () =>
      harness.exchange({ subject_token: subject, subject_token_type: JWT, audience: API });
    kms.mock.on(SignCommand).rejects(kmsFault('ThrottlingException', 400));
    expectFailClosed(await request(), 503, 'temporarily_unavailable', '1');
    kms.healthy();
    expect((await request()).status).toBe(200);
    expectOAuthError(await request(), 400, 'invalid_request'); // spent by the success
  });

  it('KMS unreachable at cold start (a hung endpoint, lazy signer): /token, JWKS and metadata answer 503, never an empty key set', async () => {
    const hanging = await startHangingServer();
    const client = new KMSClient({
      endpoint: hanging.url,
      region: 'eu-west-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      maxAttempts: 1,
    });
    const signer = await createKmsSigner({ client, keyIds: ['alias/sts'], lazy: true, timeoutMs: 300 });
    const cold = await startHarness({ config: faultsConfig, store: new MemoryStore(), signer, clock });
    try {
      const items = await tokenItems(real, TABLE);
      const answer = await cold.exchange({
        subject_token: ext.token(),
        subject_token_type: JWT,
        audience: API,
      });
      expectFailClosed(answer, 503, 'temporarily_unavailable', '1');
      for (const path of ['/.well-known/jwks.json', '/.well-known/openid-configuration']) {
        expectFailClosed(
          await cold.request(undefined, { method: 'GET', path }),
          503,
          'temporarily_unavailable',
          '1',
        );
      }
      expect(hanging.connections()).toBeGreaterThan(0);
      expect(await tokenItems(real, TABLE)).toEqual(items);
    } finally {
      await cold.close();
      client.destroy();
      await hanging.close();
    }
  });
});

describe("an issuer's JWKS down after its keys were cached", () => {
  const warmClock = adjustableClock();
  let issuer: HostileIssuer;
  let harness: Harness;
  const store = new MemoryStore();
  const down: Behaviour = { status: 503, type: 'text/plain', body: 'down' };

  beforeAll(async () => {
    issuer = await startHostileIssuer(warmClock, keys);
    harness = await startHarness({ config: securityConfig(issuer), store, clock: warmClock });
    const warm = await harness.exchange({
      subject_token: issuer.token(),
      subject_token_type: JWT,
      audience: API,
    });
    expect(warm.status).toBe(200);
    issuer.jwks = down;
    issuer.discovery = down;
  });
  afterAll(async () => {
    await harness?.close();
    await issuer?.close();
  });

  const exchange = (token = issuer.token()) =>
    harness.exchange({ subject_token: token, subject_token_type: JWT, audience: API });
  const unknownKid = () => issuer.token({ header: { kid: randomBytes(8).toString('hex') }, key: 'attacker' });

  it('a token under a cached kid still verifies: 200', async () => {
    expect((await exchange()).status).toBe(200);
  });

  it('an unknown kid: 400 invalid_request, and one refetch attempt per 30 s cooldown however many arrive', async () => {
    const before = issuer.requests.jwks;
    for (let i = 0; i < 5; i++) expectFailClosed(await exchange(unknownKid()), 400, 'invalid_request');
    warmClock.advance(31);
    for (let i = 0; i < 5; i++) expectFailClosed(await exchange(unknownKid()), 400, 'invalid_request');
    expect(issuer.requests.jwks - before).toBeLessThanOrEqual(2);
  });

  it('past the 10 min cache age and still down: the stale keys keep serving (200), one refresh per cooldown', async () => {
    warmClock.advance(11 * 60);
    const before = issuer.requests.jwks;
    for (let i = 0; i < 5; i++) expect((await exchange()).status).toBe(200);
    expect(issuer.requests.jwks - before).toBe(1);
  });

  it('past 24 h of stale keys and still down: 503 temporarily_unavailable, Retry-After 30, nothing recorded', async () => {
    warmClock.advance(24 * 3600);
    const recorded = store.tokens.size;
    expectFailClosed(await exchange(), 503, 'temporarily_unavailable', '30');
    expect(store.tokens.size).toBe(recorded);
  });

  it('once the issuer is back, the next request after the cooldown refreshes and succeeds', async () => {
    issuer.jwks = 'serve';
    warmClock.advance(31);
    expect((await exchange()).status).toBe(200);
  });
});

describe("an issuer's JWKS failing before any key was cached", () => {
  let recorder: Recorder;
  const issuers = new Map<string, HostileIssuer>();
  const store = new MemoryStore();
  let harness: Harness;

  /** name -> [JWKS behaviour, discovery behaviour, whether jwksUri is configured]. */
  const MODES: Record<string, readonly [Behaviour, Behaviour, boolean]> = {
    'JWKS answers 503': [{ status: 503, body: 'unavailable' }, 'serve', true],
    'JWKS answers 404': [{ status: 404, body: 'not found' }, 'serve', true],
    'JWKS drops the connection': ['drop', 'serve', true],
    'JWKS hangs (bounded by the 3 s fetch timeout)': ['hang', 'serve', true],
    'JWKS serves an HTML page': [
      { type: 'text/html', body: '<html><body>maintenance</body></html>' },
      'serve',
      true,
    ],
    'JWKS serves JSON without keys': [{ body: '{"issuer":"x"}' }, 'serve', true],
    'JWKS serves keys that are not an array': [{ body: '{"keys":{"kty":"RSA"}}' }, 'serve', true],
    'JWKS serves a 300 KB document': [
      { body: JSON.stringify({ keys: [], pad: 'x'.repeat(300_000) }) },
      'serve',
      true,
    ],
    'JWKS redirects elsewhere': [{ status: 302, body: '', location: 'RECORDER' }, 'serve', true],
    'discovery answers 500': ['serve', { status: 500, body: 'oops' }, false],
    'discovery names another issuer': [
      'serve',
      { body: JSON.stringify({ issuer: 'https://evil.example', jwks_uri: 'RECORDER' }) },
      false,
    ],
    'discovery points jwks_uri at plain http off loopback': [
      'serve',
      { body: JSON.stringify({ issuer: 'SELF', jwks_uri: 'http://example.com/jwks' }) },
      false,
    ],
    'discovery serves junk': ['serve', { body: 'not json' }, false],
  };
  /** Key sets that parse but hold no usable key: the token is refused like an unknown kid. */
  const UNUSABLE = ['JWKS serves only private keys', 'JWKS serves entries without kty'];

  beforeAll(async () => {
    recorder = await startRecorder();
    const names = [...Object.keys(MODES), ...UNUSABLE];
    for (const name of names) issuers.set(name, await startHostileIssuer(clock, keys));
    const resolve = (behaviour: Behaviour, issuer: HostileIssuer): Behaviour =>
      typeof behaviour === 'string'
        ? behaviour
        : {
            ...behaviour,
            body: String(behaviour.body)
              .replaceAll('RECORDER', recorder.url)
              .replaceAll('SELF', issuer.issuer),
            ...(behaviour.location ? { location: recorder.url } : {}),
          };
    for (const [name, [jwks, discovery]] of Object.entries(MODES)) {
      const issuer = issuers.get(name)!;
      issuer.jwks = resolve(jwks, issuer);
      issuer.discovery = resolve(discovery, issuer);
    }
    const privateJwk = { ...keys.rsa.privateKey.export({ format: 'jwk' }), kid: keys.rsa.kid, alg: 'RS256' };
    issuers.get(UNUSABLE[0]!)!.jwks = { body: JSON.stringify({ keys: [privateJwk] }) };
    issuers.get(UNUSABLE[1]!)!.jwks = { body: '{"keys":[{},{"kid":"x"},null,"RSA"]}' };
    const entries = [...issuers.entries()].map(([name, issuer], index) => ({ index, name, issuer }));
    harness = await startHarness({
      store,
      clock,
      config: (base) => {
        for (const { issuer } of entries) issuer.audience = base;
        return parseConfig({
          issuer: base,
          trustedIssuers: entries.map(({ index, name, issuer }) => ({
            name: `i${index}`,
            issuer: issuer.issuer,
            audiences: [base],
            algorithms: ['RS256'],
            ...(MODES[name]?.[2] === false ? {} : { jwksUri: issuer.jwksUri }),
          })),
          policies: entries.map(({ index }) => ({
            name: `p${index}`,
            issuer: `i${index}`,
            subject: '**',
            audiences: [API],
          })),
        });
      },
    });
  });
  afterAll(async () => {
    await harness?.close();
    await Promise.all([...issuers.values()].map((issuer) => issuer.close()));
    await recorder?.close();
  });

  it.each(Object.keys(MODES))(
    '%s: 503 temporarily_unavailable, Retry-After 30, nothing recorded',
    async (name) => {
      const issuer = issuers.get(name)!;
      const started = performance.now();
      const answer = await harness.exchange({
        subject_token: issuer.token(),
        subject_token_type: JWT,
        audience: API,
      });
      const elapsed = performance.now() - started;
      expectFailClosed(answer, 503, 'temporarily_unavailable', '30');
      expect(elapsed).toBeLessThan(4500);
      expect(store.tokens.size).toBe(0);
      expect(recorder.requests).toEqual([]);
    },
  );

  it.each(UNUSABLE)('%s: the token is refused, 400 invalid_request', async (name) => {
    const issuer = issuers.get(name)!;
    const answer = await harness.exchange({
      subject_token: issuer.token(),
      subject_token_type: JWT,
      audience: API,
    });
    expectFailClosed(answer, 400, 'invalid_request');
    expect(store.tokens.size).toBe(0);
  });
});
