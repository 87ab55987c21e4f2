import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { OAuthError } from '../../../lib/shared/errors.ts';
import { createLocalSigner, generateSigningKey } from '../../../lib/signers/local.ts';
import type { Signer } from '../../../lib/signers/signer.ts';
import type { TokenStore } from '../../../lib/stores/store.ts';
import { dynamoRevocationLookup } from '../../../lib/verify/dynamodb.ts';
import { createAccessTokenVerifier } from '../../../lib/verify/verifier.ts';
import { type FrozenClock, frozenClock } from '../../support/clock.ts';
import { API_AUDIENCE, buildConfig, STS_ISSUER } from '../../support/config.ts';
import { createFakeFetch, type FakeFetch, jsonResponse } from '../../support/fetch.ts';
import { issueSelfToken } from '../../support/self-token.ts';
import { DYNAMO_STORE_KINDS, type OpenedStore } from '../../support/token-stores.ts';

// The verifier's table-read mode (`serverless-sts/verifier/dynamodb`) reads what the service's
// DynamoStore writes, through the one layout in shared/token-table.ts: tokens are recorded and
// revoked by the service's store, and judged by the verifier's own reads on dynalite.

const DISCOVERY = `${STS_ISSUER}/.well-known/openid-configuration`;
const JWKS = `${STS_ISSUER}/.well-known/jwks.json`;
const config = buildConfig();
const dynalite = DYNAMO_STORE_KINDS.find((kind) => kind.name === 'dynalite')!;

let opened: OpenedStore;
let store: TokenStore;
let signer: Signer;
let clock: FrozenClock;
let fake: FakeFetch;

beforeAll(async () => {
  opened = await dynalite.open();
  store = opened.store;
  signer = await createLocalSigner(generateSigningKey('ES256'), 'ES256');
});
afterAll(() => opened?.close());

beforeEach(async () => {
  clock = frozenClock();
  fake = createFakeFetch();
  fake.on(DISCOVERY, jsonResponse({ issuer: STS_ISSUER, jwks_uri: JWKS }));
  const keys = [...(await signer.publicKeys())];
  fake.on(JWKS, () => Response.json({ keys }));
});

const verifierReading = (via: ReturnType<typeof dynamoRevocationLookup>) =>
  createAccessTokenVerifier({
    issuer: STS_ISSUER,
    audience: API_AUDIENCE,
    clock,
    fetch: fake.fetch,
    revocation: { via, maxStaleMs: 0 },
  });

const tableVerifier = () => verifierReading(dynamoRevocationLookup({ ...opened.dynamo!, clock }));

const issue = (options: { sub?: string; record?: boolean } = {}) =>
  issueSelfToken({ config, signer, store, clock }, { aud: API_AUDIENCE, iat: clock.seconds(), ...options });

async function failure(promise: Promise<unknown>): Promise<OAuthError> {
  const error = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(OAuthError);
  return error as OAuthError;
}

describe('dynamoRevocationLookup', () => {
  it('accepts a recorded token until the service revokes its jti', async () => {
    const verifier = tableVerifier();
    const minted = await issue();
    await expect(verifier.verify(minted.token)).resolves.toMatchObject({ jti: minted.jti });
    await store.revokeToken(minted.jti, clock.seconds());
    const error = await failure(verifier.verify(minted.token));
    expect([error.code, error.reason]).toEqual(['invalid_token', 'revoked']);
  });

  it('refuses the tokens of a subject revoked after they were issued, not later ones', async () => {
    const verifier = tableVerifier();
    const sub = 'repo:acme/app:environment:prod';
    const earlier = await issue({ sub });
    await store.revokeSubject('https://issuer.test', sub, clock.seconds() + 1);
    expect((await failure(verifier.verify(earlier.token))).reason).toBe('revoked');
    clock.advance(2);
    const later = await issue({ sub });
    await expect(verifier.verify(later.token)).resolves.toMatchObject({ sub });
  });

  it('refuses a validly signed token whose jti was never recorded', async () => {
    const unrecorded = await issue({ record: false });
    expect((await failure(tableVerifier().verify(unrecorded.token))).reason).toBe('revoked');
  });

  it('fails closed with 503 when the table cannot be read', async () => {
    const client = new DynamoDBClient({
      endpoint: 'http://127.0.0.1:9',
      region: 'us-east-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      maxAttempts: 1,
    });
    try {
      const verifier = verifierReading(dynamoRevocationLookup({ client, tableName: 'sts', timeoutMs: 500 }));
      const error = await failure(verifier.verify((await issue()).token));
      expect([error.status, error.reason]).toEqual([503, 'verifier.revocation_unavailable']);
    } finally {
      client.destroy();
    }
  });
});
