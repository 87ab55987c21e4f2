import { describe, expect, it } from 'vitest';
import type { ConfigFile } from '../../../lib/config/config.ts';
import {
  actDepth,
  compilePolicies,
  delegatedAct,
  type PolicyEngine,
  type PolicyRequest,
  type PresentedToken,
} from '../../../lib/policy/policy.ts';
import { OAuthError } from '../../../lib/shared/errors.ts';
import { buildConfig, policyEntry, STS_ISSUER, trustedIssuerEntry } from '../../support/config.ts';
import rfc8693 from '../../vectors/rfc8693.json' with { type: 'json' };

const GITHUB = 'https://token.actions.githubusercontent.com';
const OKTA = 'https://acme.okta.com';
const DEPLOY = 'https://deploy.acme.internal';
const API = 'https://api.acme.internal';

const trustedIssuers = [trustedIssuerEntry('github', GITHUB), trustedIssuerEntry('okta', OKTA)];

/** A policy engine over `policies` with the two trusted issuers above. */
const engine = (policies: ConfigFile['policies'], overrides: Partial<ConfigFile> = {}): PolicyEngine =>
  compilePolicies(buildConfig({ trustedIssuers, policies, ...overrides }));

/** A verified GitHub Actions token. */
const github = (claims: Record<string, unknown> = {}): PresentedToken => ({
  issuerName: 'github',
  claims: {
    iss: GITHUB,
    sub: 'repo:acme/app:environment:prod',
    repository_owner: 'acme',
    repository: 'acme/app',
    run_id: '42',
    ...claims,
  },
});
/** A verified Okta token for a service (an actor). */
const okta = (sub = 'svc-deployer', claims: Record<string, unknown> = {}): PresentedToken => ({
  issuerName: 'okta',
  claims: { iss: OKTA, sub, ...claims },
});
/** A verified token of this service (chained exchange). */
const self = (claims: Record<string, unknown> = {}): PresentedToken => ({
  issuerName: 'self',
  claims: { iss: STS_ISSUER, sub: 'repo:acme/app:environment:prod', ...claims },
});

const request = (overrides: Partial<PolicyRequest> = {}): PolicyRequest => ({
  subject: github(),
  audience: DEPLOY,
  scopes: [],
  ...overrides,
});

/** The DESIGN.md example policy. */
const deployProd = policyEntry({
  name: 'deploy-prod',
  issuer: 'github',
  subject: 'repo:acme/app:environment:prod',
  claims: { repository_owner: 'acme' },
  audiences: [DEPLOY],
  scopes: ['deploy:write', 'deploy:read'],
  maxLifetime: '15m',
  copyClaims: ['repository', 'run_id'],
});

function refusal(policies: PolicyEngine, req: PolicyRequest): OAuthError {
  try {
    policies.decide(req);
  } catch (error) {
    expect(error).toBeInstanceOf(OAuthError);
    return error as OAuthError;
  }
  throw new Error('expected a refusal');
}

describe('compilePolicies: matching', () => {
  // [what, policy overrides, subject token, admitted]
  const cases: ReadonlyArray<readonly [string, Record<string, unknown>, PresentedToken, boolean]> = [
    ['exact subject', {}, github(), true],
    ['another subject', {}, github({ sub: 'repo:acme/app:environment:staging' }), false],
    [
      'subject glob',
      { subject: 'repo:acme/app:**' },
      github({ sub: 'repo:acme/app:ref:refs/heads/main' }),
      true,
    ],
    [
      'subject glob, other repo',
      { subject: 'repo:acme/app:**' },
      github({ sub: 'repo:acme/app2:ref:x' }),
      false,
    ],
    [
      'immutable-id subject glob',
      { subject: 'repo:acme@123/app@456:**' },
      github({ sub: 'repo:acme@123/app@456:ref:refs/heads/main' }),
      true,
    ],
    ['missing sub', { subject: '**' }, github({ sub: undefined }), false],
    ['claim condition mismatch', {}, github({ repository_owner: 'evil' }), false],
    ['claim condition missing', {}, github({ repository_owner: undefined }), false],
    ['claim glob', { claims: { repository: 'acme/*' } }, github(), true],
    [
      'claim glob mismatch',
      { claims: { repository: 'acme/*' } },
      github({ repository: 'acmeevil/app' }),
      false,
    ],
    ['numeric claim as text', { claims: { run_id: '4*' } }, github({ run_id: 42 }), true],
    ['boolean claim as text', { claims: { private: 'true' } }, github({ private: true }), true],
    ['array claim never matches', { claims: { groups: '*' } }, github({ groups: ['admins'] }), false],
    [
      'every claim condition must match',
      { claims: { repository_owner: 'acme', run_id: '1' } },
      github(),
      false,
    ],
    ['another issuer with the same subject', {}, { ...okta(), claims: github().claims }, false],
    ['a self token for a github policy', {}, self(), false],
  ];

  it.each(cases)('%s', (_what, overrides, subject, admitted) => {
    const policies = engine([{ ...deployProd, ...overrides }]);
    const req = request({ subject });
    if (admitted) {
      expect(policies.decide(req).policy.name).toBe('deploy-prod');
    } else {
      const error = refusal(policies, req);
      expect([error.code, error.reason]).toEqual(['invalid_request', 'policy.refused']);
    }
    expect(policies.explain(req).admittedBy).toBe(admitted ? 'deploy-prod' : undefined);
  });

  it('admits with the first matching policy, in file order', () => {
    const policies = engine([
      policyEntry({ name: 'narrow', issuer: 'github', subject: 'repo:other/**', audiences: [DEPLOY] }),
      policyEntry({ name: 'first', issuer: 'github', subject: 'repo:acme/**', audiences: [DEPLOY] }),
      policyEntry({ name: 'second', issuer: 'github', subject: '**', audiences: [DEPLOY] }),
    ]);
    expect(policies.decide(request()).policy.name).toBe('first');
  });

  it('a self policy with an origin admits only chains that started at that issuer', () => {
    const policies = engine([
      policyEntry({
        name: 'chained',
        issuer: 'self',
        origin: 'github',
        subject: 'repo:acme/**',
        audiences: [DEPLOY],
      }),
    ]);
    expect(policies.decide(request({ subject: { ...self(), origin: 'github' } })).policy.name).toBe(
      'chained',
    );
    const fromOkta = request({ subject: { ...self(), origin: 'okta' } });
    expect(refusal(policies, fromOkta).code).toBe('invalid_request');
    expect(policies.explain(fromOkta).verdicts[0]?.refusals).toEqual(['issuer']);
  });

  it('a self policy with a rootPolicy admits only chains that a given policy started (issue 12 item 6)', () => {
    const policies = engine([
      policyEntry({ name: 'deploy', issuer: 'github', subject: 'repo:acme/**', audiences: [DEPLOY] }),
      policyEntry({
        name: 'chained',
        issuer: 'self',
        rootPolicy: 'deploy',
        subject: 'repo:acme/**',
        audiences: [API],
      }),
    ]);
    const fromDeploy = request({ subject: { ...self(), rootPolicy: 'deploy' }, audience: API });
    expect(policies.decide(fromDeploy).policy.name).toBe('chained');
    for (const rootPolicy of ['other', undefined]) {
      const elsewhere = request({ subject: { ...self(), rootPolicy }, audience: API });
      expect(refusal(policies, elsewhere).code).toBe('invalid_request');
      expect(policies.explain(elsewhere).verdicts[1]?.reasons.join()).toContain('rootPolicy "deploy"');
    }
  });

  it('an unknown chain (no TOKEN# record read) is chain_unknown, never a match, for subject and actor rules', () => {
    const policies = engine([
      policyEntry({ name: 'deploy', issuer: 'github', subject: 'repo:acme/**', audiences: [DEPLOY] }),
      policyEntry({
        name: 'chained',
        issuer: 'self',
        origin: 'github',
        rootPolicy: 'deploy',
        subject: 'repo:acme/**',
        audiences: [API],
      }),
      policyEntry({
        name: 'delegated',
        issuer: 'github',
        subject: '**',
        audiences: [API],
        actors: [{ issuer: 'self', origin: 'okta', subject: '**' }],
      }),
    ]);
    const unknown = request({ subject: self(), audience: API });
    expect(refusal(policies, unknown).code).toBe('invalid_request');
    const [, chained] = policies.explain(unknown).verdicts;
    expect(chained?.refusals).toEqual(['chain_unknown', 'chain_unknown']);
    expect(chained?.reasons).toEqual([
      'subject chain origin is unknown: its TOKEN# record was not read; policy wants origin "github"',
      'subject chain root policy is unknown: its TOKEN# record was not read; policy wants rootPolicy "deploy"',
    ]);
    const withActor = request({ actor: self({ sub: 'svc-x' }), audience: API });
    expect(policies.explain(withActor).verdicts[2]?.refusals).toEqual(['chain_unknown']);
    const actorElsewhere = request({ actor: { ...self({ sub: 'svc-x' }), origin: 'github' }, audience: API });
    expect(policies.explain(actorElsewhere).verdicts[2]?.refusals).toEqual(['actor']);
  });

  it('a self policy admits a self token carrying this service as issuer name', () => {
    const policies = engine([
      policyEntry({ name: 'chained', issuer: 'self', subject: 'repo:acme/**', audiences: [DEPLOY] }),
    ]);
    expect(policies.decide(request({ subject: self() })).policy.name).toBe('chained');
    expect(refusal(policies, request()).reason).toBe('policy.refused');
  });
});

describe('compilePolicies: audiences and scopes', () => {
  const policies = engine([deployProd]);

  it.each([
    ['no scope asked: none granted', [], []],
    ['one allowed scope', ['deploy:read'], ['deploy:read']],
    [
      'every allowed scope, in request order',
      ['deploy:read', 'deploy:write'],
      ['deploy:read', 'deploy:write'],
    ],
  ])('%s', (_what, scopes, granted) => {
    expect(policies.decide(request({ scopes })).scopes).toEqual(granted);
  });

  it.each([
    ['a scope the policy lacks', ['admin']],
    ['one allowed and one not', ['deploy:read', 'admin']],
    ['a prefix of an allowed scope', ['deploy']],
    ['another case', ['DEPLOY:READ']],
  ])('refuses %s with invalid_scope', (_what, scopes) => {
    const error = refusal(policies, request({ scopes }));
    expect([error.code, error.status, error.reason]).toEqual(['invalid_scope', 400, 'policy.scope']);
  });

  it('refuses any scope when the policy lists none', () => {
    const bare = engine([{ ...deployProd, scopes: [] }]);
    expect(bare.decide(request()).scopes).toEqual([]);
    expect(refusal(bare, request({ scopes: ['deploy:read'] })).code).toBe('invalid_scope');
  });

  it.each([
    ['another audience', 'https://other.internal'],
    ['a prefix of an audience', 'https://deploy.acme'],
    ['an audience with a trailing slash', `${DEPLOY}/`],
  ])('refuses %s with invalid_target', (_what, audience) => {
    const error = refusal(policies, request({ audience }));
    expect([error.code, error.status, error.reason]).toEqual(['invalid_target', 400, 'policy.audience']);
  });

  it('admits any of several audiences', () => {
    const two = engine([{ ...deployProd, audiences: [DEPLOY, API] }]);
    expect(two.decide(request({ audience: API })).policy.name).toBe('deploy-prod');
  });

  describe('chained exchange (self tokens): scopes only narrow', () => {
    const chained = engine([
      policyEntry({
        name: 'chained',
        issuer: 'self',
        subject: '**',
        audiences: [API],
        scopes: ['read', 'write'],
      }),
    ]);
    const cases: ReadonlyArray<readonly [string, unknown, string[], string | undefined]> = [
      ['a subset of the held scopes', 'read write', ['read'], undefined],
      ['exactly the held scopes', 'read', ['read'], undefined],
      ['no scope asked, scopes held', 'read write', [], undefined],
      ['no scope asked, none held', undefined, [], undefined],
      ['a scope the token does not hold', 'read', ['write'], 'invalid_scope'],
      ['any scope when the token holds none', undefined, ['read'], 'invalid_scope'],
      ['a scope allowed by neither', 'read admin', ['admin'], 'invalid_scope'],
      ['a non-string scope claim holds nothing', ['read'], ['read'], 'invalid_scope'],
    ];
    it.each(cases)('%s', (_what, held, scopes, code) => {
      const req = request({ subject: self({ scope: held }), audience: API, scopes });
      if (code === undefined) expect(chained.decide(req).scopes).toEqual(scopes);
      else expect(refusal(chained, req).code).toBe(code);
    });

    it('explains a widening attempt', () => {
      const req = request({ subject: self({ scope: 'read' }), audience: API, scopes: ['write'] });
      expect(chained.explain(req).verdicts[0]?.refusals).toEqual(['scope_wider_than_subject_token']);
    });
  });
});

describe('compilePolicies: error classification', () => {
  const policies = engine([
    { ...deployProd, name: 'deploy', audiences: [DEPLOY], scopes: ['deploy:read'] },
    policyEntry({
      name: 'api',
      issuer: 'github',
      subject: 'repo:acme/**',
      audiences: [API],
      scopes: ['api:read'],
    }),
    policyEntry({ name: 'okta', issuer: 'okta', subject: '**', audiences: [API, DEPLOY], scopes: ['*'] }),
  ]);

  it.each([
    [
      'identity matches no policy',
      request({ subject: github({ sub: 'repo:evil/app:x' }) }),
      'invalid_request',
    ],
    ['identity and target match, scope does not', request({ scopes: ['api:read'] }), 'invalid_scope'],
    [
      'another policy has the scope but not the target',
      request({ scopes: ['deploy:write'] }),
      'invalid_scope',
    ],
    ['identity matches, no policy has the target', request({ audience: 'https://nope' }), 'invalid_target'],
    [
      'identity matches, target and scope wrong',
      request({ audience: 'https://nope', scopes: ['x'] }),
      'invalid_target',
    ],
    [
      'actor not admitted although target and scope are fine',
      request({ actor: okta(), scopes: ['deploy:read'] }),
      'invalid_request',
    ],
  ])('%s: %s', (_what, req, code) => {
    expect(refusal(policies, req).code).toBe(code);
  });

  it('a glob in scopes is a literal scope, not a pattern', () => {
    const req = request({ subject: okta('alice'), audience: API, scopes: ['read'] });
    expect(refusal(policies, req).code).toBe('invalid_scope');
    expect(policies.decide({ ...req, scopes: ['*'] }).scopes).toEqual(['*']);
  });
});

describe('compilePolicies: lifetime', () => {
  it.each([
    ['global default when the policy has no max', { default: '5m', max: '15m' }, undefined, 300],
    ['global default under the policy max', { default: '5m', max: '15m' }, '10m', 300],
    ['policy max under the default', { default: '5m', max: '15m' }, '2m', 120],
    ['global max when it is the smallest', { default: '5m', max: '5m' }, '1h', 300],
    ['policy max in seconds', { default: '10m', max: '1h' }, '90s', 90],
  ])('%s', (_what, tokenLifetime, maxLifetime, seconds) => {
    const policies = engine([{ ...deployProd, maxLifetime }], { tokenLifetime });
    expect(policies.decide(request()).lifetime).toBe(seconds);
  });
});

describe('compilePolicies: delegation', () => {
  const withActors = {
    ...deployProd,
    actors: [{ issuer: 'okta', subject: 'svc-*', claims: { cid: 'deployer' } }],
  };
  const policies = engine([withActors]);

  it('admits a matching actor and builds the act claim (actor outside)', () => {
    const grant = policies.decide(request({ actor: okta('svc-deployer', { cid: 'deployer' }) }));
    expect(grant.act).toEqual({ sub: 'svc-deployer', iss: OKTA });
  });

  it.each([
    ['subject mismatch', okta('alice', { cid: 'deployer' })],
    ['claim mismatch', okta('svc-deployer', { cid: 'other' })],
    ['issuer mismatch', { ...github({ sub: 'svc-deployer', cid: 'deployer' }) }],
  ])('refuses an actor with a %s', (_what, actor) => {
    const error = refusal(policies, request({ actor }));
    expect([error.code, error.reason]).toEqual(['invalid_request', 'policy.refused']);
    expect(policies.explain(request({ actor })).verdicts[0]?.refusals).toEqual(['actor']);
  });

  it('admits when any of several actor rules matches', () => {
    const two = engine([
      {
        ...deployProd,
        actors: [
          { issuer: 'github', subject: 'nobody' },
          { issuer: 'okta', subject: 'svc-*' },
        ],
      },
    ]);
    expect(two.decide(request({ actor: okta() })).act).toEqual({ sub: 'svc-deployer', iss: OKTA });
  });

  it('a policy without actors refuses any actor_token', () => {
    const error = refusal(engine([deployProd]), request({ actor: okta() }));
    expect([error.code, error.reason]).toEqual(['invalid_request', 'policy.refused']);
    expect(engine([deployProd]).explain(request({ actor: okta() })).verdicts[0]?.refusals).toEqual(['actor']);
  });

  it('without an actor, carries the subject token act claim unchanged and needs no actors rule', () => {
    const prior = { sub: 'svc-a', iss: OKTA };
    const chained = engine([policyEntry({ name: 'chained', issuer: 'self', audiences: [API] })]);
    expect(chained.decide(request({ subject: self({ act: prior }), audience: API })).act).toEqual(prior);
    expect(chained.decide(request({ subject: self(), audience: API })).act).toBeUndefined();
  });

  it('nests the prior act inside the new actor (RFC 8693 §4.1)', () => {
    const chained = engine([
      policyEntry({
        name: 'chained',
        issuer: 'self',
        audiences: [API],
        actors: [{ issuer: 'okta', subject: '**' }],
      }),
    ]);
    const prior = rfc8693.nestedActClaim.claims.act;
    const grant = chained.decide(
      request({ subject: self({ act: prior }), actor: okta('svc-new'), audience: API }),
    );
    expect(grant.act).toEqual({ sub: 'svc-new', iss: OKTA, act: prior });
  });

  it('a self actor carries the iss of the issuer its chain started at (issue 12 item 5)', () => {
    const chained = engine([
      policyEntry({
        name: 'p',
        issuer: 'github',
        subject: '**',
        audiences: [DEPLOY],
        actors: [{ issuer: 'self', subject: '**' }],
      }),
    ]);
    expect(chained.decide(request({ actor: self({ sub: 'svc-x' }) })).act).toEqual({ sub: 'svc-x' });
    const fromOkta = { ...self({ sub: 'svc-x' }), origin: 'okta', originIssuer: OKTA };
    expect(chained.decide(request({ actor: fromOkta })).act).toEqual({ sub: 'svc-x', iss: OKTA });
  });

  describe('depth limit', () => {
    const act = (depth: number): Record<string, unknown> | undefined => {
      let chain: Record<string, unknown> | undefined;
      for (let i = depth; i > 0; i--) chain = { sub: `svc-${i}`, ...(chain ? { act: chain } : {}) };
      return chain;
    };
    const deep = (maxDelegationDepth: number) =>
      engine(
        [
          policyEntry({
            name: 'chained',
            issuer: 'self',
            audiences: [API],
            actors: [{ issuer: 'okta', subject: '**' }],
          }),
        ],
        { maxDelegationDepth },
      );

    it.each([
      [1, 0, true],
      [1, 1, false],
      [3, 2, true],
      [3, 3, false],
      [2, 1, true],
    ])('limit %i, prior chain of %i plus one actor: admitted %s', (limit, prior, admitted) => {
      const req = request({ subject: self({ act: act(prior) }), actor: okta(), audience: API });
      if (admitted) expect(actDepth(deep(limit).decide(req).act)).toBe(prior + 1);
      else {
        expect(refusal(deep(limit), req).code).toBe('invalid_request');
        expect(deep(limit).explain(req).verdicts[0]?.refusals).toEqual(['delegation_depth']);
      }
    });

    it.each([
      ['a string', 'service:a'],
      ['an array', [{ sub: 'service:a' }]],
      ['an object without sub', { iss: 'https://idp' }],
      ['a nested chain with a bad link', { sub: 'service:a', act: { sub: 42 } }],
    ])('refuses a subject token whose act claim is %s', (_name, act) => {
      const req = request({ subject: self({ act }), audience: API });
      expect(refusal(deep(3), req).code).toBe('invalid_request');
      expect(deep(3).explain(req).verdicts[0]?.refusals).toContain('malformed_act');
    });

    it('also limits a chain carried without a new actor', () => {
      const req = request({ subject: self({ act: act(3) }), audience: API });
      expect(deep(3).decide(req).act).toEqual(act(3));
      expect(refusal(deep(2), req).code).toBe('invalid_request');
    });
  });
});

describe('compilePolicies: explain', () => {
  const policies = engine([
    { ...deployProd, name: 'deploy' },
    policyEntry({ name: 'chained', issuer: 'self', subject: '**', audiences: [API] }),
    policyEntry({
      name: 'api',
      issuer: 'github',
      subject: 'repo:acme/**',
      audiences: [API],
      scopes: ['api:read'],
    }),
  ]);

  it('names the admitting policy and lists every policy with its reasons', () => {
    const explanation = policies.explain(request({ audience: API, scopes: ['api:read'] }));
    expect(explanation.admittedBy).toBe('api');
    expect(explanation.verdicts.map((verdict) => [verdict.policy, verdict.admits, verdict.refusals])).toEqual(
      [
        ['deploy', false, ['audience', 'scope']],
        ['chained', false, ['issuer', 'scope']],
        ['api', true, []],
      ],
    );
    for (const verdict of explanation.verdicts) {
      expect(verdict.reasons).toHaveLength(verdict.refusals.length);
    }
  });

  it('reports each mismatching condition of a policy', () => {
    const explanation = policies.explain(
      request({ subject: github({ sub: 'repo:evil/app:x', repository_owner: 'evil' }), scopes: ['admin'] }),
    );
    expect(explanation.admittedBy).toBeUndefined();
    expect(explanation.verdicts[0]?.refusals).toEqual(['subject', 'claims', 'scope']);
    expect(explanation.verdicts[0]?.reasons.join('\n')).toContain('repository_owner');
  });

  it('classifies by the condition, whatever the token claims say', () => {
    const sneaky = github({ sub: 'repo:acme/app:environment:prod claim x' });
    expect(policies.explain(request({ subject: sneaky })).verdicts[0]?.refusals).toEqual(['subject']);
  });

  it('agrees with decide', () => {
    const req = request({ scopes: ['deploy:read'] });
    expect(policies.decide(req).policy.name).toBe(policies.explain(req).admittedBy);
  });
});

describe('actDepth and delegatedAct', () => {
  it.each([
    ['absent', undefined, 0],
    ['RFC 8693 §4.1 act', rfc8693.actClaim.claims.act, 1],
    ['RFC 8693 §4.1 nested act', rfc8693.nestedActClaim.claims.act, 2],
    ['a string', 'svc', 0],
  ])('depth of %s is %i', (_what, act, depth) => {
    expect(actDepth(act)).toBe(depth);
  });

  it('puts the actor outside and the prior chain inside', () => {
    const subject = self({ act: rfc8693.actClaim.claims.act });
    expect(delegatedAct(subject, okta('svc'))).toEqual({
      sub: 'svc',
      iss: OKTA,
      act: { sub: 'admin@example.com' },
    });
    expect(delegatedAct(subject, undefined)).toEqual({ sub: 'admin@example.com' });
    expect(delegatedAct(github(), undefined)).toBeUndefined();
  });
});

describe('explain: the reasons in words', () => {
  it('says a claim is missing rather than printing undefined, and shows a wrong value', () => {
    const policies = engine([deployProd]);
    const missing = policies.explain(request({ subject: github({ repository_owner: undefined }) }));
    expect(missing.verdicts[0]?.reasons).toContain('subject has no claim repository_owner (wanted "acme")');
    const wrong = policies.explain(request({ subject: github({ repository_owner: 'evil' }) }));
    expect(wrong.verdicts[0]?.reasons).toContain(
      'subject claim repository_owner="evil" does not match "acme"',
    );
  });
});
