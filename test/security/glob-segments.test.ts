import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../lib/config/config.ts';
import { type HostileIssuer, startHostileIssuer } from '../support/hostile-issuer.ts';
import { API, expectOAuthError, type Harness, JWT, startHarness } from '../support/sts-harness.ts';

/**
 * Issue 12 item 8, from outside: a subject an attacker can shape (GitHub builds `sub` from
 * segments the workflow author chooses) must not satisfy a `*` meant for one segment. Before the
 * fix, `repo:acme/*:environment:prod` admitted `repo:acme/app:environment:staging:environment:prod`.
 */
let ext: HostileIssuer;
let harness: Harness;

beforeAll(async () => {
  ext = await startHostileIssuer();
  harness = await startHarness({
    config: (base) => {
      ext.audience = base;
      return parseConfig({
        issuer: base,
        trustedIssuers: [{ name: 'github', issuer: ext.issuer, audiences: [base] }],
        policies: [
          { name: 'prod', issuer: 'github', subject: 'repo:acme/*:environment:prod', audiences: [API] },
          { name: 'main', issuer: 'github', subject: 'repo:acme/web:**', audiences: [`${API}/main`] },
        ],
      });
    },
  });
});

afterAll(async () => {
  await harness?.close();
  await ext?.close();
});

const exchange = (sub: string, audience = API) =>
  harness.exchange({ subject_token: ext.token({ claims: { sub } }), subject_token_type: JWT, audience });

describe('glob segments over HTTP (issue 12 item 8)', () => {
  it('a * never spans ":": a subject with extra segments is refused', async () => {
    for (const sub of [
      'repo:acme/app:environment:staging:environment:prod',
      'repo:acme/app:ref:refs/heads/x:environment:prod',
      'repo:acme/a:b:environment:prod',
    ]) {
      expectOAuthError(await exchange(sub), 400, 'invalid_request');
    }
  });

  it('the one-segment subject it is meant for is admitted (control)', async () => {
    const answer = await exchange('repo:acme/app:environment:prod');
    expect(answer.status, answer.text).toBe(200);
  });

  it('** spans segments', async () => {
    const answer = await exchange('repo:acme/web:ref:refs/heads/main', `${API}/main`);
    expect(answer.status, answer.text).toBe(200);
    expectOAuthError(
      await exchange('repo:acme/web-fork:ref:refs/heads/main', `${API}/main`),
      400,
      'invalid_request',
    );
  });
});
