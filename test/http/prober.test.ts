import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSettings } from '../../lib/config/settings.ts';
import { runProbe } from '../../lib/ops/probe.ts';
import { writeProbeMetrics } from '../../lib/ops/probe-metrics.ts';
import {
  mintProberToken,
  PROBER_AUDIENCE,
  PROBER_JWKS_PATH,
  PROBER_NAME,
} from '../../lib/ops/prober-issuer.ts';
import { TOKEN_EXCHANGE_GRANT, TOKEN_TYPE } from '../../lib/shared/claims.ts';
import { createMetricsWriter } from '../../lib/shared/emf.ts';
import { createLocalSigner, generateSigningKey } from '../../lib/signers/local.ts';
import { type LocalServer, startLocalServer } from '../../local/server.ts';
import { ADMIN_TOKEN, startTestSts, type TestSts } from '../support/local-sts.ts';

/**
 * The prober's logic (lib/ops/probe.ts) against the local server, which runs the very handlers
 * Lambda runs: the positive exchange verified against the published JWKS, the refusal, and the
 * revocation lag through introspection; and what the prober issuer may and may not do.
 */
const admin = async () => ({ authorization: `Bearer ${ADMIN_TOKEN}` });
let server: LocalServer;
let dataDir: string;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'sts-prober-'));
  server = await startLocalServer({
    settings: loadSettings({
      PORT: '0',
      STS_DATA_DIR: dataDir,
      STS_LOG_LEVEL: 'silent',
      STS_ADMIN_TOKEN: ADMIN_TOKEN,
      STS_PROBER: 'on',
    }),
  });
});
afterAll(async () => {
  await server?.close();
  rmSync(dataDir, { recursive: true, force: true });
});

const proberToken = () =>
  mintProberToken(server.runtime.proberSigner!, server.runtime.config.issuer, Date.now);
const exchange = async (subjectToken: string, fields: Record<string, string>) =>
  fetch(`${server.url}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: TOKEN_EXCHANGE_GRANT,
      subject_token: subjectToken,
      subject_token_type: TOKEN_TYPE.jwt,
      ...fields,
    }),
  });

describe('the prober against the local server', () => {
  it('passes every probe and measures the revocation lag', async () => {
    const report = await runProbe({
      issuer: server.runtime.config.issuer,
      subjectToken: proberToken,
      authorize: admin,
      pollIntervalMs: 10,
    });
    expect(report.steps.map((step) => [step.probe, step.ok, step.detail])).toEqual([
      ['exchange', true, undefined],
      ['refusal', true, undefined],
      ['revocation', true, undefined],
    ]);
    expect(report.revocationLagMs).toBeGreaterThanOrEqual(0);
    expect(report.revocationLagMs).toBeLessThan(5000);

    const lines: string[] = [];
    writeProbeMetrics(
      createMetricsWriter({ namespace: 'ServerlessSTS/test', sink: (line) => lines.push(line) }),
      report,
    );
    const documents = lines.map((line) => JSON.parse(line));
    expect(documents.map((document) => [document.probe, document.ProbeFailure])).toEqual([
      ['exchange', 0],
      ['refusal', 0],
      ['revocation', 0],
      [undefined, undefined],
    ]);
    expect(documents[3]).toMatchObject({ RevocationLag: expect.any(Number) });
    expect(documents[0]._aws.CloudWatchMetrics[0].Dimensions).toEqual([['probe']]);
  });

  it('reports failures when the prober key is unknown: the refusal must be the policy refusing a scope', async () => {
    const stranger = await createLocalSigner(generateSigningKey('ES256'), 'ES256');
    const report = await runProbe({
      issuer: server.runtime.config.issuer,
      subjectToken: () => mintProberToken(stranger, server.runtime.config.issuer, Date.now),
      authorize: admin,
    });
    expect(report.steps.map((step) => [step.probe, step.ok])).toEqual([
      ['exchange', false],
      ['refusal', false],
      ['revocation', false],
    ]);
    expect(report.steps[0]!.detail).toBe('token endpoint answered 400 invalid_request');
    expect(report.steps[1]!.detail).toBe(
      'a scope the policy does not grant was answered 400 invalid_request',
    );
    expect(report.revocationLagMs).toBeUndefined();
  });

  it('reports a revocation probe whose introspection is refused (no IAM grant)', async () => {
    const report = await runProbe({
      issuer: server.runtime.config.issuer,
      subjectToken: proberToken,
      authorize: async () => ({}),
    });
    expect(report.steps[2]).toMatchObject({
      probe: 'revocation',
      ok: false,
      detail: 'introspection answered 401 invalid_client',
    });
  });

  it('publishes the prober key, and the prober policy grants one audience and one scope only', async () => {
    const jwks = await (await fetch(`${server.url}${PROBER_JWKS_PATH}`)).json();
    expect(jwks).toEqual({ keys: await server.runtime.proberSigner!.publicKeys() });
    const other = await exchange(await proberToken(), {
      audience: 'https://api.example.local',
      scope: 'probe',
    });
    expect(other.status).toBe(400);
    expect(await other.json()).toMatchObject({ error: 'invalid_target' });
    const granted = await exchange(await proberToken(), { audience: PROBER_AUDIENCE, scope: 'probe' });
    expect(granted.status).toBe(200);
    const claims = JSON.parse(
      Buffer.from(
        ((await granted.json()) as { access_token: string }).access_token.split('.')[1]!,
        'base64url',
      ).toString(),
    );
    expect(claims).toMatchObject({
      sub: 'sts-prober',
      aud: PROBER_AUDIENCE,
      scope: 'probe',
      client_id: PROBER_NAME,
    });
    expect(claims.exp - claims.iat).toBeLessThanOrEqual(60);
  });

  it('refuses a prober subject token presented twice (one-time use)', async () => {
    const token = await proberToken();
    expect((await exchange(token, { audience: PROBER_AUDIENCE, scope: 'probe' })).status).toBe(200);
    const replay = await exchange(token, { audience: PROBER_AUDIENCE, scope: 'probe' });
    expect(replay.status).toBe(400);
  });
});

describe('without STS_PROBER', () => {
  let sts: TestSts;
  beforeAll(async () => {
    sts = await startTestSts();
  });
  afterAll(() => sts?.close());

  it('answers 404 at the prober JWKS route and trusts no prober token', async () => {
    expect((await fetch(`${sts.url}${PROBER_JWKS_PATH}`)).status).toBe(404);
    const signer = await createLocalSigner(generateSigningKey('ES256'), 'ES256');
    const token = await mintProberToken(signer, sts.server.runtime.config.issuer, Date.now);
    const response = await fetch(`${sts.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: TOKEN_EXCHANGE_GRANT,
        subject_token: token,
        subject_token_type: TOKEN_TYPE.jwt,
        audience: PROBER_AUDIENCE,
      }),
    });
    expect(response.status).toBe(400);
    expect(sts.server.runtime.config.policies.some((policy) => policy.name === PROBER_NAME)).toBe(false);
  });
});
