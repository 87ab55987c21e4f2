import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { calculateJwkThumbprint, createRemoteJWKSet, exportJWK, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type KmsEndpoint, startKmsEndpoint } from '../support/kms-endpoint.ts';
import { type StartedServer, startServerProcess, stopServerProcess } from '../support/local-process.ts';

/**
 * `STS_SIGNER=kms` end to end: the local server, started as `npm start` starts it, signs through
 * the real KMS client pointed at a KMS-compatible endpoint by the standard AWS_ENDPOINT_URL_KMS.
 */
let kms: KmsEndpoint;
let server: StartedServer;
let dataDir: string;

beforeAll(async () => {
  kms = await startKmsEndpoint();
  dataDir = mkdtempSync(join(tmpdir(), 'sts-kms-'));
  server = await startServerProcess({
    STS_DATA_DIR: dataDir,
    STS_SIGNER: 'kms',
    STS_KMS_KEY_IDS: 'alias/sts-signing',
    AWS_ENDPOINT_URL_KMS: kms.endpoint,
    AWS_REGION: 'eu-west-1',
    AWS_ACCESS_KEY_ID: 'local',
    AWS_SECRET_ACCESS_KEY: 'local',
  });
}, 60_000);

afterAll(async () => {
  if (server) await stopServerProcess(server);
  await kms?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('STS_SIGNER=kms against a KMS-compatible endpoint', () => {
  it('publishes the KMS key in the JWKS with its RFC 7638 thumbprint as kid', async () => {
    const { keys } = (await (await fetch(`${server.url}/.well-known/jwks.json`)).json()) as {
      keys: Record<string, string>[];
    };
    const expected = await exportJWK(kms.publicKey);
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatchObject({ kty: 'EC', crv: 'P-256', x: expected.x, y: expected.y, alg: 'ES256' });
    expect(keys[0]!.kid).toBe(await calculateJwkThumbprint(expected));
  });

  it('signs exchanged tokens with KMS; they verify against the served JWKS', async () => {
    const jwks = createRemoteJWKSet(new URL(`${server.url}/.well-known/jwks.json`));
    const signsBefore = kms.calls.Sign;
    for (let i = 0; i < 20; i++) {
      const subject = await (
        await fetch(`${server.url}/dev/token`, {
          method: 'POST',
          body: new URLSearchParams({ sub: `user-${i}` }),
        })
      ).text();
      const response = await fetch(`${server.url}/token`, {
        method: 'POST',
        body: new URLSearchParams({
          grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
          subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
          subject_token: subject,
          audience: 'https://api.example.local',
        }),
      });
      expect(response.status).toBe(200);
      const { access_token } = (await response.json()) as { access_token: string };
      const { payload } = await jwtVerify(access_token, jwks, {
        issuer: server.url,
        audience: 'https://api.example.local',
        algorithms: ['ES256'],
        typ: 'at+jwt',
      });
      expect(payload.sub).toBe(`user-${i}`);
    }
    expect(kms.calls.Sign - signsBefore).toBe(20);
    expect(kms.calls.GetPublicKey).toBe(1); // resolved once per container, then cached
  });
});
