import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import * as oauth from 'oauth4webapi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../lib/config/config.ts';
import { loadSettings } from '../../lib/config/settings.ts';
import { serverError, temporarilyUnavailable } from '../../lib/shared/errors.ts';
import { createLocalSigner, generateSigningKey } from '../../lib/signers/local.ts';
import type { Signer } from '../../lib/signers/signer.ts';
import { MemoryStore } from '../../lib/stores/memory.ts';
import type { TokenStore } from '../../lib/stores/store.ts';
import { type LocalServer, startLocalServer } from '../../local/server.ts';
import { startTestIssuer, type TestIssuer } from '../support/oidc-issuer.ts';

/**
 * The token endpoint from the outside: the local server (same handlers as Lambda, embedded
 * dynalite, local signer), an external OIDC issuer on loopback, a standard OAuth client
 * (oauth4webapi) and jose's createRemoteJWKSet against the served JWKS.
 */
const EXCHANGE = 'urn:ietf:params:oauth:grant-type:token-exchange';
const JWT = 'urn:ietf:params:oauth:token-type:jwt';
const ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';
const DEPLOY = 'https://deploy.acme.internal';
const SUBJECT = 'repo:acme/app:environment:prod';

let github: TestIssuer;
let onceIssuer: TestIssuer;
let sts: LocalServer;
let dataDir: string;
let as: oauth.AuthorizationServer;
const client: oauth.Client = { client_id: 'ci-pipeline' };
const insecure = { [oauth.allowInsecureRequests]: true };

const githubToken = (claims: Record<string, unknown> = {}) =>
  github.mint({
    sub: SUBJECT,
    aud: sts.url,
    repository_owner: 'acme',
    repository: 'acme/app',
    run_id: '42',
    ...claims,
  });

function configFor(base: string) {
  const actors = [{ issuer: 'github', subject: 'service:*' }];
  return parseConfig({
    issuer: base,
    tokenLifetime: { default: '5m', max: '15m' },
    trustedIssuers: [
      { name: 'github', issuer: github.issuer, audiences: [base], algorithms: ['RS256'] },
      {
        name: 'once',
        issuer: onceIssuer.issuer,
        audiences: [base],
        algorithms: ['RS256'],
        jwksUri: `${onceIssuer.issuer}/keys`,
        oneTimeUse: true,
      },
    ],
    policies: [
      {
        name: 'deploy-prod',
        issuer: 'github',
        subject: SUBJECT,
        claims: { repository_owner: 'acme' },
        audiences: [DEPLOY, base],
        scopes: ['deploy:write', 'deploy:read'],
        maxLifetime: '4m',
        copyClaims: ['repository', 'run_id'],
        actors,
      },
      {
        name: 'chained',
        issuer: 'self',
        origin: 'github',
        subject: 'repo:acme/**',
        audiences: ['https://api.acme.internal'],
        scopes: ['deploy:read'],
        actors,
      },
      { name: 'once', issuer: 'once', subject: '**', audiences: [DEPLOY] },
    ],
  });
}

/** A token request through the standard client; resolves to the processed response or its OAuth error. */
async function exchange(params: Record<string, string>) {
  const response = await oauth.genericTokenEndpointRequest(
    as,
    client,
    oauth.None(),
    EXCHANGE,
    params,
    insecure,
  );
  return oauth.processGenericTokenEndpointResponse(as, client, response);
}

async function post(
  body: string | Uint8Array,
  contentType = 'application/x-www-form-urlencoded',
  method = 'POST',
) {
  const response = await fetch(`${sts.url}/token`, {
    method,
    headers: { 'content-type': contentType },
    body,
  });
  return {
    status: response.status,
    headers: response.headers,
    body: (await response.json()) as Record<string, unknown>,
  };
}

const form = (params: Record<string, string>) => new URLSearchParams(params).toString();

beforeAll(async () => {
  [github, onceIssuer] = await Promise.all([startTestIssuer(), startTestIssuer()]);
  dataDir = mkdtempSync(join(tmpdir(), 'sts-http-'));
  sts = await startLocalServer({
    settings: loadSettings({ PORT: '0', STS_DATA_DIR: dataDir, STS_LOG_LEVEL: 'silent' }),
    config: configFor,
  });
  as = await oauth.processDiscoveryResponse(
    new URL(sts.url),
    await oauth.discoveryRequest(new URL(sts.url), { algorithm: 'oauth2', ...insecure }),
  );
}, 60_000);

afterAll(async () => {
  await sts?.close();
  await Promise.all([github?.close(), onceIssuer?.close()]);
  rmSync(dataDir, { recursive: true, force: true });
});

describe('discovery', () => {
  it('publishes RFC 8414 metadata and the same OpenID discovery document', async () => {
    expect(as.issuer).toBe(sts.url);
    expect(as.token_endpoint).toBe(`${sts.url}/token`);
    expect(as.grant_types_supported).toEqual([EXCHANGE]);
    const oidc = await fetch(`${sts.url}/.well-known/openid-configuration`);
    expect(await oidc.json()).toEqual(as);
    expect(oidc.headers.get('cache-control')).toBe('public, max-age=300');
  });

  it('publishes the JWKS with public keys only, cacheable for five minutes', async () => {
    const response = await fetch(`${sts.url}/.well-known/jwks.json`);
    expect(response.headers.get('cache-control')).toBe('public, max-age=300');
    const { keys } = (await response.json()) as { keys: Record<string, unknown>[] };
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatchObject({ kty: 'EC', crv: 'P-256', alg: 'ES256', use: 'sig' });
    expect(keys[0]).not.toHaveProperty('d');
  });

  it('answers unknown routes like API Gateway does', async () => {
    const response = await fetch(`${sts.url}/nope`);
    expect(response.status).toBe(404);
  });
});

describe('token exchange with a standard OAuth client', () => {
  it('exchanges a GitHub-style OIDC token for an audience-scoped at+jwt that verifies against the JWKS', async () => {
    const result = await exchange({
      subject_token: await githubToken(),
      subject_token_type: JWT,
      audience: DEPLOY,
      scope: 'deploy:write',
    });
    expect(result.token_type).toBe('bearer');
    expect(result.issued_token_type).toBe(ACCESS_TOKEN);
    expect(result.expires_in).toBe(240); // policy maxLifetime caps the 5m default
    expect(result.scope).toBe('deploy:write');

    const jwks = createRemoteJWKSet(new URL(as.jwks_uri!), insecure as never);
    const { payload, protectedHeader } = await jwtVerify(result.access_token, jwks, {
      issuer: sts.url,
      audience: DEPLOY,
      algorithms: ['ES256'],
      typ: 'at+jwt',
    });
    expect(protectedHeader.kid).toBeTruthy();
    expect(payload).toMatchObject({
      iss: sts.url,
      sub: SUBJECT,
      aud: DEPLOY,
      client_id: 'deploy-prod',
      scope: 'deploy:write',
      repository: 'acme/app',
      run_id: '42',
    });
    expect(payload.exp! - payload.iat!).toBe(240);
    expect(payload.nbf).toBe(payload.iat);
    expect(Buffer.from(payload.jti!, 'base64url').length).toBeGreaterThanOrEqual(16);
    expect(payload).not.toHaveProperty('repository_owner'); // only copied claims travel

    const record = await sts.runtime.store.getToken(payload.jti!);
    expect(record).toMatchObject({
      sub: SUBJECT,
      aud: DEPLOY,
      policy: 'deploy-prod',
      subjectIssuer: 'github',
      exp: payload.exp,
    });
  });

  it('sends no-store on success and ignores parameters it does not know (RFC 6749 §3.2)', async () => {
    const response = await post(
      form({
        grant_type: EXCHANGE,
        subject_token: await githubToken(),
        subject_token_type: JWT,
        resource: DEPLOY,
        client_id: 'whatever',
        unknown_thing: 'x',
        requested_token_type: JWT,
      }),
    );
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(response.headers.get('pragma')).toBe('no-cache');
    expect(response.body.issued_token_type).toBe(JWT);
    expect(response.body).not.toHaveProperty('scope'); // no scope asked: none granted
  });

  it('chains: a token minted here is a subject token for a narrower exchange', async () => {
    const first = await exchange({
      subject_token: await githubToken(),
      subject_token_type: JWT,
      audience: sts.url,
      scope: 'deploy:read',
    });
    const second = await exchange({
      subject_token: first.access_token,
      subject_token_type: ACCESS_TOKEN,
      audience: 'https://api.acme.internal',
      scope: 'deploy:read',
    });
    const claims = JSON.parse(Buffer.from(second.access_token.split('.')[1]!, 'base64url').toString());
    expect(claims).toMatchObject({
      sub: SUBJECT,
      aud: 'https://api.acme.internal',
      client_id: 'chained',
      scope: 'deploy:read',
    });
    // Never outlives the token it came from (policy default 5m, first token 4m).
    const firstClaims = JSON.parse(Buffer.from(first.access_token.split('.')[1]!, 'base64url').toString());
    expect(claims.exp).toBeLessThanOrEqual(firstClaims.exp);
    // The record keeps where the chain started, which `origin` conditions match.
    expect((await sts.runtime.store.getToken(claims.jti))?.subjectIssuer).toBe('github');
  });

  it('delegates: an actor token yields a nested RFC 8693 act claim', async () => {
    const actor1 = await github.mint({ sub: 'service:orders', aud: sts.url });
    const actor2 = await github.mint({ sub: 'service:billing', aud: sts.url });
    const first = await exchange({
      subject_token: await githubToken(),
      subject_token_type: JWT,
      actor_token: actor1,
      actor_token_type: JWT,
      audience: sts.url,
      scope: 'deploy:read',
    });
    const second = await exchange({
      subject_token: first.access_token,
      subject_token_type: ACCESS_TOKEN,
      actor_token: actor2,
      actor_token_type: JWT,
      audience: 'https://api.acme.internal',
    });
    const claims = JSON.parse(Buffer.from(second.access_token.split('.')[1]!, 'base64url').toString());
    expect(claims.act).toEqual({
      sub: 'service:billing',
      iss: github.issuer,
      act: { sub: 'service:orders', iss: github.issuer },
    });
    expect(decodeProtectedHeader(second.access_token).typ).toBe('at+jwt');
  });
});

describe('the error table of DESIGN.md', () => {
  const expectError = (response: Awaited<ReturnType<typeof post>>, status: number, error: string) => {
    expect({ status: response.status, error: response.body.error }).toEqual({ status, error });
    expect(response.headers.get('cache-control')).toBe('no-store');
    expect(typeof response.body.error_description).toBe('string');
  };

  it('missing, duplicated and malformed parameters: 400 invalid_request', async () => {
    const token = await githubToken();
    const base = { grant_type: EXCHANGE, subject_token: token, subject_token_type: JWT, audience: DEPLOY };
    expectError(await post(form({ ...base, subject_token: '' })), 400, 'invalid_request');
    expectError(
      await post(`${form(base)}&subject_token_type=${encodeURIComponent(JWT)}`),
      400,
      'invalid_request',
    );
    expectError(await post(`${form(base)}&scope=%zz`), 400, 'invalid_request');
    expectError(
      await post(form({ ...base, subject_token_type: 'urn:ietf:params:oauth:token-type:saml2' })),
      400,
      'invalid_request',
    );
  });

  it('wrong content type: 400 invalid_request; body too large: 413 invalid_request', async () => {
    const token = await githubToken();
    expectError(
      await post(JSON.stringify({ grant_type: EXCHANGE, subject_token: token }), 'application/json'),
      400,
      'invalid_request',
    );
    expectError(await post(`grant_type=${EXCHANGE}&pad=${'a'.repeat(70_000)}`), 413, 'invalid_request');
  });

  it('unknown grant_type: 400 unsupported_grant_type', async () => {
    expectError(await post(form({ grant_type: 'client_credentials' })), 400, 'unsupported_grant_type');
  });

  it('subject token invalid, expired, untrusted or admitted by no policy: 400 invalid_request', async () => {
    const now = Math.floor(Date.now() / 1000);
    const cases = [
      'not-a-jwt',
      await githubToken({ exp: now - 3600, iat: now - 7200, nbf: now - 7200 }),
      await githubToken({ aud: 'https://someone-else' }),
      await githubToken({ iss: 'https://evil.example' }),
      await githubToken({ sub: 'repo:evil/app:environment:prod' }),
      await githubToken({ repository_owner: 'evil' }),
    ];
    for (const subject_token of cases) {
      expectError(
        await post(form({ grant_type: EXCHANGE, subject_token, subject_token_type: JWT, audience: DEPLOY })),
        400,
        'invalid_request',
      );
    }
  });

  it('a replayed one-time subject token: 400 invalid_request', async () => {
    const token = await onceIssuer.mint({ sub: 'runner-1', aud: sts.url, jti: 'once-1' });
    const request = form({
      grant_type: EXCHANGE,
      subject_token: token,
      subject_token_type: JWT,
      audience: DEPLOY,
    });
    expect((await post(request)).status).toBe(200);
    expectError(await post(request), 400, 'invalid_request');
  });

  it('audience not allowed: 400 invalid_target; scope not allowed: 400 invalid_scope', async () => {
    const token = await githubToken();
    expectError(
      await post(
        form({
          grant_type: EXCHANGE,
          subject_token: token,
          subject_token_type: JWT,
          audience: 'https://other',
        }),
      ),
      400,
      'invalid_target',
    );
    expectError(
      await post(
        form({
          grant_type: EXCHANGE,
          subject_token: token,
          subject_token_type: JWT,
          audience: DEPLOY,
          resource: DEPLOY,
        }),
      ),
      400,
      'invalid_target',
    );
    expectError(
      await post(
        form({
          grant_type: EXCHANGE,
          subject_token: token,
          subject_token_type: JWT,
          audience: DEPLOY,
          scope: 'admin',
        }),
      ),
      400,
      'invalid_scope',
    );
  });

  it('the standard client surfaces the OAuth error code', async () => {
    const error = await exchange({
      subject_token: await githubToken(),
      subject_token_type: JWT,
      audience: 'https://other',
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(oauth.ResponseBodyError);
    expect((error as oauth.ResponseBodyError).error).toBe('invalid_target');
  });
});

describe('faults fail closed', () => {
  /** A second server whose signer or store fails as told; its MemoryStore shows what was recorded. */
  async function faultyServer(fault: {
    sign?: (input: Uint8Array, healthy: Signer) => Promise<Uint8Array>;
    recordIssued?: TokenStore['recordIssued'];
  }) {
    const dir = mkdtempSync(join(tmpdir(), 'sts-fault-'));
    const signer = await createLocalSigner(generateSigningKey('ES256'), 'ES256');
    const store = new MemoryStore();
    if (fault.recordIssued) store.recordIssued = fault.recordIssued;
    const server = await startLocalServer({
      settings: loadSettings({ PORT: '0', STS_DATA_DIR: dir, STS_LOG_LEVEL: 'silent' }),
      config: configFor,
      signer: fault.sign ? { ...signer, sign: (input) => fault.sign!(input, signer) } : signer,
      store,
    });
    return {
      server,
      recorded: () => [...store.tokens.keys()],
      cleanup: async () => {
        await server.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }

  const request = async (server: LocalServer) =>
    fetch(`${server.url}/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form({
        grant_type: EXCHANGE,
        subject_token: await githubToken({ aud: server.url }),
        subject_token_type: JWT,
        audience: DEPLOY,
      }),
    });

  it('KMS unavailable: 503 temporarily_unavailable with Retry-After and nothing recorded', async () => {
    const { server, recorded, cleanup } = await faultyServer({
      sign: async () => Promise.reject(temporarilyUnavailable('kms.sign.unavailable')),
    });
    try {
      const response = await request(server);
      expect(response.status).toBe(503);
      expect(response.headers.get('retry-after')).toBe('1');
      expect(response.headers.get('cache-control')).toBe('no-store');
      expect(await response.json()).toMatchObject({ error: 'temporarily_unavailable' });
      expect(recorded()).toEqual([]);
    } finally {
      await cleanup();
    }
  });

  it('a KMS fault does not spend a one-time subject token: the retry succeeds', async () => {
    let failures = 1;
    const { server, recorded, cleanup } = await faultyServer({
      sign: async (input, healthy) =>
        failures-- > 0 ? Promise.reject(temporarilyUnavailable('kms.sign.unavailable')) : healthy.sign(input),
    });
    try {
      const token = await onceIssuer.mint({ sub: 'runner-2', aud: server.url, jti: 'once-retry' });
      const body = form({
        grant_type: EXCHANGE,
        subject_token: token,
        subject_token_type: JWT,
        audience: DEPLOY,
      });
      const send = () =>
        fetch(`${server.url}/token`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body,
        });
      expect((await send()).status).toBe(503);
      expect((await send()).status).toBe(200);
      expect((await send()).status).toBe(400); // now spent
      expect(recorded()).toHaveLength(1);
    } finally {
      await cleanup();
    }
  });

  it('DynamoDB write failing: 503 and no token in the response', async () => {
    const { server, cleanup } = await faultyServer({
      recordIssued: async () => Promise.reject(temporarilyUnavailable('dynamodb.put_token.unavailable')),
    });
    try {
      const response = await request(server);
      expect(response.status).toBe(503);
      const body = await response.text();
      expect(body).not.toContain('eyJ');
      expect(JSON.parse(body)).toMatchObject({ error: 'temporarily_unavailable' });
    } finally {
      await cleanup();
    }
  });

  it('anything unexpected: 500 server_error with no detail', async () => {
    const { server, recorded, cleanup } = await faultyServer({
      sign: async () => Promise.reject(new Error('secret internal detail')),
    });
    try {
      const response = await request(server);
      expect(response.status).toBe(500);
      expect(await response.json()).toEqual({ error: 'server_error' });
      expect(recorded()).toEqual([]);
    } finally {
      await cleanup();
    }
  });

  it('a store failure that is not transient is a bare server_error too', async () => {
    const { server, cleanup } = await faultyServer({
      recordIssued: async () => Promise.reject(serverError('dynamodb.put_token.failed')),
    });
    try {
      const response = await request(server);
      expect(response.status).toBe(500);
      expect(await response.json()).toEqual({ error: 'server_error' });
    } finally {
      await cleanup();
    }
  });
});
