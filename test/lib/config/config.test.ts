import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  type ConfigError,
  type ConfigFile,
  configJsonSchema,
  loadConfigFile,
  parseConfig,
} from '../../../lib/config/config.ts';
import { isAllowedUrl } from '../../../lib/shared/urls.ts';
import { SCHEMA_PATH, schemaText } from '../../../scripts/write-schema.ts';
import { configFile, policyEntry, STS_ISSUER, trustedIssuerEntry } from '../../support/config.ts';
import designExample from '../../vectors/design-config.json' with { type: 'json' };

/** The ConfigError thrown for `fn` (fails the test otherwise). */
function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    expect((error as Error).name).toBe('ConfigError');
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

/** The field path each problem names (the text before the first ": "). */
const paths = (error: ConfigError) =>
  error.problems.map((problem) => problem.slice(0, problem.indexOf(': ')));

const GITHUB = 'https://token.actions.githubusercontent.com';
/** A config file with one trusted issuer "github" and one policy for it. */
const base = (overrides: Partial<ConfigFile> = {}): ConfigFile =>
  configFile({
    trustedIssuers: [trustedIssuerEntry('github', GITHUB)],
    policies: [policyEntry({ name: 'deploy', issuer: 'github', subject: 'repo:acme/app:*' })],
    ...overrides,
  });
const issuerWith = (overrides: Record<string, unknown>) => ({
  trustedIssuers: [{ name: 'github', issuer: GITHUB, ...overrides }],
});
const policyWith = (overrides: Record<string, unknown>) => ({
  policies: [
    { name: 'deploy', issuer: 'github', subject: 'x', audiences: ['https://api.test'], ...overrides },
  ],
});

describe('parseConfig', () => {
  it('parses the DESIGN.md example once its placeholder jwksUri (documented as optional) is left out', () => {
    const { jwksUri: _placeholder, ...github } = designExample.trustedIssuers[0]!;
    const config = parseConfig({ ...designExample, trustedIssuers: [github] });
    expect(config.issuer).toBe('https://sts.example.com');
    expect(config.tokenLifetime).toEqual({ default: 300, max: 900 });
    expect(config.trustedIssuers).toEqual([
      {
        name: 'github',
        issuer: GITHUB,
        audiences: ['https://sts.example.com'],
        algorithms: ['RS256'],
        jwksUri: undefined,
        oneTimeUse: true,
        maxTokenAge: 3600,
      },
    ]);
    expect(config.policies).toEqual([
      {
        name: 'deploy-prod',
        issuer: 'github',
        subject: 'repo:acme/app:environment:prod',
        claims: { repository_owner: 'acme' },
        actors: undefined,
        audiences: ['https://deploy.acme.internal'],
        scopes: ['deploy:write', 'deploy:read'],
        maxLifetime: 900,
        copyClaims: ['repository', 'run_id'],
        clientId: 'deploy-prod',
        requireDpop: false,
      },
    ]);
  });

  it('refuses the DESIGN.md example verbatim only for its placeholder jwksUri', () => {
    expect(paths(configError(() => parseConfig(designExample)))).toEqual(['trustedIssuers[0].jwksUri']);
  });

  it('fills defaults', () => {
    const config = parseConfig({
      issuer: STS_ISSUER,
      trustedIssuers: [{ name: 'github', issuer: GITHUB }],
      policies: [{ name: 'p', issuer: 'github', subject: 's', audiences: ['a'] }],
    });
    expect(config).toEqual({
      issuer: STS_ISSUER,
      tokenLifetime: { default: 300, max: 900 },
      clockSkew: 30,
      maxTokenBytes: 16_384,
      maxDelegationDepth: 3,
      dpop: { requireNonce: false, proofMaxAge: 60 },
      trustedIssuers: [
        {
          name: 'github',
          issuer: GITHUB,
          audiences: [STS_ISSUER],
          algorithms: ['RS256', 'ES256'],
          jwksUri: undefined,
          oneTimeUse: false,
          maxTokenAge: 3600,
        },
      ],
      awsIssuers: [],
      policies: [
        {
          name: 'p',
          issuer: 'github',
          subject: 's',
          claims: {},
          actors: undefined,
          audiences: ['a'],
          scopes: [],
          maxLifetime: undefined,
          copyClaims: [],
          clientId: 'p',
          requireDpop: false,
        },
      ],
    });
  });

  it('fills the other half of a partial tokenLifetime', () => {
    expect(parseConfig(base({ tokenLifetime: { default: '1m' } })).tokenLifetime).toEqual({
      default: 60,
      max: 900,
    });
    expect(parseConfig(base({ tokenLifetime: { max: '1h' } })).tokenLifetime).toEqual({
      default: 300,
      max: 3600,
    });
  });

  it('reads every field and converts durations to seconds', () => {
    const config = parseConfig({
      $schema: './schema/sts.config.schema.json',
      issuer: 'http://127.0.0.1:8787',
      tokenLifetime: { default: '2m', max: '1h' },
      clockSkew: '10s',
      maxTokenBytes: 4096,
      maxDelegationDepth: 1,
      trustedIssuers: [
        {
          name: 'okta',
          issuer: 'https://acme.okta.com/oauth2/default',
          audiences: ['api://sts'],
          algorithms: ['ES256', 'PS256'],
          jwksUri: 'https://acme.okta.com/oauth2/default/v1/keys',
          oneTimeUse: true,
        },
      ],
      policies: [
        {
          name: 'chained:ci',
          issuer: 'self',
          subject: '**',
          claims: { client_id: 'deploy' },
          actors: [{ issuer: 'okta', subject: 'svc-*', claims: { cid: 'x' } }],
          audiences: ['https://a', 'https://b'],
          scopes: ['read'],
          maxLifetime: '1d',
          copyClaims: ['email'],
          clientId: 'ci',
        },
      ],
    });
    expect(config.clockSkew).toBe(10);
    expect(config.tokenLifetime).toEqual({ default: 120, max: 3600 });
    expect(config.trustedIssuers[0]?.jwksUri).toBe('https://acme.okta.com/oauth2/default/v1/keys');
    expect(config.policies[0]).toMatchObject({
      maxLifetime: 86_400,
      clientId: 'ci',
      actors: [{ issuer: 'okta', subject: 'svc-*', claims: { cid: 'x' } }],
    });
  });

  it('returns a deeply frozen object', () => {
    const config = parseConfig(
      base({ policies: [policyEntry({ actors: [{ issuer: 'github', subject: '**' }] })] }),
    );
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.tokenLifetime)).toBe(true);
    expect(Object.isFrozen(config.trustedIssuers[0]?.audiences)).toBe(true);
    expect(Object.isFrozen(config.policies[0]?.actors?.[0]?.claims)).toBe(true);
  });

  it.each([
    ['http://127.0.0.1:8787'],
    ['http://localhost:3000/issuer'],
    ['http://[::1]:8080'],
    ['https://sts.example.com/'],
    ['https://sts.example.com/tenant/a'],
  ])('accepts the issuer %s', (issuer) => {
    expect(parseConfig(base({ issuer })).issuer).toBe(issuer);
  });

  // [what, config file, the one field path named]
  const refusals: ReadonlyArray<readonly [string, unknown, string]> = [
    ['not an object', null, '(root)'],
    ['an array', [], '(root)'],
    ['no issuer', { ...base(), issuer: undefined }, 'issuer'],
    ['an unknown top-level key', { ...base(), issuers: [] }, 'issuers'],
    [
      'an unknown tokenLifetime key',
      base({ tokenLifetime: { default: '5m', min: '1m' } as never }),
      'tokenLifetime.min',
    ],
    [
      'an unknown trusted issuer key',
      base(issuerWith({ jwks_uri: 'https://x' })),
      'trustedIssuers[0].jwks_uri',
    ],
    ['an unknown policy key', base(policyWith({ audience: 'x' })), 'policies[0].audience'],
    [
      'an unknown actor key',
      base(policyWith({ actors: [{ issuer: 'github', subject: '**', sub: 'x' }] })),
      'policies[0].actors[0].sub',
    ],
    ['a duration with a bad unit', base({ tokenLifetime: { default: '5x' } }), 'tokenLifetime.default'],
    ['a zero duration', base({ tokenLifetime: { max: '0m' } }), 'tokenLifetime.max'],
    ['an empty duration', base({ clockSkew: '' }), 'clockSkew'],
    ['a duration without unit', base({ clockSkew: '30' }), 'clockSkew'],
    ['a number as duration', base({ clockSkew: 30 as never }), 'clockSkew'],
    ['a bad maxLifetime', base(policyWith({ maxLifetime: '1w' })), 'policies[0].maxLifetime'],
    ['a max lifetime over a day', base({ tokenLifetime: { max: '2d' } }), 'tokenLifetime.max'],
    ['a clock skew over five minutes', base({ clockSkew: '6m' }), 'clockSkew'],
    ['copying __proto__', base(policyWith({ copyClaims: ['__proto__'] })), 'policies[0].copyClaims[0]'],
    [
      'a __proto__ claim condition (JSON.parse keeps it, the schema would drop it)',
      base(
        JSON.parse(
          '{"policies":[{"name":"p","issuer":"github","subject":"x","audiences":["a"],"claims":{"__proto__":"x"}}]}',
        ),
      ),
      'policies[0].claims.__proto__',
    ],
    [
      'an origin on a rule that is not for self',
      base(policyWith({ origin: 'github' })),
      'policies[0].origin',
    ],
    [
      'an origin that is no trusted issuer',
      base(policyWith({ issuer: 'self', origin: 'gitlab' })),
      'policies[0].origin',
    ],
    [
      'a rootPolicy on a rule that is not for self',
      base(policyWith({ rootPolicy: 'deploy' })),
      'policies[0].rootPolicy',
    ],
    [
      'a rootPolicy that is no policy',
      base(policyWith({ issuer: 'self', rootPolicy: 'nope' })),
      'policies[0].rootPolicy',
    ],
    ['a maxTokenAge over a week', base(issuerWith({ maxTokenAge: '8d' })), 'trustedIssuers[0].maxTokenAge'],
    ['a maxTokenAge without unit', base(issuerWith({ maxTokenAge: '60' })), 'trustedIssuers[0].maxTokenAge'],
    ['default above max', base({ tokenLifetime: { default: '20m', max: '15m' } }), 'tokenLifetime.default'],
    ['default above the default max', base({ tokenLifetime: { default: '1h' } }), 'tokenLifetime.default'],
    ['an http issuer', base({ issuer: 'http://sts.example.com' }), 'issuer'],
    ['http on another loopback address', base({ issuer: 'http://127.0.0.2' }), 'issuer'],
    ['http on a name starting with localhost', base({ issuer: 'http://localhost.example.com' }), 'issuer'],
    ['a relative issuer', base({ issuer: 'sts.example.com' }), 'issuer'],
    ['an issuer with a user', base({ issuer: 'https://admin@sts.example.com' }), 'issuer'],
    ['an issuer with credentials', base({ issuer: 'https://user:pass@sts.example.com' }), 'issuer'],
    ['an issuer with a fragment', base({ issuer: 'https://sts.example.com/#a' }), 'issuer'],
    [
      'an ftp trusted issuer',
      base(issuerWith({ issuer: 'ftp://issuer.example.com' })),
      'trustedIssuers[0].issuer',
    ],
    [
      'an http jwksUri',
      base(issuerWith({ jwksUri: 'http://keys.example.com/jwks' })),
      'trustedIssuers[0].jwksUri',
    ],
    [
      'a jwksUri with credentials',
      base(issuerWith({ jwksUri: 'https://u:p@keys.example.com/jwks' })),
      'trustedIssuers[0].jwksUri',
    ],
    ['a trusted issuer named self', base(issuerWith({ name: 'self' })), 'trustedIssuers[0].name'],
    ['a trusted issuer name with a space', base(issuerWith({ name: 'git hub' })), 'trustedIssuers[0].name'],
    [
      'a trusted issuer that is this service',
      base(issuerWith({ issuer: STS_ISSUER })),
      'trustedIssuers[0].issuer',
    ],
    ['no algorithm', base(issuerWith({ algorithms: [] })), 'trustedIssuers[0].algorithms'],
    ['a symmetric algorithm', base(issuerWith({ algorithms: ['HS256'] })), 'trustedIssuers[0].algorithms[0]'],
    ['alg none', base(issuerWith({ algorithms: ['RS256', 'none'] })), 'trustedIssuers[0].algorithms[1]'],
    ['empty trusted audiences', base(issuerWith({ audiences: [] })), 'trustedIssuers[0].audiences'],
    ['a non-boolean oneTimeUse', base(issuerWith({ oneTimeUse: 'yes' })), 'trustedIssuers[0].oneTimeUse'],
    [
      'a duplicate trusted issuer name',
      base({
        trustedIssuers: [
          trustedIssuerEntry('github', GITHUB),
          trustedIssuerEntry('github', 'https://b.test'),
        ],
      }),
      'trustedIssuers[1].name',
    ],
    [
      'the same issuer URL twice',
      base({ trustedIssuers: [trustedIssuerEntry('github', GITHUB), trustedIssuerEntry('gh2', GITHUB)] }),
      'trustedIssuers[1].issuer',
    ],
    ['no policies', base({ policies: [] }), 'policies'],
    ['missing policies', { ...base(), policies: undefined }, 'policies'],
    ['a policy for an unknown issuer', base(policyWith({ issuer: 'gitlab' })), 'policies[0].issuer'],
    ['a policy for an issuer URL', base(policyWith({ issuer: GITHUB })), 'policies[0].issuer'],
    [
      'an actor of an unknown issuer',
      base(policyWith({ actors: [{ issuer: 'gitlab', subject: '**' }] })),
      'policies[0].actors[0].issuer',
    ],
    [
      'a duplicate policy name',
      base({ policies: [policyEntry({ issuer: 'github' }), policyEntry({ issuer: 'self' })] }),
      'policies[1].name',
    ],
    ['a policy name with a space', base(policyWith({ name: 'deploy prod' })), 'policies[0].name'],
    ['an empty subject', base(policyWith({ subject: '' })), 'policies[0].subject'],
    [
      'a non-string claim condition',
      base(policyWith({ claims: { run_id: 1 } })),
      'policies[0].claims.run_id',
    ],
    ['no audiences', base(policyWith({ audiences: [] })), 'policies[0].audiences'],
    ['an empty audience', base(policyWith({ audiences: [''] })), 'policies[0].audiences[0]'],
    ['a scope with a space', base(policyWith({ scopes: ['deploy write'] })), 'policies[0].scopes[0]'],
    ['an empty scope', base(policyWith({ scopes: ['read', ''] })), 'policies[0].scopes[1]'],
    ['a scope with a quote', base(policyWith({ scopes: ['a"b'] })), 'policies[0].scopes[0]'],
    ['copying sub', base(policyWith({ copyClaims: ['sub'] })), 'policies[0].copyClaims[0]'],
    ['copying act', base(policyWith({ copyClaims: ['repository', 'act'] })), 'policies[0].copyClaims[1]'],
    ['copying scope', base(policyWith({ copyClaims: ['scope'] })), 'policies[0].copyClaims[0]'],
    ['copying iss', base(policyWith({ copyClaims: ['iss'] })), 'policies[0].copyClaims[0]'],
    ['copying client_id', base(policyWith({ copyClaims: ['client_id'] })), 'policies[0].copyClaims[0]'],
    ['copying cnf', base(policyWith({ copyClaims: ['cnf'] })), 'policies[0].copyClaims[0]'],
    ['an empty clientId', base(policyWith({ clientId: '' })), 'policies[0].clientId'],
    ['a tiny maxTokenBytes', base({ maxTokenBytes: 100 }), 'maxTokenBytes'],
    ['a zero maxDelegationDepth', base({ maxDelegationDepth: 0 }), 'maxDelegationDepth'],
    ['a fractional maxDelegationDepth', base({ maxDelegationDepth: 1.5 }), 'maxDelegationDepth'],
  ];

  it.each(refusals)('refuses %s, naming the field', (_what, file, path) => {
    const error = configError(() => parseConfig(file, 'sts.config.json'));
    expect(error.source).toBe('sts.config.json');
    expect(paths(error)).toEqual([path]);
  });

  it("reports a policy's unknown issuer along with the fields' own problems, in one run", () => {
    const file = base({
      policies: [
        policyEntry({ name: 'a', issuer: 'githib', maxLifetime: '5 minutes' }),
        policyEntry({ name: 'b', issuer: 'github', actors: [{ issuer: 'idp', subject: '*' }] }),
      ],
    });
    expect(paths(configError(() => parseConfig(file)))).toEqual([
      'policies[0].maxLifetime',
      'policies[0].issuer',
      'policies[1].actors[0].issuer',
    ]);
  });

  it('names every unknown key of one object', () => {
    expect(paths(configError(() => parseConfig({ ...base(), a: 1, b: 2 })))).toEqual(['a', 'b']);
  });

  it('reports every problem at once', () => {
    const file = base({
      clockSkew: '5x',
      trustedIssuers: [trustedIssuerEntry('self', 'http://issuer.example.com')],
      policies: [policyEntry({ scopes: ['a b'], copyClaims: ['sub'] })],
    });
    expect(paths(configError(() => parseConfig(file))).sort()).toEqual([
      'clockSkew',
      'policies[0].copyClaims[0]',
      'policies[0].scopes[0]',
      'trustedIssuers[0].issuer',
      'trustedIssuers[0].name',
    ]);
  });
});

describe('isAllowedUrl', () => {
  it.each([
    ['https://a.example', true],
    ['https://a.example:8443/x?y=1', true],
    ['http://127.0.0.1', true],
    ['http://LOCALHOST:1', true],
    ['http://[::1]/', true],
    ['http://[0:0:0:0:0:0:0:1]/', true],
    ['http://a.example', false],
    ['http://[::2]', false],
    ['ws://127.0.0.1', false],
    ['file:///etc/passwd', false],
    ['https://u@a.example', false],
    ['https://a.example#x', false],
    ['not a url', false],
    ['', false],
  ])('%s: %s', (url, allowed) => {
    expect(isAllowedUrl(url)).toBe(allowed);
  });
});

describe('loadConfigFile', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sts-config-'));
  const write = (name: string, text: string) => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  it('loads a valid file', () => {
    const path = write('ok.json', JSON.stringify(base()));
    expect(loadConfigFile(path).policies[0]?.name).toBe('deploy');
  });

  it('refuses a missing file, naming it', () => {
    const path = join(dir, 'missing.json');
    const error = configError(() => loadConfigFile(path));
    expect(error.source).toBe(path);
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]).toContain('ENOENT');
  });

  it.each([
    ['empty', ''],
    ['truncated', '{"issuer": "https://sts.test",'],
    ['with comments', '// config\n{}'],
  ])('refuses a file that is not JSON (%s), naming it', (_what, text) => {
    const path = write('bad.json', text);
    const error = configError(() => loadConfigFile(path));
    expect(error.source).toBe(path);
    expect(error.problems).toHaveLength(1);
  });

  it.each([
    [
      'a policy subject given twice (JSON.parse would keep the wildcard)',
      (text: string) => text.replace('"subject":', '"subject":"*","subject":'),
      'policies[0].subject: the key "subject" appears twice',
    ],
    [
      'a top-level key given twice',
      (text: string) => text.replace(/^\{/, '{"clockSkew":"30s","clockSkew":"1h",'),
      'clockSkew: the key "clockSkew" appears twice',
    ],
    [
      'a claim condition given twice',
      (text: string) =>
        text.replace('"subject":', '"claims":{"repository_owner":"acme","repository_owner":"*"},"subject":'),
      'policies[0].claims.repository_owner: the key "repository_owner" appears twice',
    ],
    [
      'a __proto__ key',
      (text: string) => text.replace(/^\{/, '{"__proto__":{"policies":[]},'),
      '__proto__: the key "__proto__" is not allowed',
    ],
    [
      'a constructor key deep inside',
      (text: string) => text.replace('"subject":', '"claims":{"constructor":"x"},"subject":'),
      'policies[0].claims.constructor: the key "constructor" is not allowed',
    ],
  ])('refuses %s, naming its path', (_what, edit, problem) => {
    const text = edit(JSON.stringify(base()));
    expect(text).not.toBe(JSON.stringify(base()));
    const path = write('dup.json', text);
    const error = configError(() => loadConfigFile(path));
    expect(error.source).toBe(path);
    expect(error.problems).toEqual([expect.stringContaining(problem)]);
  });

  it('refuses an invalid config, naming the file and the fields', () => {
    const path = write('invalid.json', JSON.stringify({ ...base(), clockSkew: '0s' }));
    const error = configError(() => loadConfigFile(path));
    expect(error.source).toBe(path);
    expect(paths(error)).toEqual(['clockSkew']);
    expect(error.message).toContain(path);
  });
});

describe('configJsonSchema', () => {
  const schema = configJsonSchema() as {
    $schema: string;
    $id: string;
    type: string;
    required: string[];
    additionalProperties: boolean;
    properties: Record<string, unknown>;
  };

  it('is a draft 2020-12 JSON Schema of a closed object', () => {
    expect(schema.$schema).toBe('https://json-schema.org/draft/2020-12/schema');
    expect(schema.$id).toMatch(/sts\.config\.schema\.json$/);
    expect(schema.type).toBe('object');
    expect(schema.additionalProperties).toBe(false);
    expect(schema.required.sort()).toEqual(['issuer', 'policies']);
    expect(Object.keys(schema.properties).sort()).toEqual([
      '$schema',
      'clockSkew',
      'dpop',
      'issuer',
      'maxDelegationDepth',
      'maxTokenBytes',
      'policies',
      'tokenLifetime',
      'trustedIssuers',
    ]);
  });

  it('is JSON', () => {
    expect(JSON.parse(JSON.stringify(schema))).toEqual(schema);
  });

  it('matches the committed schema/sts.config.schema.json (run `npm run schema` when this fails)', () => {
    expect(readFileSync(SCHEMA_PATH, 'utf8')).toBe(schemaText());
  });
});
