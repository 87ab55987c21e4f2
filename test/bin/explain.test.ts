// `sts explain` (bin/explain.ts) against the exchange it explains: the same request goes through
// the real exchange (lib/exchange/token-exchange.ts) and through explain, and they agree on
// admission, policy, lifetime (capped at the life a chained token's subject has left) and refusal
// reason. The chain of a token of ours (origin, rootPolicy) comes from its TOKEN# record (the
// memory store here, dynalite through `sts explain --table`), or is stated unknown offline.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIo } from '../../bin/cli-io.ts';
import { type ExplainReport, explainExchange } from '../../bin/explain.ts';
import { decodePresented } from '../../bin/explain-presented.ts';
import { formatReport } from '../../bin/explain-text.ts';
import { run } from '../../bin/sts.ts';
import type { Config } from '../../lib/config/config.ts';
import type { Form } from '../../lib/exchange/form.ts';
import { createTokenExchange, type TokenExchange } from '../../lib/exchange/token-exchange.ts';
import { TOKEN_EXCHANGE_GRANT, TOKEN_TYPE } from '../../lib/shared/claims.ts';
import { OAuthError } from '../../lib/shared/errors.ts';
import { createLogger } from '../../lib/shared/log.ts';
import type { Signer } from '../../lib/signers/signer.ts';
import { DynamoStore } from '../../lib/stores/dynamodb.ts';
import { ensureTable } from '../../lib/stores/dynamodb-table.ts';
import { MemoryStore } from '../../lib/stores/memory.ts';
import {
  type EmbeddedDynamo,
  localDynamoClient,
  startEmbeddedDynamo,
} from '../../local/embedded-dynamodb.ts';
import { type FrozenClock, frozenClock } from '../support/clock.ts';
import { API_AUDIENCE, buildConfig, configFile, STS_ISSUER, trustedIssuerEntry } from '../support/config.ts';
import { createFakeIssuer, type FakeIssuer } from '../support/issuer.ts';
import { testSigner } from '../support/keys.ts';
import { issueSelfToken } from '../support/self-token.ts';

const OKTA = 'https://acme.okta.test';
const REPORTS = 'https://reports.test';
const DELEGATED = 'https://delegated.test';
const SUBJECT = 'repo:acme/app:ref:refs/heads/main';

/** GitHub tokens chain through the STS; self policies require an origin, but for REPORTS. */
function policyFile(github: string) {
  return configFile({
    trustedIssuers: [
      trustedIssuerEntry('github', github, { algorithms: ['ES256'] }),
      trustedIssuerEntry('okta', OKTA),
    ],
    policies: [
      {
        name: 'app',
        issuer: 'github',
        subject: 'repo:acme/app:**',
        audiences: [STS_ISSUER],
        scopes: ['read', 'write'],
      },
      { name: 'from-okta', issuer: 'self', origin: 'okta', subject: '**', audiences: [API_AUDIENCE] },
      {
        name: 'from-github',
        issuer: 'self',
        origin: 'github',
        subject: 'repo:acme/**',
        audiences: [API_AUDIENCE],
        scopes: ['read'],
      },
      { name: 'reports', issuer: 'self', subject: '**', audiences: [REPORTS], maxLifetime: '2m' },
      {
        name: 'delegated',
        issuer: 'self',
        subject: '**',
        audiences: [DELEGATED],
        actors: [{ issuer: 'self', subject: 'svc:*' }],
      },
    ],
  });
}

interface Setup {
  readonly clock: FrozenClock;
  readonly github: FakeIssuer;
  readonly config: Config;
  readonly signer: Signer;
  readonly store: MemoryStore;
  readonly engine: TokenExchange;
  readonly issued: Record<string, unknown>[];
}

async function setup(): Promise<Setup> {
  const clock = frozenClock();
  const github = await createFakeIssuer({ clock, alg: 'ES256', audience: STS_ISSUER });
  const config = buildConfig(policyFile(github.issuer));
  const signer = await testSigner();
  const store = new MemoryStore();
  const issued: Record<string, unknown>[] = [];
  const logger = createLogger('info', (line) => issued.push(JSON.parse(line) as Record<string, unknown>));
  const engine = createTokenExchange({ config, signer, store, clock, logger, fetch: github.fetch.fetch });
  return { clock, github, config, signer, store, engine, issued };
}

const form = (params: Record<string, string>): Form =>
  new Map(Object.entries(params).map(([key, value]) => [key, [value]]));

/** A token of ours whose chain started at GitHub: the `app` policy's answer to a GitHub token. */
async function chainedFromGithub({ github, engine }: Setup): Promise<string> {
  const response = await engine.exchange(
    form({
      grant_type: TOKEN_EXCHANGE_GRANT,
      subject_token: await github.token(),
      subject_token_type: TOKEN_TYPE.jwt,
      audience: STS_ISSUER,
      scope: 'read write',
    }),
  );
  return response.access_token;
}

interface Ask {
  readonly token: string;
  readonly actorToken?: string;
  readonly audience: string;
  readonly scope?: string;
}

/** What the exchange answers: its policy, lifetime and scope, or its error and reason. */
async function exchanged(s: Setup, ask: Ask) {
  s.issued.length = 0;
  try {
    const response = await s.engine.exchange(
      form({
        grant_type: TOKEN_EXCHANGE_GRANT,
        subject_token: ask.token,
        subject_token_type: TOKEN_TYPE.accessToken,
        audience: ask.audience,
        ...(ask.scope ? { scope: ask.scope } : {}),
        ...(ask.actorToken ? { actor_token: ask.actorToken, actor_token_type: TOKEN_TYPE.accessToken } : {}),
      }),
    );
    const line = s.issued.find((entry) => entry.message === 'token.issued');
    return {
      admitted: true,
      policy: line?.policy,
      lifetime: response.expires_in,
      scope: response.scope ?? '',
      act: decodeJwt(response.access_token).act,
    };
  } catch (error) {
    if (!(error instanceof OAuthError)) throw error;
    return { admitted: false, error: error.code, reason: error.reason };
  }
}

const explained = (s: Setup, ask: Ask, { offline = false } = {}) =>
  explainExchange({
    config: s.config,
    subject: decodePresented(ask.token, '--token'),
    actor: ask.actorToken ? decodePresented(ask.actorToken, '--actor-token') : undefined,
    audience: ask.audience,
    scopes: ask.scope ? ask.scope.split(' ') : [],
    now: s.clock.seconds(),
    records: offline ? undefined : s.store,
  });

/** Explain's answer in the exchange's terms. */
const asExchange = (report: ExplainReport) =>
  report.admitted
    ? {
        admitted: true,
        policy: report.admittedBy,
        lifetime: report.grant?.lifetime,
        scope: report.grant?.scope,
        act: report.grant?.act,
      }
    : { admitted: false, error: report.refusal?.error, reason: report.refusal?.reason };

describe('sts explain runs the exchange decision', () => {
  it('caps the lifetime at the life the subject token has left (60s, where the policy says 300s)', async () => {
    const s = await setup();
    const token = await chainedFromGithub(s);
    s.clock.advance(240);
    const ask = { token, audience: API_AUDIENCE, scope: 'read' };
    const report = await explained(s, ask);
    expect(report.grant).toEqual({ lifetime: 60, lifetimeExact: true, scope: 'read', act: undefined });
    expect(formatReport(report)).toContain('ADMITTED by policy "from-github" (lifetime 60s, scope "read")');
    expect(await exchanged(s, ask)).toEqual({
      admitted: true,
      policy: 'from-github',
      lifetime: 60,
      scope: 'read',
    });
  });

  it('reads the origin from the TOKEN# record: a self policy with an origin admits or refuses as the exchange does', async () => {
    const s = await setup();
    const fromGithub = await chainedFromGithub(s);
    const report = await explained(s, { token: fromGithub, audience: API_AUDIENCE });
    expect(report.subject.chain).toMatchObject({ record: 'active', origin: 'github', rootPolicy: 'app' });
    expect(report.admittedBy).toBe('from-github');
    expect(report.verdicts[1]).toMatchObject({
      policy: 'from-okta',
      admits: false,
      reasons: ['subject chain started at "github", policy wants origin "okta"'],
    });
    const text = formatReport(report);
    expect(text).toContain('subject chain: origin "github", rootPolicy "app" (TOKEN# record active until ');
    expect(text).not.toContain('undefined');

    // A chain that started at an issuer no origin policy names (the record says "test").
    const elsewhere = await issueSelfToken(s, { sub: SUBJECT });
    const refused = await explained(s, { token: elsewhere.token, audience: API_AUDIENCE });
    expect(refused.admitted).toBe(false);
    // Only `reports` knows this subject, for another target: the service answers invalid_target.
    expect(refused.refusal).toMatchObject({ error: 'invalid_target', reason: 'policy.audience' });
    expect(refused.verdicts[2]?.reasons).toContain(
      'subject chain started at "test", policy wants origin "github"',
    );
    expect(await exchanged(s, { token: elsewhere.token, audience: API_AUDIENCE })).toEqual(
      asExchange(refused),
    );
  });

  it('offline, says the origin is unknown and claims no admission that depends on it', async () => {
    const s = await setup();
    const token = await chainedFromGithub(s);
    const report = await explained(s, { token, audience: API_AUDIENCE }, { offline: true });
    expect(report).toMatchObject({
      admitted: false,
      admittedBy: undefined,
      grant: undefined,
      undecided: ['from-okta', 'from-github'],
      subject: { chain: { record: 'not_read', origin: undefined, rootPolicy: undefined } },
    });
    expect(report.verdicts[1]?.refusals).toEqual(['chain_unknown']);
    const text = formatReport(report);
    expect(text).toContain('subject chain: unknown (origin and rootPolicy are in its TOKEN# record');
    expect(text).toContain(
      'subject chain origin is unknown: its TOKEN# record was not read; policy wants origin "okta"',
    );
    expect(text).toContain('UNDECIDED: policies "from-okta", "from-github" depend on the chain');
    expect(text).toContain('  policy from-github: undecided');
    expect(text).not.toContain('ADMITTED');
    expect(text).not.toContain('undefined');
  });

  it('offline, a policy without chain conditions admits, with its lifetime as an upper bound', async () => {
    const s = await setup();
    const token = await chainedFromGithub(s);
    s.clock.advance(240);
    const report = await explained(s, { token, audience: REPORTS }, { offline: true });
    expect(report).toMatchObject({
      admitted: true,
      admittedBy: 'reports',
      grant: { lifetime: 120, lifetimeExact: false },
    });
    expect(formatReport(report)).toContain('ADMITTED by policy "reports" (lifetime at most 120s)');
    // With the record read, the exact figure, the exchange's.
    const online = await explained(s, { token, audience: REPORTS });
    expect(online.grant).toMatchObject({ lifetime: 60, lifetimeExact: true });
    expect(await exchanged(s, { token, audience: REPORTS })).toEqual(asExchange(online));
  });

  // Each case: what the exchange answers (the comparison is the test; this keeps both sides covered).
  it.each<[string, string, (s: Setup, token: string) => Promise<Ask>]>([
    [
      'a fresh chain',
      'from-github 300s',
      async (_s, token) => ({ token, audience: API_AUDIENCE, scope: 'read' }),
    ],
    [
      'a chain with 10s left',
      'reports 10s',
      async (s, token) => {
        s.clock.advance(290);
        return { token, audience: REPORTS };
      },
    ],
    [
      'a revoked subject token',
      'subject_token.revoked',
      async (s, token) => {
        await s.store.revokeToken(decodePresented(token, 't').claims.jti as string, s.clock.seconds());
        return { token, audience: API_AUDIENCE };
      },
    ],
    [
      'a subject revoked at its origin',
      'subject_token.revoked',
      async (s, token) => {
        await s.store.revokeSubject(s.github.issuer, SUBJECT, s.clock.seconds() + 1);
        return { token, audience: API_AUDIENCE };
      },
    ],
    [
      "a trusted issuer's token whose subject was revoked",
      'subject_token.revoked',
      async (s) => {
        await s.store.revokeSubject(s.github.issuer, SUBJECT, s.clock.seconds() + 1);
        return { token: await s.github.token(), audience: STS_ISSUER };
      },
    ],
    [
      'a delegation by a token of ours, whose record names its origin and bounds the lifetime',
      'delegated 100s svc:deployer@https://issuer.test',
      async (s, token) => {
        const actor = await issueSelfToken(s, { sub: 'svc:deployer', lifetime: 100 });
        return { token, actorToken: actor.token, audience: DELEGATED };
      },
    ],
    [
      'a scope the policy does not grant',
      'policy.scope',
      async (_s, token) => ({ token, audience: API_AUDIENCE, scope: 'write' }),
    ],
    [
      'a target no policy serves',
      'policy.audience',
      async (_s, token) => ({ token, audience: 'https://elsewhere.test' }),
    ],
    [
      'an unrecorded token of ours',
      'subject_token.self_unknown_jti',
      async (s) => ({ token: (await issueSelfToken(s, { record: false })).token, audience: REPORTS }),
    ],
  ])('agrees with the exchange: %s (%s)', async (_name, answer, prepare) => {
    const s = await setup();
    const ask = await prepare(s, await chainedFromGithub(s));
    const report = await explained(s, ask);
    const exchange = await exchanged(s, ask);
    expect(asExchange(report)).toEqual(exchange);
    const act = exchange.act as { sub: string; iss: string } | undefined;
    expect(
      exchange.admitted
        ? `${exchange.policy} ${exchange.lifetime}s${act ? ` ${act.sub}@${act.iss}` : ''}`
        : exchange.reason,
    ).toBe(answer);
  });
});

describe('sts explain --table (dynalite)', () => {
  let dynamo: EmbeddedDynamo;
  let dir: string;
  let configPath: string;
  let env: Record<string, string>;
  let token: string;
  const tableName = 'sts-explain-test';

  beforeAll(async () => {
    dynamo = await startEmbeddedDynamo(undefined);
    const client = localDynamoClient(dynamo.endpoint);
    await ensureTable(client, tableName);
    const store = new DynamoStore({ client, tableName });
    dir = mkdtempSync(join(tmpdir(), 'sts-explain-'));
    configPath = join(dir, 'sts.config.json');
    const github = 'https://token.actions.githubusercontent.com';
    writeFileSync(configPath, JSON.stringify(policyFile(github)));
    const config = buildConfig(policyFile(github));
    // Recorded as the exchange records a token chained from GitHub by the `app` policy, 60s left.
    const clock = Date.now;
    const minted = await issueSelfToken(
      { config, signer: await testSigner(), store: new MemoryStore(), clock },
      { sub: SUBJECT, lifetime: 60 },
    );
    const now = Math.floor(clock() / 1000);
    await store.recordIssued({
      jti: minted.claims.jti as string,
      sub: SUBJECT,
      aud: STS_ISSUER,
      clientId: 'test',
      scope: undefined,
      iat: now,
      exp: now + 60,
      subjectIssuer: 'github',
      originIssuer: github,
      policy: 'app',
      ancestors: [],
      actors: [],
    });
    client.destroy();
    token = minted.token;
    env = { AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint };
  });
  afterAll(async () => {
    await dynamo.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function sts(args: string[], runEnv: Record<string, string> = env) {
    let stdout = '';
    let stderr = '';
    const io = createIo(runEnv, args, {
      stdout: (text) => {
        stdout += text;
      },
      stderr: (text) => {
        stderr += text;
      },
      stdin: async () => '',
    });
    return { code: await run(args, io), stdout, stderr };
  }

  const args = () => ['explain', '--config', configPath, '--token', token, '--audience', API_AUDIENCE];

  it('reads origin and remaining life from TOKEN#: admitted by the origin policy for at most 60s', async () => {
    const result = await sts([...args(), '--table', tableName, '--json']);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    const report = JSON.parse(result.stdout) as ExplainReport;
    expect(report.admittedBy).toBe('from-github');
    expect(report.subject.chain).toMatchObject({ record: 'active', origin: 'github', rootPolicy: 'app' });
    expect(report.grant?.lifetimeExact).toBe(true);
    // 60s at most: a second may pass between recording and explaining.
    expect(report.grant?.lifetime).toBeGreaterThanOrEqual(58);
    expect(report.grant?.lifetime).toBeLessThanOrEqual(60);
  });

  it('without --table: origin unknown, exit 3, no "undefined"', async () => {
    const result = await sts(args());
    expect(result.code).toBe(3);
    expect(result.stdout).toContain('UNDECIDED');
    expect(result.stdout).toContain('warning: subject is a token of this service');
    expect(result.stdout).not.toContain('undefined');
  });

  it('explain --help names --table', async () => {
    const help = await sts(['explain', '--help']);
    expect(help).toMatchObject({ code: 0, stderr: '' });
    expect(help.stdout).toContain('--table <name>');
  });

  it('a table that cannot be read: exit 4, no offline answer', async () => {
    const result = await sts([...args(), '--table', 'no-such-table']);
    expect(result.code).toBe(4);
    expect(result.stdout).toBe('');
    expect(result.stderr).toContain('sts: cannot read the table "no-such-table": ResourceNotFoundException');
    expect(result.stderr).not.toContain(token);
  });
});
