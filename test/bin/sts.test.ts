import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeJwt, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createIo } from '../../bin/cli-io.ts';
import { run } from '../../bin/sts.ts';
import { StsClient } from '../../lib/client/client.ts';
import { verifyDpopProof } from '../../lib/shared/dpop.ts';
import { generateSigningKey } from '../../lib/signers/local.ts';
import { ADMIN_TOKEN, type StandIn, startStandIn, startTestSts, type TestSts } from '../support/local-sts.ts';
import { freePort } from '../support/ports.ts';

/**
 * The `sts` CLI: every command once as its users run it (`node bin/sts.js ...` in a child
 * process, all in parallel, against the local server in this process), then the detailed cases
 * through the same `run()` in-process with captured streams, which is much quicker.
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const API = 'https://api.example.local';
const DEPLOY = 'https://deploy.acme.internal';

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}
interface RunOptions {
  readonly env?: Record<string, string>;
  readonly input?: string;
}

const baseEnv = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('STS_')));

function spawnSts(args: string[], options: RunOptions = {}): Promise<Run> {
  const child = spawn(process.execPath, ['bin/sts.js', ...args], {
    cwd: ROOT,
    env: { ...baseEnv, ...options.env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => {
    stdout += chunk;
  });
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  child.stdin.end(options.input ?? '');
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

async function runSts(args: string[], options: RunOptions = {}): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const io = createIo(options.env ?? {}, args, {
    stdout: (text) => {
      stdout += text;
    },
    stderr: (text) => {
      stderr += text;
    },
    stdin: async () => options.input ?? '',
  });
  return { code: await run(args, io), stdout, stderr };
}

/** No secret appears on stderr, whatever happened. */
function expectClean(result: Run, ...secrets: string[]) {
  for (const secret of secrets) expect(result.stderr).not.toContain(secret);
}

const GITHUB_CLAIMS = {
  iss: 'https://token.actions.githubusercontent.com',
  aud: 'https://sts.example.com',
  sub: 'repo:acme/app:environment:prod',
  repository_owner: 'acme',
};

let local: TestSts;
let standIn: StandIn;
let dir: string;
let env: Record<string, string>;
let config: string;
let jwt: string;

beforeAll(async () => {
  [local, standIn] = await Promise.all([startTestSts(), startStandIn()]);
  dir = mkdtempSync(join(tmpdir(), 'sts-cli-'));
  env = { STS_ENDPOINT: local.url };
  config = join(dir, 'sts.config.json');
  writeFileSync(
    config,
    JSON.stringify({
      issuer: 'https://sts.example.com',
      trustedIssuers: [
        {
          name: 'github',
          issuer: 'https://token.actions.githubusercontent.com',
          audiences: ['https://sts.example.com'],
          algorithms: ['ES256'],
        },
      ],
      policies: [
        {
          name: 'deploy-prod',
          issuer: 'github',
          subject: 'repo:acme/app:environment:prod',
          claims: { repository_owner: 'acme' },
          audiences: [DEPLOY],
          scopes: ['deploy:write'],
          maxLifetime: '10m',
        },
        {
          name: 'chained',
          issuer: 'self',
          subject: 'repo:acme/app:**',
          rootPolicy: 'deploy-prod',
          audiences: ['https://api.acme.internal'],
        },
      ],
    }),
  );
  jwt = await new SignJWT(GITHUB_CLAIMS)
    .setProtectedHeader({ alg: 'ES256', typ: 'JWT' })
    .setExpirationTime('1h')
    .sign(generateSigningKey('ES256'));
});
afterAll(async () => {
  await Promise.all([local.close(), standIn.close()]);
  rmSync(dir, { recursive: true, force: true });
});

describe('sts as a child process (node bin/sts.js)', () => {
  let subject: string;
  let accessToken: string;
  let runs: Record<string, Run>;

  beforeAll(async () => {
    subject = await local.subjectToken('alice');
    ({ accessToken } = await new StsClient({ endpoint: local.url }).exchange({
      subjectToken: subject,
      audience: API,
      scope: 'read',
    }));
    const tokenFile = join(dir, 'access.jwt');
    writeFileSync(tokenFile, `${accessToken}\n`);
    const good = join(dir, 'child-good.json');
    writeFileSync(good, readConfigText());
    const pending: Record<string, Promise<Run>> = {
      help: spawnSts(['--help']),
      devToken: spawnSts(['dev-token', '--sub', 'dora', '--lifetime', '5m', '--claims', '{"email":"d@x"}'], {
        env,
      }),
      exchange: spawnSts(['exchange', '--audience', API, '--scope', 'read'], {
        env: { ...env, STS_SUBJECT_TOKEN: subject },
      }),
      refused: spawnSts(['exchange', '--subject-token', subject, '--audience', 'https://elsewhere.example'], {
        env,
      }),
      positional: spawnSts(['exchange', subject, '--audience', API], { env }),
      down: spawnSts(['exchange', '--subject-token', '-', '--audience', API], {
        env: { STS_ENDPOINT: `http://127.0.0.1:${await freePort()}` },
        input: subject,
      }),
      introspect: spawnSts(['introspect', '--token', tokenFile, '--json'], {
        env: { ...env, STS_ADMIN_TOKEN: ADMIN_TOKEN },
      }),
      explain: spawnSts(['explain', '--config', config, '--token', jwt, '--audience', DEPLOY]),
      validate: spawnSts(['config', 'validate', good]),
    };
    const settled = await Promise.all(Object.values(pending));
    runs = Object.fromEntries(Object.keys(pending).map((name, index) => [name, settled[index]!]));
  });

  it('never writes a token to stderr', () => {
    for (const result of Object.values(runs)) expectClean(result, subject, accessToken, jwt, ADMIN_TOKEN);
  });

  it('help: exit 0, usage on stdout', () => {
    expect(runs.help).toMatchObject({ code: 0, stderr: '' });
    expect(runs.help!.stdout).toContain('exit codes: 0 ok, 2 bad usage, 3 refused');
  });

  it('dev-token: a development subject token on stdout', () => {
    expect(runs.devToken).toMatchObject({ code: 0, stderr: '' });
    const claims = decodeJwt(runs.devToken!.stdout.trim());
    expect(claims).toMatchObject({ sub: 'dora', email: 'd@x', aud: local.url });
    expect(claims.exp! - claims.iat!).toBe(300);
  });

  it('exchange: the token alone on stdout (exit 0), refusal exit 3, failure exit 4, usage exit 2', () => {
    expect(runs.exchange).toMatchObject({ code: 0, stderr: '' });
    expect(runs.exchange!.stdout).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+\n$/);
    expect(decodeJwt(runs.exchange!.stdout)).toMatchObject({ sub: 'alice', aud: API, scope: 'read' });
    expect(runs.refused).toMatchObject({ code: 3, stdout: '' });
    expect(runs.refused!.stderr).toContain('sts: refused: invalid_target');
    expect(runs.down).toMatchObject({ code: 4, stdout: '' });
    expect(runs.down!.stderr).toContain('sts: service failure: network_error');
    expect(runs.positional).toMatchObject({ code: 2, stdout: '' });
    expect(runs.positional!.stderr).toContain("Unexpected argument '[redacted]'");
  });

  it('introspect: the RFC 7662 answer on stdout', () => {
    expect(runs.introspect).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(runs.introspect!.stdout)).toMatchObject({ active: true, sub: 'alice', scope: 'read' });
  });

  it('explain and config validate', () => {
    expect(runs.explain).toMatchObject({ code: 0, stderr: '' });
    expect(runs.explain!.stdout).toContain('ADMITTED by policy "deploy-prod"');
    expect(runs.validate).toMatchObject({ code: 0, stderr: '' });
    expect(runs.validate!.stdout).toMatch(/^OK .*child-good\.json \(2 policies\)\n$/);
  });

  it('revoke: exit 0, after which introspection says inactive (exit 3)', async () => {
    const revoked = await spawnSts(['revoke', '--token', '-'], { env, input: accessToken });
    expect(revoked).toMatchObject({ code: 0, stdout: '' });
    expect(revoked.stderr).toContain('revocation accepted');
    expectClean(revoked, accessToken);
    const inactive = await runSts(['introspect', '--admin-token', ADMIN_TOKEN], {
      env: { ...env, STS_TOKEN: accessToken },
    });
    expect(inactive).toMatchObject({ code: 3, stderr: 'sts introspect: the token is not active\n' });
    expect(JSON.parse(inactive.stdout)).toEqual({ active: false });
  });

  it('introspect without the admin credential: refused (exit 3), saying which credential', async () => {
    const refused = await runSts(['introspect'], { env: { ...env, STS_TOKEN: accessToken } });
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain('--admin-token or STS_ADMIN_TOKEN');
    expect(refused.stderr).toContain('invalid_client');
  });
});

function readConfigText(): string {
  return JSON.stringify({
    issuer: 'https://sts.example.com',
    trustedIssuers: [{ name: 'github', issuer: 'https://token.actions.githubusercontent.com' }],
    policies: [
      { name: 'p', issuer: 'github', subject: 'repo:acme/**', audiences: ['https://a.example'] },
      { name: 'q', issuer: 'self', rootPolicy: 'p', subject: '**', audiences: ['https://a.example'] },
    ],
  });
}

describe('sts commands in detail (in-process run())', () => {
  it('refuses bad usage with exit 2, without echoing tokens', async () => {
    const token = await local.subjectToken('alice');
    const results = await Promise.all([
      runSts([]),
      runSts(['frobnicate']),
      runSts(['exchange', '--subject-token', token], { env }),
      runSts(['exchange', '--subject-token', token, '--audience', API]),
      runSts([
        'exchange',
        '--subject-token',
        token,
        '--audience',
        API,
        '--endpoint',
        'http://sts.example.com',
      ]),
      runSts(['exchange', '--subject-token', 'no-such-file.jwt', '--audience', API], { env }),
      runSts(['exchange', '--audience', API, '--nope'], { env }),
      runSts(['explain', '--config', config, '--audience', DEPLOY]),
      runSts(['explain', '--config', join(dir, 'missing.json'), '--token', token, '--audience', DEPLOY]),
      runSts(['dev-token', '--claims', '{"email":'], { env }),
      runSts(['dev-token', '--lifetime', 'soon'], { env }),
      runSts(['exchange', '--subject-token', '-', '--actor-token', '-', '--audience', API], {
        env,
        input: token,
      }),
    ]);
    const [none, unknown, noTarget, noEndpoint, cleartext, noFile, badOption, explainArgs, noConfig] =
      results;
    for (const result of results) {
      expect(result).toMatchObject({ code: 2, stdout: '' });
      expectClean(result, token);
    }
    expect(none!.stderr).toContain('usage: sts <command>');
    expect(unknown!.stderr).toContain('unknown command "frobnicate"');
    expect(noTarget!.stderr).toContain('exactly one of --audience and --resource');
    expect(noEndpoint!.stderr).toContain('--endpoint (or STS_ENDPOINT) is required');
    expect(cleartext!.stderr).toContain('https');
    expect(noFile!.stderr).toContain('--subject-token: not a token and not a readable file (ENOENT)');
    expect(badOption!.stderr).toContain("Unknown option '--nope'");
    expect(explainArgs!.stderr).toContain('explain needs --config, --token and --audience');
    expect(noConfig!.stderr).toContain('cannot read the file: ENOENT');
    expect(results[9]!.stderr).toContain('--claims: not valid JSON');
    expect(results[10]!.stderr).toContain('--lifetime');
    expect(results[11]!.stderr).toContain('stdin ("-") can be read only once');
  });

  it('prints its version, and for each command its own options and an example', async () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-v']) {
      expect(await runSts([flag])).toEqual({ code: 0, stdout: `${version}\n`, stderr: '' });
    }
    const options: Record<string, readonly string[]> = {
      exchange: ['--subject-token', '--audience', '--resource', '--scope', '--actor-token', '--endpoint'],
      introspect: ['--token', '--admin-token', '--token-type-hint'],
      revoke: ['--token', '--token-type-hint'],
      explain: ['--config', '--token', '--audience', '--actor-token', '--subject-issuer'],
      config: ['--json'],
      'dev-token': ['--sub', '--aud', '--lifetime', '--claims'],
    };
    for (const [command, names] of Object.entries(options)) {
      const args = command === 'config' ? ['config', 'validate', '--help'] : [command, '-h'];
      const help = await runSts(args);
      expect(help).toMatchObject({ code: 0, stderr: '' });
      expect(help.stdout.startsWith(`usage: sts ${command}`), command).toBe(true);
      expect(help.stdout, command).toContain(`example:\n  `);
      expect(help.stdout, command).not.toContain('commands:');
      for (const name of names) expect(help.stdout, `${command} ${name}`).toContain(name);
    }
  });

  it('exchanges from a file with --json, and delegates with an actor token', async () => {
    const subject = await local.subjectToken('alice', { email: 'alice@example.com' });
    const actor = await local.subjectToken('service:cli');
    const file = join(dir, 'subject.jwt');
    writeFileSync(file, `${subject}\n`);
    const [asJson, delegated] = await Promise.all([
      runSts(['exchange', '--subject-token', file, '--audience', API, '--scope', 'read write', '--json'], {
        env,
      }),
      runSts(['exchange', '--subject-token', '-', '--actor-token', actor, '--resource', API], {
        env,
        input: subject,
      }),
    ]);
    expect(asJson).toMatchObject({ code: 0, stderr: '' });
    const body = JSON.parse(asJson.stdout) as Record<string, unknown>;
    expect(body).toMatchObject({
      token_type: 'Bearer',
      issued_token_type: 'urn:ietf:params:oauth:token-type:access_token',
      expires_in: 300,
      scope: 'read write',
    });
    expect(decodeJwt(body.access_token as string)).toMatchObject({ email: 'alice@example.com' });
    expect(delegated).toMatchObject({ code: 0, stderr: '' });
    expect(decodeJwt(delegated.stdout.trim())).toMatchObject({ sub: 'alice', act: { sub: 'service:cli' } });
  });

  it('generates a DPoP key (mode 0600, never overwritten), exchanges bound to it, and signs a proof', async () => {
    const keyFile = join(dir, 'dpop.jwk');
    const keygen = await runSts(['dpop-keygen', '--out', keyFile]);
    expect(keygen).toMatchObject({ code: 0, stderr: '' });
    const jkt = keygen.stdout.trim();
    expect(jkt).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect((await runSts(['dpop-keygen', '--out', keyFile])).code).toBe(2);
    const subject = await local.subjectToken('alice');
    const bound = await runSts(['exchange', '--subject-token', subject, '--audience', API, '--json'], {
      env: { ...env, STS_DPOP_KEY: keyFile },
    });
    expect(bound).toMatchObject({ code: 0, stderr: '' });
    const body = JSON.parse(bound.stdout) as { access_token: string; token_type: string };
    expect(body.token_type).toBe('DPoP');
    expect(decodeJwt(body.access_token).cnf).toEqual({ jkt });
    const url = 'https://api.example.local/things?x=1';
    const proof = await runSts([
      'dpop-proof',
      '--dpop-key',
      keyFile,
      '--url',
      url,
      '--token',
      body.access_token,
    ]);
    expect(proof).toMatchObject({ code: 0, stderr: '' });
    const { jkt: proved } = await verifyDpopProof(proof.stdout.trim(), {
      method: 'GET',
      url,
      accessToken: body.access_token,
      clock: Date.now,
      maxAgeSeconds: 60,
      clockSkew: 5,
      markUsed: async () => true,
    });
    expect(proved).toBe(jkt);
    expect((await runSts(['dpop-proof', '--url', url])).code).toBe(2);
  });

  it('reports refusals (exit 3) and failures (exit 4), as JSON with --json, redacting echoed tokens', async () => {
    const subject = await local.subjectToken('alice');
    const forged = `${subject.slice(0, -4)}AAAA`;
    standIn.script('/token', [
      { status: 400, body: { error: 'invalid_request', error_description: `bad token ${subject}` } },
    ]);
    standIn.script('/introspect', [{ status: 503, headers: { 'Retry-After': '0' }, body: 'down' }]);
    const [invalid, echoed, unavailable, unauthorized] = await Promise.all([
      runSts(['exchange', '--audience', API, '--json'], { env: { ...env, STS_SUBJECT_TOKEN: forged } }),
      runSts(['exchange', '--subject-token', '-', '--audience', API, '--endpoint', standIn.url], {
        input: subject,
      }),
      runSts(['introspect', '--token', subject, '--endpoint', standIn.url, '--admin-token', ADMIN_TOKEN]),
      runSts(['introspect', '--token', subject], { env }),
    ]);
    expect(invalid).toMatchObject({ code: 3, stdout: '' });
    expect(JSON.parse(invalid.stderr)).toEqual({
      error: 'invalid_request',
      error_description: 'subject_token could not be verified',
      status: 400,
    });
    expect(echoed).toMatchObject({ code: 3, stdout: '' });
    expect(echoed.stderr).toContain('bad token [redacted]');
    expect(unavailable).toMatchObject({ code: 4, stdout: '' });
    expect(unavailable.stderr).toContain('sts: service failure: temporarily_unavailable: HTTP 503\n');
    expect(unauthorized).toMatchObject({ code: 3, stdout: '' });
    expect(unauthorized.stderr).toContain('refused: invalid_client');
    for (const result of [invalid, echoed, unavailable, unauthorized]) {
      expectClean(result, subject, forged, ADMIN_TOKEN);
    }
  });

  it('explains offline: admitted, refused with reasons, bare claims, untrusted issuer, JSON', async () => {
    const claimsFile = join(dir, 'claims.json');
    writeFileSync(claimsFile, JSON.stringify({ ...GITHUB_CLAIMS, repository_owner: 'evil' }));
    const args = ['explain', '--config', config, '--audience', DEPLOY];
    const [admitted, refused, asJson, untrusted, named] = await Promise.all([
      runSts([...args, '--token', jwt, '--scope', 'deploy:write']),
      runSts([...args, '--token', claimsFile, '--scope', 'deploy:read']),
      runSts([...args, '--token', '-', '--json'], { input: jwt }),
      runSts([...args, '--token', JSON.stringify({ ...GITHUB_CLAIMS, iss: 'https://evil.example' })]),
      runSts([
        ...args,
        '--token',
        JSON.stringify({ sub: 'x', aud: 'https://sts.example.com' }),
        '--subject-issuer',
        'self',
      ]),
    ]);
    expect(admitted).toMatchObject({ code: 0, stderr: '' });
    expect(admitted.stdout).toContain('note: signature NOT verified');
    expect(admitted.stdout).toContain(
      'subject: sub="repo:acme/app:environment:prod" issuer=github (https://token',
    );
    expect(admitted.stdout).toContain(
      'ADMITTED by policy "deploy-prod" (lifetime 300s, scope "deploy:write")',
    );
    expect(admitted.stdout).toContain(
      '  policy chained: refuses\n    - subject issuer is "github", policy wants "self"',
    );
    expect(admitted.stdout).not.toContain(jwt);

    expect(refused).toMatchObject({ code: 3, stderr: '' });
    expect(refused.stdout).not.toContain('signature');
    expect(refused.stdout).toContain('REFUSED: no policy admits this request');
    expect(refused.stdout).toContain('- subject claim repository_owner="evil" does not match "acme"');
    expect(refused.stdout).toContain('- scopes not allowed: deploy:read');

    expect(asJson.code).toBe(0);
    expect(JSON.parse(asJson.stdout)).toMatchObject({
      admitted: true,
      admittedBy: 'deploy-prod',
      signatureVerified: false,
      subject: { issuerName: 'github', sub: GITHUB_CLAIMS.sub },
      grant: { lifetime: 300 },
      warnings: [],
    });

    expect(untrusted.code).toBe(3);
    expect(untrusted.stdout).toContain('warning: subject iss "https://evil.example" is neither this service');
    expect(named.code).toBe(3);
    expect(named.stdout).toContain('subject: sub="x" issuer=self');
    expect(named.stdout).toContain('target "https://deploy.acme.internal" is not in audiences');
  });

  it('validates policy files for CI', async () => {
    const good = join(dir, 'good.json');
    const bad = join(dir, 'bad.json');
    writeFileSync(good, readConfigText());
    writeFileSync(
      bad,
      JSON.stringify({
        issuer: 'http://sts.example.com',
        policies: [{ name: 'p', issuer: 'self', subject: '**', audiences: ['https://a.example'] }],
      }),
    );
    const notJson = join(dir, 'not.json');
    writeFileSync(notJson, '{');
    const [mixed, asJson, broken, missing, usage] = await Promise.all([
      runSts(['config', 'validate', good, bad]),
      runSts(['config', 'validate', bad, '--json']),
      runSts(['config', 'validate', notJson]),
      runSts(['config', 'validate', join(dir, 'missing.json')]),
      runSts(['config', 'check', good]),
    ]);
    expect(mixed.code).toBe(3);
    expect(mixed.stdout).toBe(`OK ${good} (2 policies)\n`);
    expect(mixed.stderr).toContain(`invalid configuration ${bad}:\n  - issuer: expected an https URL`);
    expect(asJson.code).toBe(3);
    expect(JSON.parse(asJson.stdout)).toMatchObject({ file: bad, valid: false });
    expect(broken.code).toBe(3);
    expect(broken.stderr).toContain('not valid JSON');
    expect(missing).toMatchObject({ code: 2 });
    expect(usage).toMatchObject({ code: 2 });
    expect(usage.stderr).toContain('usage: sts config validate [<file>...]');
  });

  it('config validate without a file checks the one the service would load (STS_CONFIG)', async () => {
    const good = join(dir, 'default-good.json');
    writeFileSync(good, readConfigText());
    const fromEnv = await runSts(['config', 'validate'], { env: { STS_CONFIG: good } });
    expect(fromEnv).toMatchObject({ code: 0, stdout: `OK ${good} (2 policies)\n` });
    const none = await runSts(['config', 'validate'], { env: { STS_CONFIG: join(dir, 'nowhere.json') } });
    expect(none.code).toBe(2);
    expect(none.stderr).toContain(`cannot read ${join(dir, 'nowhere.json')} (ENOENT)`);
  });

  it('config validate refuses a duplicated key with its path, and __proto__ or constructor keys', async () => {
    const duplicated = join(dir, 'duplicated.json');
    const parsed = JSON.parse(readConfigText()) as { policies: Record<string, unknown>[] };
    const policy = JSON.stringify(parsed.policies[0]).replace(/^\{/, '{"subject":"*",');
    writeFileSync(duplicated, JSON.stringify({ ...parsed, policies: ['@'] }).replace('"@"', policy));
    const proto = join(dir, 'proto.json');
    writeFileSync(proto, readConfigText().replace(/^\{/, '{"__proto__":{"admin":true},'));
    const [dup, bad] = await Promise.all([
      runSts(['config', 'validate', duplicated]),
      runSts(['config', 'validate', proto]),
    ]);
    expect(dup.code).toBe(3);
    expect(dup.stderr).toContain('policies[0].subject: the key "subject" appears twice');
    expect(bad.code).toBe(3);
    expect(bad.stderr).toContain('__proto__: the key "__proto__" is not allowed');
  });

  it('config validate warns (exit 0) about globs whose reach changed and self policies open to any chain', async () => {
    const risky = join(dir, 'risky.json');
    writeFileSync(
      risky,
      JSON.stringify({
        issuer: 'https://sts.example.com',
        trustedIssuers: [{ name: 'github', issuer: 'https://token.actions.githubusercontent.com' }],
        policies: [
          {
            name: 'app',
            issuer: 'github',
            subject: 'repo:acme/app:*',
            claims: { ref: 'refs/heads/*', environment: '*:prod' },
            audiences: ['https://sts.example.com'],
          },
          {
            name: 'fine',
            issuer: 'github',
            subject: 'repo:acme/*:environment:prod',
            audiences: ['https://a'],
          },
          { name: 'chained', issuer: 'self', subject: 'repo:acme/**', audiences: ['https://a'] },
          {
            name: 'narrow',
            issuer: 'self',
            rootPolicy: 'app',
            subject: 'repo:acme/**',
            audiences: ['https://a'],
            actors: [{ issuer: 'self', subject: 'service:x' }],
          },
        ],
      }),
    );
    const [text, asJson] = await Promise.all([
      runSts(['config', 'validate', risky]),
      runSts(['config', 'validate', risky, '--json']),
    ]);
    expect(text.code).toBe(0);
    expect(text.stdout).toBe(`OK ${risky} (4 policies)\n`);
    const lines = text.stderr.trim().split('\n');
    expect(lines.map((line) => line.replace(`warning: ${risky}: `, '').split(':')[0])).toEqual([
      'policies[0].subject',
      'policies[0].claims.ref',
      'policies[0].claims.environment',
      'policies[2]',
      'policies[3].actors[0]',
    ]);
    expect(text.stderr).toContain('write ** if it should');
    expect(text.stderr).toContain('without rootPolicy admits a token of any chain');
    expect(JSON.parse(asJson.stdout)).toMatchObject({ valid: true, warnings: expect.arrayContaining([]) });
    expect(JSON.parse(asJson.stdout).warnings).toHaveLength(5);
  });
});
