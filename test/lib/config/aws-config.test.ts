import { describe, expect, it } from 'vitest';
import type { ConfigError, ConfigFile } from '../../../lib/config/config.ts';
import { parseConfig } from '../../../lib/config/config.ts';
import { configFile } from '../../support/config.ts';

/**
 * The AWS parts of the policy file: `"type": "aws"` trusted issuers, nested claim paths in
 * conditions and copyClaims, and `sessionTags` checked against AWS's tag rules at load.
 */
function problemsOf(file: Record<string, unknown>): string[] {
  try {
    parseConfig(file);
  } catch (error) {
    expect((error as Error).name).toBe('ConfigError');
    return [...(error as ConfigError).problems];
  }
  throw new Error('expected a ConfigError');
}

const AWS_ENTRY = { name: 'aws', type: 'aws', accounts: ['111122223333'] };
const withPolicy = (policy: Record<string, unknown>, extra: Partial<ConfigFile> = {}) =>
  configFile({
    trustedIssuers: [AWS_ENTRY as never],
    policies: [
      {
        name: 'p',
        issuer: 'aws',
        subject: 'arn:aws:iam::111122223333:role/*',
        audiences: ['https://api.test'],
        ...policy,
      } as never,
    ],
    ...extra,
  });
const tags = (sessionTags: unknown) => withPolicy({ sessionTags });

describe('"type": "aws" trusted issuers', () => {
  it('parses with defaults and stays out of the JWT issuers', () => {
    const config = parseConfig(withPolicy({}));
    expect(config.trustedIssuers).toEqual([]);
    expect(config.awsIssuers).toEqual([
      {
        name: 'aws',
        type: 'aws',
        accounts: ['111122223333'],
        regions: undefined,
        globalEndpoint: true,
        maxRequestAge: 300,
      },
    ]);
  });

  it('reads regions, the global endpoint switch and the request age', () => {
    const config = parseConfig(
      configFile({
        trustedIssuers: [
          { ...AWS_ENTRY, regions: ['eu-west-1'], globalEndpoint: false, maxRequestAge: '2m' } as never,
        ],
        policies: [{ name: 'p', issuer: 'aws', subject: '*', audiences: ['a'] }],
      }),
    );
    expect(config.awsIssuers[0]).toMatchObject({
      regions: ['eu-west-1'],
      globalEndpoint: false,
      maxRequestAge: 120,
    });
  });

  it.each([
    [{ accounts: [] }, 'trustedIssuers[0].accounts'],
    [{ accounts: ['1234'] }, 'trustedIssuers[0].accounts[0]'],
    [{ regions: ['Mars'] }, 'trustedIssuers[0].regions[0]'],
    [{ maxRequestAge: '1h' }, 'trustedIssuers[0].maxRequestAge'],
    [{ issuer: 'https://sts.amazonaws.com' }, 'trustedIssuers[0].issuer'],
    [{ organizations: ['o-abc1234567'] }, 'trustedIssuers[0].organizations'],
    [{ name: 'self' }, 'trustedIssuers[0].name'],
  ])('refuses %j at %s', (overrides, at) => {
    const problems = problemsOf(
      configFile({
        trustedIssuers: [{ ...AWS_ENTRY, ...overrides } as never],
        policies: [{ name: 'p', issuer: 'self', subject: '*', audiences: ['a'] }],
      }),
    );
    expect(problems.some((problem) => problem.startsWith(at))).toBe(true);
  });

  it('says why organization ids cannot be checked and what to do instead', () => {
    const [problem] = problemsOf(
      configFile({
        trustedIssuers: [{ ...AWS_ENTRY, organizations: ['o-abc1234567'] } as never],
        policies: [{ name: 'p', issuer: 'self', subject: '*', audiences: ['a'] }],
      }),
    );
    expect(problem).toContain('GetCallerIdentity does not tell');
    expect(problem).toContain('org_id');
  });

  it('refuses a name used twice across kinds', () => {
    const problems = problemsOf(
      configFile({
        trustedIssuers: [{ name: 'aws', issuer: 'https://issuer.test' }, AWS_ENTRY as never],
        policies: [{ name: 'p', issuer: 'self', subject: '*', audiences: ['a'] }],
      }),
    );
    expect(problems).toContain('trustedIssuers[1].name: duplicate name "aws"');
  });
});

describe('claim paths in conditions and copyClaims', () => {
  const POINTER = '/https:~1~1sts.amazonaws.com~1/org_id';

  it('accepts JSON Pointers', () => {
    const config = parseConfig(withPolicy({ claims: { [POINTER]: 'o-abc1234567' }, copyClaims: [POINTER] }));
    expect(config.policies[0]).toMatchObject({
      claims: { [POINTER]: 'o-abc1234567' },
      copyClaims: [POINTER],
    });
  });

  it.each([
    [{ claims: { '/a//b': 'x' } }, 'policies[0].claims./a//b'],
    [{ claims: { '/a~2': 'x' } }, 'policies[0].claims./a~2'],
    [{ copyClaims: ['/sub'] }, 'policies[0].copyClaims[0]'],
    [{ copyClaims: ['/https:~1~1aws.amazon.com~1tags/x'] }, 'policies[0].copyClaims[0]'],
    [{ copyClaims: ['/a/'] }, 'policies[0].copyClaims[0]'],
    [{ copyClaims: ['/x/__proto__'] }, 'policies[0].copyClaims[0]'],
    [{ copyClaims: ['x', '/x/y'] }, 'policies[0].copyClaims'],
  ])('refuses %j at %s', (policy, at) => {
    expect(problemsOf(withPolicy(policy)).some((problem) => problem.startsWith(`${at}:`))).toBe(true);
  });
});

describe('sessionTags (AWS tag rules at load)', () => {
  it('reads fixed and copied values and transitive keys', () => {
    const config = parseConfig(
      tags({
        principalTags: {
          Team: 'payments',
          Repo: { claim: 'repository' },
          'cost-center': 'cc/42 @eu+1=2:x_y.z',
        },
        transitiveTagKeys: ['Team'],
      }),
    );
    expect(config.policies[0]?.sessionTags).toEqual({
      principalTags: {
        Team: 'payments',
        Repo: { claim: 'repository' },
        'cost-center': 'cc/42 @eu+1=2:x_y.z',
      },
      transitiveTagKeys: ['Team'],
    });
  });

  it.each([
    ['no tag', { principalTags: {} }, 'policies[0].sessionTags.principalTags'],
    [
      'the aws: prefix',
      { principalTags: { 'AWS:team': 'x' } },
      'policies[0].sessionTags.principalTags.AWS:team',
    ],
    [
      'a key too long',
      { principalTags: { ['k'.repeat(129)]: 'x' } },
      `policies[0].sessionTags.principalTags.${'k'.repeat(129)}`,
    ],
    [
      'a value too long',
      { principalTags: { team: 'v'.repeat(257) } },
      'policies[0].sessionTags.principalTags.team',
    ],
    [
      'a character AWS refuses in a key',
      { principalTags: { 'team!': 'x' } },
      'policies[0].sessionTags.principalTags.team!',
    ],
    [
      'a character AWS refuses in a value',
      { principalTags: { team: 'a,b' } },
      'policies[0].sessionTags.principalTags.team',
    ],
    [
      'keys equal but for case',
      { principalTags: { Team: 'a', team: 'b' } },
      'policies[0].sessionTags.principalTags.team',
    ],
    [
      'a transitive key that is no tag',
      { principalTags: { team: 'a' }, transitiveTagKeys: ['env'] },
      'policies[0].sessionTags.transitiveTagKeys[0]',
    ],
    [
      'a transitive key twice',
      { principalTags: { team: 'a' }, transitiveTagKeys: ['team', 'Team'] },
      'policies[0].sessionTags.transitiveTagKeys[1]',
    ],
    [
      'a copied value from no claim path',
      { principalTags: { team: { claim: '/a//b' } } },
      'policies[0].sessionTags.principalTags.team.claim',
    ],
    [
      'more than 50 tags',
      { principalTags: Object.fromEntries(Array.from({ length: 51 }, (_, i) => [`k${i}`, 'v'])) },
      'policies[0].sessionTags.principalTags',
    ],
  ])('refuses %s', (_what, sessionTags, at) => {
    expect(problemsOf(tags(sessionTags)).some((problem) => problem.startsWith(`${at}:`))).toBe(true);
  });

  it('accepts an empty value and keys of letters in any script', () => {
    expect(() => parseConfig(tags({ principalTags: { équipe: '', チーム: 'ペイメント' } }))).not.toThrow();
  });
});
