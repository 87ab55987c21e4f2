import { describe, expect, expectTypeOf, it } from 'vitest';
import type * as z from 'zod';
import {
  type AwsIssuerConfig,
  type Config,
  type ConfigFile,
  configSchema,
  type Matcher,
  type PolicyConfig,
  parseConfig,
  type SessionTagsConfig,
  type TrustedIssuerConfig,
} from '../../../lib/config/config.ts';
import type { DeepReadonly } from '../../../lib/config/config-schema.ts';
import type { VerifyAlgorithm } from '../../../lib/shared/claims.ts';
import { configFile, policyEntry, STS_ISSUER } from '../../support/config.ts';

// The config types are the schema's output (lib/config/config-schema.ts), not a restatement: the
// type assertions below are checked by tsc (`npm run check`) and pin the normalized shape the
// service relies on (durations in seconds, defaults filled, AWS issuers apart), so a schema change
// that alters it fails here as well as in the code that reads it.

/** A file that sets every field the schema knows, so the comparison below covers them all. */
const everyField: ConfigFile = configFile({
  $schema: './node_modules/serverless-sts/schema/sts.config.schema.json',
  tokenLifetime: { default: '2m', max: '10m' },
  clockSkew: '45s',
  maxTokenBytes: 8192,
  maxDelegationDepth: 2,
  dpop: { requireNonce: true, proofMaxAge: '90s' },
  trustedIssuers: [
    {
      name: 'github',
      type: 'jwt',
      issuer: 'https://token.actions.githubusercontent.com',
      audiences: ['https://sts.test/github'],
      algorithms: ['RS256'],
      jwksUri: 'https://token.actions.githubusercontent.com/.well-known/jwks',
      oneTimeUse: true,
      maxTokenAge: '10m',
    },
    { name: 'idp', issuer: 'https://idp.test' },
    {
      name: 'aws',
      type: 'aws',
      accounts: ['111122223333'],
      regions: ['eu-west-1'],
      globalEndpoint: false,
      maxRequestAge: '2m',
    },
  ],
  policies: [
    policyEntry({
      name: 'deploy',
      issuer: 'github',
      subject: 'repo:acme/app:*',
      claims: { repository_owner: 'acme' },
      actors: [{ issuer: 'idp', subject: 'service:*', claims: { team: 'ops' } }],
      scopes: ['deploy'],
      maxLifetime: '5m',
      copyClaims: ['repository'],
      clientId: 'deployer',
      sessionTags: {
        principalTags: { repo: { claim: 'repository' }, env: 'prod' },
        transitiveTagKeys: ['env'],
      },
      requireDpop: true,
    }),
    policyEntry({ name: 'chained', issuer: 'self', origin: 'github', rootPolicy: 'deploy' }),
  ],
});

describe('the config schema', () => {
  it("is what the loader returns: the loader adds checks and freezing, never a field's value", () => {
    const config = parseConfig(everyField);
    expect(config).toEqual(configSchema.parse(everyField));
    expect(config).toEqual({
      issuer: STS_ISSUER,
      tokenLifetime: { default: 120, max: 600 },
      clockSkew: 45,
      maxTokenBytes: 8192,
      maxDelegationDepth: 2,
      dpop: { requireNonce: true, proofMaxAge: 90 },
      trustedIssuers: [
        {
          name: 'github',
          issuer: 'https://token.actions.githubusercontent.com',
          audiences: ['https://sts.test/github'],
          algorithms: ['RS256'],
          jwksUri: 'https://token.actions.githubusercontent.com/.well-known/jwks',
          oneTimeUse: true,
          maxTokenAge: 600,
        },
        {
          name: 'idp',
          issuer: 'https://idp.test',
          audiences: [STS_ISSUER],
          algorithms: ['RS256', 'ES256'],
          oneTimeUse: false,
          maxTokenAge: 3600,
        },
      ],
      awsIssuers: [
        {
          name: 'aws',
          type: 'aws',
          accounts: ['111122223333'],
          regions: ['eu-west-1'],
          globalEndpoint: false,
          maxRequestAge: 120,
        },
      ],
      policies: [
        {
          name: 'deploy',
          issuer: 'github',
          subject: 'repo:acme/app:*',
          claims: { repository_owner: 'acme' },
          actors: [{ issuer: 'idp', subject: 'service:*', claims: { team: 'ops' } }],
          audiences: ['https://api.test'],
          scopes: ['deploy'],
          maxLifetime: 300,
          copyClaims: ['repository'],
          clientId: 'deployer',
          sessionTags: {
            principalTags: { repo: { claim: 'repository' }, env: 'prod' },
            transitiveTagKeys: ['env'],
          },
          requireDpop: true,
        },
        {
          name: 'chained',
          issuer: 'self',
          subject: '**',
          claims: {},
          origin: 'github',
          rootPolicy: 'deploy',
          audiences: ['https://api.test'],
          scopes: [],
          copyClaims: [],
          clientId: 'chained',
          requireDpop: false,
        },
      ],
    });
  });

  it('keeps out of the config what only the file has: $schema, a JWT issuer\'s "type"', () => {
    const config = parseConfig(everyField);
    expect(config).not.toHaveProperty('$schema');
    expect(config.trustedIssuers[0]).not.toHaveProperty('type');
    expect(config.awsIssuers[0]).not.toHaveProperty('organizations');
  });
});

describe('the config types', () => {
  it('are the schema output, read-only', () => {
    expectTypeOf<Config>().toEqualTypeOf<DeepReadonly<z.output<typeof configSchema>>>();
    expectTypeOf(parseConfig).returns.toEqualTypeOf<Config>();
    expectTypeOf<Config['policies'][number]>().toEqualTypeOf<PolicyConfig>();
    expectTypeOf<PolicyConfig>().toExtend<Matcher>();
    const config = parseConfig(everyField);
    expect(() => {
      // @ts-expect-error the config is frozen, and its type says so
      config.clockSkew = 1;
    }).toThrow(TypeError);
    expect(() => {
      // @ts-expect-error arrays too
      config.policies[0]?.audiences.push('https://other.test');
    }).toThrow(TypeError);
  });

  it('hold durations in seconds where the file has duration strings', () => {
    expectTypeOf<NonNullable<ConfigFile['clockSkew']>>().toEqualTypeOf<string>();
    expectTypeOf<Config['clockSkew']>().toEqualTypeOf<number>();
    expectTypeOf<Config['tokenLifetime']>().toEqualTypeOf<{
      readonly default: number;
      readonly max: number;
    }>();
    expectTypeOf<Config['dpop']>().toEqualTypeOf<{
      readonly requireNonce: boolean;
      readonly proofMaxAge: number;
    }>();
    expectTypeOf<TrustedIssuerConfig['maxTokenAge']>().toEqualTypeOf<number>();
    expectTypeOf<AwsIssuerConfig['maxRequestAge']>().toEqualTypeOf<number>();
    expectTypeOf<PolicyConfig['maxLifetime']>().toEqualTypeOf<number | undefined>();
    expect(parseConfig(everyField).policies[0]?.maxLifetime).toBe(300);
  });

  it('have the defaults filled in and the AWS issuers apart', () => {
    expectTypeOf<TrustedIssuerConfig['audiences']>().toEqualTypeOf<readonly string[]>();
    expectTypeOf<TrustedIssuerConfig['algorithms']>().toEqualTypeOf<readonly VerifyAlgorithm[]>();
    expectTypeOf<TrustedIssuerConfig['jwksUri']>().toEqualTypeOf<string | undefined>();
    expectTypeOf<TrustedIssuerConfig>().not.toHaveProperty('type');
    expectTypeOf<AwsIssuerConfig['type']>().toEqualTypeOf<'aws'>();
    expectTypeOf<AwsIssuerConfig>().not.toHaveProperty('organizations');
    expectTypeOf<AwsIssuerConfig['regions']>().toEqualTypeOf<readonly string[] | undefined>();
    expectTypeOf<Config>().not.toHaveProperty('$schema');
    expectTypeOf<PolicyConfig['clientId']>().toEqualTypeOf<string>();
    expectTypeOf<PolicyConfig['scopes']>().toEqualTypeOf<readonly string[]>();
    expectTypeOf<PolicyConfig['claims']>().toEqualTypeOf<{ readonly [name: string]: string }>();
    expectTypeOf<Matcher['origin']>().toEqualTypeOf<string | undefined>();
    expectTypeOf<SessionTagsConfig['transitiveTagKeys']>().toEqualTypeOf<readonly string[]>();
    expectTypeOf<SessionTagsConfig['principalTags'][string]>().toEqualTypeOf<
      string | { readonly claim: string }
    >();
    const config = parseConfig(configFile());
    expect(config.awsIssuers).toEqual([]);
    expect(config.policies[0]?.clientId).toBe('test');
  });
});
