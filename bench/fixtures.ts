import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { calculateJwkThumbprint, type JWK } from 'jose';
import { type Config, parseConfig } from '../lib/config/config.ts';
import { TOKEN_TYPE } from '../lib/shared/claims.ts';

/**
 * What every benchmark shares: the names of the parties, the policy, the keys of the subject
 * issuer (RS256, like GitHub Actions) and of the peer's client, and pools of pre-minted,
 * distinct RS256 tokens: subject tokens for our exchange, client assertions for the peer.
 * Nothing here touches the network: the issuer's JWKS is served by an injected `fetch`.
 */
export const STS_ISSUER = 'https://sts.bench.local';
export const SUBJECT_ISSUER = 'https://issuer.bench.local';
export const SUBJECT_JWKS_URI = `${SUBJECT_ISSUER}/jwks`;
export const AUDIENCE = 'https://api.bench.local';
export const PEER_ISSUER = 'https://op.bench.local';
export const PEER_CLIENT_ID = 'bench-client';
export const SUBJECT = 'repo:acme/app:ref:refs/heads/main';

/** A `fetch` serving the STS's discovery document and a JWKS of `jwk`, for the verifier benchmarks. */
export function stsDocuments(jwk: JWK): typeof fetch {
  const documents: Record<string, unknown> = {
    [`${STS_ISSUER}/.well-known/openid-configuration`]: {
      issuer: STS_ISSUER,
      jwks_uri: `${STS_ISSUER}/jwks`,
    },
    [`${STS_ISSUER}/jwks`]: { keys: [jwk] },
  };
  return (async (input: string | URL | Request) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    const document = documents[url];
    return document ? Response.json(document) : new Response('not found', { status: 404 });
  }) as typeof fetch;
}

const EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/**
 * The policy file of every run of our service: a GitHub-like issuer whose tokens are one-time
 * (so each exchange writes `SEEN#` and `TOKEN#`, as the peer checks each assertion's `jti`),
 * and one policy with a subject glob, a claim condition and copied claims.
 */
export const BENCH_CONFIG_FILE = {
  issuer: STS_ISSUER,
  trustedIssuers: [
    {
      name: 'ci',
      issuer: SUBJECT_ISSUER,
      jwksUri: SUBJECT_JWKS_URI,
      algorithms: ['RS256' as const],
      oneTimeUse: true,
    },
  ],
  policies: [
    {
      name: 'deploy',
      issuer: 'ci',
      subject: 'repo:acme/*:ref:refs/heads/main',
      claims: { repository_owner: 'acme' },
      audiences: [AUDIENCE],
      scopes: ['read', 'write'],
      copyClaims: ['repository', 'run_id'],
    },
  ],
};

export const benchConfig = (): Config => parseConfig(BENCH_CONFIG_FILE, 'bench config');

/** A fetch that serves the subject issuer's JWKS from memory and answers 404 to anything else. */
export function jwksFetch(keys: readonly JWK[]): typeof fetch {
  const body = JSON.stringify({ keys });
  return (async (input: string | URL | Request) => {
    const url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    if (url !== SUBJECT_JWKS_URI) return new Response('not found', { status: 404 });
    return new Response(body, { headers: { 'content-type': 'application/json' } });
  }) as typeof fetch;
}

export interface RsaKey {
  readonly privateKey: KeyObject;
  /** Public JWK with `kid` (RFC 7638 thumbprint), `alg: RS256`, `use: sig`. */
  readonly jwk: JWK;
}

export async function generateRsaKey(): Promise<RsaKey> {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = publicKey.export({ format: 'jwk' }) as JWK;
  return { privateKey, jwk: { ...jwk, kid: await calculateJwkThumbprint(jwk), alg: 'RS256', use: 'sig' } };
}

export const exchangeBody = (subjectToken: string): string =>
  `grant_type=${encodeURIComponent(EXCHANGE_GRANT)}&subject_token=${subjectToken}` +
  `&subject_token_type=${encodeURIComponent(TOKEN_TYPE.jwt)}&audience=${encodeURIComponent(AUDIENCE)}&scope=read`;

export const clientCredentialsBody = (assertion: string): string =>
  `grant_type=client_credentials&client_assertion_type=${encodeURIComponent(JWT_BEARER)}` +
  `&client_assertion=${assertion}&resource=${encodeURIComponent(AUDIENCE)}&scope=read`;

/** Claims of a GitHub Actions OIDC token (about 1 KB once signed); `jti`, `iat`, `exp` are added per token. */
const subjectClaims = (): Record<string, unknown> => ({
  iss: SUBJECT_ISSUER,
  aud: STS_ISSUER,
  sub: SUBJECT,
  ref: 'refs/heads/main',
  sha: 'd6fde92930d4715a2b49857d24b940956b26d2d3',
  repository: 'acme/app',
  repository_owner: 'acme',
  repository_owner_id: '65',
  repository_id: '4242',
  repository_visibility: 'private',
  run_id: '8123456789',
  run_number: '7',
  run_attempt: '1',
  actor: 'octocat',
  actor_id: '583231',
  workflow: 'deploy',
  workflow_ref: 'acme/app/.github/workflows/deploy.yml@refs/heads/main',
  event_name: 'push',
  ref_type: 'branch',
  runner_environment: 'github-hosted',
});

/**
 * Mints RS256 JWTs in worker threads: one RSA private-key operation per token is the slow part
 * of every benchmark's set-up, so it is spread over the cores, and done between measurements.
 */
const MINT_WORKER = `
const { createPrivateKey, randomBytes, sign } = require('node:crypto');
const { parentPort, workerData } = require('node:worker_threads');
const { pem, header, claims, count, lifetime } = workerData;
const key = createPrivateKey(pem);
const b64 = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
const head = b64(header);
const out = [];
for (let i = 0; i < count; i++) {
  const iat = Math.floor(Date.now() / 1000);
  const input = head + '.' + b64({ ...claims, jti: randomBytes(16).toString('base64url'), iat, nbf: iat, exp: iat + lifetime });
  out.push(input + '.' + sign('sha256', Buffer.from(input), key).toString('base64url'));
}
parentPort.postMessage(out.join('\\n'));
`;

async function mintInWorkers(
  key: RsaKey,
  header: Record<string, unknown>,
  claims: Record<string, unknown>,
  count: number,
): Promise<string[]> {
  const pem = key.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  const workers = Math.max(1, Math.min(availableParallelism(), 8, Math.ceil(count / 200)));
  const shares = Array.from(
    { length: workers },
    (_, i) => Math.floor(count / workers) + (i < count % workers ? 1 : 0),
  );
  const parts = await Promise.all(
    shares.map(
      (share) =>
        new Promise<string[]>((resolve, reject) => {
          // 30 minutes: longer than any whole benchmark run, so no token expires mid-run.
          const workerData = { pem, header, claims, count: share, lifetime: 1800 };
          const worker = new Worker(MINT_WORKER, { eval: true, workerData });
          worker.once('message', (joined: string) => resolve(joined === '' ? [] : joined.split('\n')));
          worker.once('error', reject);
          worker.once('exit', (code) => {
            if (code !== 0) reject(new Error(`mint worker exited with ${code}`));
          });
        }),
    ),
  );
  return parts.flat();
}

/**
 * A growing pool of distinct, pre-minted tokens. Each run of a server under test starts from a
 * fresh process with an empty store and takes tokens from the start of the pool, so a token is
 * never presented twice to one server; `ensure` mints more between runs when a run needs them.
 */
export class TokenPool {
  readonly tokens: string[] = [];
  mintSeconds = 0;

  constructor(
    readonly name: string,
    private readonly key: RsaKey,
    private readonly header: Record<string, unknown>,
    private readonly claims: Record<string, unknown>,
    /** The most tokens the pool will ever hold (bounds memory and set-up time). */
    readonly limit: number,
  ) {}

  async ensure(count: number): Promise<void> {
    const wanted = Math.min(count, this.limit) - this.tokens.length;
    if (wanted <= 0) return;
    const started = performance.now();
    this.tokens.push(...(await mintInWorkers(this.key, this.header, this.claims, wanted)));
    this.mintSeconds += (performance.now() - started) / 1000;
  }
}

export interface BenchParties {
  readonly subjectIssuerKey: RsaKey;
  readonly clientKey: RsaKey;
  /** Subject tokens of the GitHub-like issuer, for our token exchange. */
  readonly subjectTokens: TokenPool;
  /** RS256 client assertions (private_key_jwt), each with a fresh `jti`, for the peer. */
  readonly clientAssertions: TokenPool;
}

export async function createParties(limit: number): Promise<BenchParties> {
  const [subjectIssuerKey, clientKey] = await Promise.all([generateRsaKey(), generateRsaKey()]);
  return {
    subjectIssuerKey,
    clientKey,
    subjectTokens: new TokenPool(
      'subject tokens',
      subjectIssuerKey,
      { alg: 'RS256', kid: subjectIssuerKey.jwk.kid, typ: 'JWT' },
      subjectClaims(),
      limit,
    ),
    clientAssertions: new TokenPool(
      'client assertions',
      clientKey,
      { alg: 'RS256', kid: clientKey.jwk.kid },
      { iss: PEER_CLIENT_ID, sub: PEER_CLIENT_ID, aud: PEER_ISSUER },
      limit,
    ),
  };
}
