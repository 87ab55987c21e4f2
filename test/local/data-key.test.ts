import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSettings } from '../../lib/config/settings.ts';
import { type LocalServer, startLocalServer } from '../../local/server.ts';

/** `STS_SIGNER=data-key npm start`: the local server signs with a data key from its own table. */
const ADMIN_TOKEN = 'data-key-admin-secret';

describe('local server in data-key mode', () => {
  let dir: string;
  let server: LocalServer;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sts-data-key-'));
    server = await startLocalServer({
      settings: loadSettings({
        PORT: '0',
        STS_DATA_DIR: dir,
        STS_SIGNER: 'data-key',
        STS_LOG_LEVEL: 'silent',
        STS_ADMIN_TOKEN: ADMIN_TOKEN,
      }),
    });
  }, 60_000);
  afterAll(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function exchange(): Promise<string> {
    const subject = await server.devIssuer.mint({ sub: 'dev-user', aud: server.url });
    const response = await fetch(`${server.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({
        grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange',
        subject_token: subject,
        subject_token_type: 'urn:ietf:params:oauth:token-type:jwt',
        audience: 'https://api.example.local',
      }),
    });
    expect(response.status).toBe(200);
    return ((await response.json()) as { access_token: string }).access_token;
  }

  it('exchanges a token signed by the active data key, which the JWKS publishes', async () => {
    const token = await exchange();
    const jwks = (await (await fetch(`${server.url}/.well-known/jwks.json`)).json()) as {
      keys: { kid: string }[];
    };
    expect(jwks.keys.map((key) => key.kid)).toContain(decodeProtectedHeader(token).kid);
    const verified = await jwtVerify(
      token,
      createRemoteJWKSet(new URL(`${server.url}/.well-known/jwks.json`)),
      {
        issuer: server.runtime.config.issuer,
        audience: 'https://api.example.local',
        algorithms: ['ES256'],
      },
    );
    expect(verified.payload.sub).toBe('dev-user');
  });

  it('calls every token it signed active on introspection (its signatures are low-S)', async () => {
    for (let index = 0; index < 16; index++) {
      const token = await exchange();
      const answer = await fetch(`${server.url}/introspect`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${ADMIN_TOKEN}`,
          'content-type': 'application/x-www-form-urlencoded',
        },
        body: new URLSearchParams({ token }),
      });
      expect(answer.status).toBe(200);
      expect(((await answer.json()) as { active: boolean }).active).toBe(true);
    }
  });
});
