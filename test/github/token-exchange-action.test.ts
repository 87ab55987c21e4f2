import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type StandIn, startStandIn, startTestSts, type TestSts } from '../support/local-sts.ts';

/**
 * The composite action's script (.github/actions/token-exchange/exchange.mjs) as the runner
 * runs it: plain node, a stand-in for GitHub's OIDC token endpoint, the local STS, and a
 * GITHUB_OUTPUT file.
 */
const SCRIPT = fileURLToPath(new URL('../../.github/actions/token-exchange/exchange.mjs', import.meta.url));
const API = 'https://api.example.local';
const REQUEST_TOKEN = 'actions-request-token-0123456789';

let local: TestSts;
let github: StandIn;
let dir: string;

beforeAll(async () => {
  [local, github] = await Promise.all([startTestSts(), startStandIn()]);
  dir = mkdtempSync(join(tmpdir(), 'sts-action-'));
});
afterAll(async () => {
  await Promise.all([local.close(), github.close()]);
  rmSync(dir, { recursive: true, force: true });
});

async function runAction(inputs: Record<string, string>, name: string) {
  const output = join(dir, `${name}.out`);
  writeFileSync(output, '');
  const child = spawn(process.execPath, [SCRIPT], {
    env: {
      PATH: process.env.PATH,
      GITHUB_OUTPUT: output,
      ACTIONS_ID_TOKEN_REQUEST_URL: `${github.url}/oidc?api-version=2.0`,
      ACTIONS_ID_TOKEN_REQUEST_TOKEN: REQUEST_TOKEN,
      ...inputs,
    },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => {
    stdout += chunk;
  });
  child.stderr.on('data', (chunk) => {
    stderr += chunk;
  });
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  return { code, stdout, stderr, output: readFileSync(output, 'utf8') };
}

describe('token-exchange GitHub Action', () => {
  it('exchanges the job OIDC token and outputs the result, masked', async () => {
    const oidc = await local.subjectToken('repo:acme/app:ref:refs/heads/main');
    github.script('/oidc', [{ status: 200, body: { value: oidc } }]);
    const result = await runAction(
      { STS_ENDPOINT: local.url, STS_AUDIENCE: API, STS_SCOPE: ' read ', STS_OIDC_AUDIENCE: '' },
      'ok',
    );
    expect(result).toMatchObject({ code: 0, stderr: '' });
    const outputs = Object.fromEntries(
      result.output
        .trim()
        .split('\n')
        .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
    );
    expect(outputs).toMatchObject({ 'expires-in': '300', scope: 'read' });
    const token = outputs.token!;
    expect(decodeJwt(token)).toMatchObject({
      sub: 'repo:acme/app:ref:refs/heads/main',
      aud: API,
      scope: 'read',
    });

    // Every secret is masked before anything else is printed, and appears nowhere else.
    const lines = result.stdout.trim().split('\n');
    expect(lines.slice(0, 3)).toEqual([
      `::add-mask::${REQUEST_TOKEN}`,
      `::add-mask::${oidc}`,
      `::add-mask::${token}`,
    ]);
    expect(lines.slice(3).join('\n')).not.toMatch(new RegExp(`${token}|${oidc}|${REQUEST_TOKEN}`));

    const request = github.requests.at(-1)!;
    expect(request).toMatchObject({ method: 'GET', path: '/oidc', authorization: `Bearer ${REQUEST_TOKEN}` });
    expect(Object.fromEntries(request.query)).toEqual({ 'api-version': '2.0', audience: local.url });
  });

  it('fails the step with the refusal, and without a token, when the exchange is refused', async () => {
    const oidc = await local.subjectToken('repo:acme/app:ref:refs/heads/main');
    github.script('/oidc', [{ status: 200, body: { value: oidc } }]);
    const [refused, noPermission, cleartext] = await Promise.all([
      runAction({ STS_ENDPOINT: local.url, STS_AUDIENCE: 'https://elsewhere.example' }, 'refused'),
      runAction(
        { STS_ENDPOINT: local.url, STS_AUDIENCE: API, ACTIONS_ID_TOKEN_REQUEST_TOKEN: '' },
        'no-permission',
      ),
      runAction({ STS_ENDPOINT: 'http://sts.example.com', STS_AUDIENCE: API }, 'cleartext'),
    ]);
    expect(refused.code).toBe(1);
    expect(refused.stdout).toContain(
      '::error title=STS token exchange::the STS refused the exchange (HTTP 400) invalid_target',
    );
    expect(refused.output).toBe('');
    expect(noPermission.code).toBe(1);
    expect(noPermission.stdout).toContain('permissions: id-token: write');
    expect(cleartext.code).toBe(1);
    expect(cleartext.stdout).toContain('input endpoint must be https');
  });
});
