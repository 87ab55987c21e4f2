import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import middy from '@middy/core';
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Event } from '../../lambdas/http.ts';
import { awsIdentity, signCallerIdentity } from '../../lib/client/aws-identity.ts';
import { StsClient } from '../../lib/client/client.ts';
import { type ExchangedTokenContext, tokenExchangeMiddleware } from '../../lib/client/middleware.ts';
import { parseConfig } from '../../lib/config/config.ts';
import { AWS_TAGS_CLAIM } from '../../lib/shared/claims.ts';
import { MemoryStore } from '../../lib/stores/memory.ts';
import { apiEvent, lambdaContext } from '../support/api-event.ts';
import { startTestIssuer, type TestIssuer } from '../support/oidc-issuer.ts';
import { type StsEndpoint, startStsEndpoint, TEST_IDENTITIES } from '../support/sts-endpoint.ts';
import { expectOAuthError, type Harness, startHarness } from '../support/sts-harness.ts';

/**
 * IAM callers end to end: the local server (same handlers as Lambda) with AWS_ENDPOINT_URL_STS
 * pointing at the loopback STS stand-in (which verifies SigV4 with the AWS SDK's signer), the
 * client SDK signing real requests with the SDK's signer, the Lambda delegation middleware with
 * the function's role as actor, a replay refused over HTTP, and the CLI's --aws-identity.
 */
const AWS_TOKEN = 'urn:ietf:params:aws:token-type:aws4_request';
const ORDERS = 'https://orders.acme.internal';
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ROLE = 'arn:aws:iam::111122223333:role/orders-fn-role';

let sts: StsEndpoint;
let idp: TestIssuer;
let harness: Harness;
let store: MemoryStore;

beforeAll(async () => {
  [sts, idp] = await Promise.all([startStsEndpoint(), startTestIssuer()]);
  store = new MemoryStore();
  harness = await startHarness({
    store,
    env: { AWS_ENDPOINT_URL_STS: sts.endpoint },
    config: (base) =>
      parseConfig({
        issuer: base,
        trustedIssuers: [
          { name: 'aws', type: 'aws', accounts: ['111122223333'] },
          { name: 'idp', issuer: idp.issuer, audiences: [base], algorithms: ['RS256'] },
        ],
        policies: [
          {
            name: 'lambda-orders',
            issuer: 'aws',
            subject: 'arn:aws:iam::111122223333:role/orders-fn-role',
            claims: { aws_session_name: 'orders-*' },
            audiences: [ORDERS],
            scopes: ['orders:read'],
            copyClaims: ['aws_account', 'aws_session_name'],
            sessionTags: {
              principalTags: { account: { claim: 'aws_account' }, caller: 'lambda' },
              transitiveTagKeys: ['account'],
            },
          },
          {
            name: 'users-via-orders-fn',
            issuer: 'idp',
            subject: 'user:*',
            audiences: [ORDERS],
            scopes: ['orders:read'],
            actors: [{ issuer: 'aws', subject: ROLE, claims: { aws_account: '111122223333' } }],
          },
        ],
      }),
  });
});
afterAll(async () => {
  await Promise.all([harness?.close(), sts?.close(), idp?.close()]);
});

const lambdaIdentity = () =>
  awsIdentity({ credentials: TEST_IDENTITIES.lambda.credentials, endpoint: sts.endpoint, env: {} });

describe('an IAM role as subject, through the SDK', () => {
  it('exchanges the role identity for a token with its session name, account and session tags', async () => {
    const client = new StsClient({ endpoint: harness.sts.url, cache: false });
    const verified = sts.calls.verified;
    const result = await client.exchange({
      subjectToken: lambdaIdentity(),
      audience: ORDERS,
      scope: 'orders:read',
    });
    expect(sts.calls.verified).toBe(verified + 1);
    const claims = decodeJwt(result.accessToken);
    expect(claims).toMatchObject({
      sub: ROLE,
      aud: ORDERS,
      scope: 'orders:read',
      aws_account: '111122223333',
      aws_session_name: 'orders-fn',
    });
    // AWS's documented shape (IAM User Guide, session tags with AssumeRoleWithWebIdentity).
    expect(claims[AWS_TAGS_CLAIM]).toEqual({
      principal_tags: { account: ['111122223333'], caller: ['lambda'] },
      transitive_tag_keys: ['account'],
    });
    expect(store.tokens.get(claims.jti!)).toMatchObject({
      sub: ROLE,
      subjectIssuer: 'aws',
      policy: 'lambda-orders',
    });
  });

  it('caches per source: a second call in the same container neither signs nor exchanges again', async () => {
    const client = new StsClient({ endpoint: harness.sts.url });
    const source = lambdaIdentity();
    const first = await client.exchange({ subjectToken: source, audience: ORDERS });
    const received = sts.calls.received;
    const second = await client.exchange({ subjectToken: source, audience: ORDERS });
    expect(second).toMatchObject({ accessToken: first.accessToken, fromCache: true });
    expect(sts.calls.received).toBe(received);
  });

  it('refuses another role of the account (no policy) and another account (not trusted)', async () => {
    const client = new StsClient({ endpoint: harness.sts.url, cache: false, retry: false });
    const deployer = awsIdentity({
      credentials: TEST_IDENTITIES.deployer.credentials,
      endpoint: sts.endpoint,
      env: {},
    });
    await expect(client.exchange({ subjectToken: deployer, audience: ORDERS })).rejects.toMatchObject({
      code: 'invalid_request',
      status: 400,
    });
    const stranger = awsIdentity({
      credentials: TEST_IDENTITIES.stranger.credentials,
      endpoint: sts.endpoint,
      env: {},
    });
    await expect(client.exchange({ subjectToken: stranger, audience: ORDERS })).rejects.toMatchObject({
      code: 'invalid_request',
    });
  });
});

describe('a signed request over raw HTTP', () => {
  const sign = () =>
    signCallerIdentity({
      audience: harness.sts.url,
      endpoint: sts.endpoint,
      credentials: TEST_IDENTITIES.lambda.credentials,
      env: {},
    });
  const exchange = (token: string) =>
    harness.exchange({ subject_token: token, subject_token_type: AWS_TOKEN, audience: ORDERS });

  it('two requests signed in the same second are two requests (the client signs a nonce)', async () => {
    const [a, b] = await Promise.all([sign(), sign()]);
    expect(a).not.toBe(b);
    const answers = await Promise.all([exchange(a), exchange(b)]);
    expect(answers.map((answer) => answer.status)).toEqual([200, 200]);
  });

  it('is accepted once; its replay is refused with a generic 400 and the SEEN# record kept', async () => {
    const token = await sign();
    const first = await exchange(token);
    expect(first.status).toBe(200);
    expectOAuthError(await exchange(token), 400, 'invalid_request');
    expect([...store.seen.keys()].some((key) => key.startsWith('aws4_request#'))).toBe(true);
  });

  it('answers 503 with Retry-After while STS throttles, and the same request works once STS is back', async () => {
    const token = await sign();
    sts.behave({ kind: 'throttle' });
    try {
      const answer = await exchange(token);
      expectOAuthError(answer, 503, 'temporarily_unavailable');
      expect(Number(answer.headers.get('retry-after'))).toBeGreaterThan(0);
    } finally {
      sts.behave({ kind: 'sts' });
    }
    expect((await exchange(token)).status).toBe(200);
  });

  it('refuses a request signed for another audience without calling STS', async () => {
    const received = sts.calls.received;
    const other = await signCallerIdentity({
      audience: 'https://another-sts.example',
      endpoint: sts.endpoint,
      credentials: TEST_IDENTITIES.lambda.credentials,
      env: {},
    });
    expectOAuthError(await exchange(other), 400, 'invalid_request');
    expect(sts.calls.received).toBe(received);
  });
});

describe('a Lambda role as actor: delegation end to end through the SDK middleware', () => {
  it("exchanges the caller's token with the function's role acting, and records the actor", async () => {
    const client = new StsClient({ endpoint: harness.sts.url });
    const handler = middy<Event, APIGatewayProxyStructuredResultV2, Error, ExchangedTokenContext>()
      .use(
        tokenExchangeMiddleware({
          client,
          audience: ORDERS,
          scope: 'orders:read',
          actorToken: lambdaIdentity(),
        }),
      )
      .handler(async (_event, context) => ({ statusCode: 200, body: context.exchangedToken.accessToken }));
    const caller = await idp.mint({ sub: 'user:alice', aud: harness.sts.url });
    const result = (await handler(apiEvent({ headers: { authorization: `Bearer ${caller}` } }), {
      ...lambdaContext,
    } as ExchangedTokenContext)) as APIGatewayProxyStructuredResultV2;
    expect(result.statusCode).toBe(200);
    const claims = decodeJwt(String(result.body));
    expect(claims).toMatchObject({
      sub: 'user:alice',
      aud: ORDERS,
      act: { sub: ROLE, iss: 'https://sts.amazonaws.com' },
    });
  });

  it('refuses a role the policy does not list as actor (401 to the caller of the function)', async () => {
    const client = new StsClient({ endpoint: harness.sts.url, retry: false });
    const deployer = awsIdentity({
      credentials: TEST_IDENTITIES.deployer.credentials,
      endpoint: sts.endpoint,
      env: {},
    });
    const handler = middy()
      .use(tokenExchangeMiddleware({ client, audience: ORDERS, actorToken: deployer }))
      .handler(async () => ({ statusCode: 200 }));
    const caller = await idp.mint({ sub: 'user:bob', aud: harness.sts.url });
    const result = (await handler(
      apiEvent({ headers: { authorization: `Bearer ${caller}` } }) as never,
      { ...lambdaContext } as never,
    )) as APIGatewayProxyStructuredResultV2;
    expect(result.statusCode).toBe(401);
  });
});

describe('sts exchange --aws-identity', () => {
  it('signs with the default credential chain (here: the environment) and prints the token', async () => {
    const { lambda } = TEST_IDENTITIES;
    const env = Object.fromEntries(
      Object.entries(process.env).filter(([name]) => !name.startsWith('STS_') && !name.startsWith('AWS_')),
    );
    const child = spawn(
      process.execPath,
      [
        'bin/sts.js',
        'exchange',
        '--aws-identity',
        'subject',
        '--audience',
        ORDERS,
        '--endpoint',
        harness.sts.url,
      ],
      {
        cwd: ROOT,
        env: {
          ...env,
          AWS_ACCESS_KEY_ID: lambda.credentials.accessKeyId,
          AWS_SECRET_ACCESS_KEY: lambda.credentials.secretAccessKey,
          AWS_SESSION_TOKEN: lambda.credentials.sessionToken,
          AWS_REGION: 'eu-west-1',
          AWS_ENDPOINT_URL_STS: sts.endpoint,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    const code = await new Promise((resolve) => child.once('close', resolve));
    expect({ code, stderr: stderr.replace(/.*node >=22[\s\S]*$/m, '') }).toMatchObject({ code: 0 });
    expect(decodeJwt(stdout.trim())).toMatchObject({ sub: ROLE, aud: ORDERS });
  }, 60_000);
});
