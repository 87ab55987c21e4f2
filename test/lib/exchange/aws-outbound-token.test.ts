import { decodeJwt, decodeProtectedHeader } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Form } from '../../../lib/exchange/form.ts';
import { createTokenExchange, type TokenExchange } from '../../../lib/exchange/token-exchange.ts';
import { AWS_TAGS_CLAIM, TOKEN_EXCHANGE_GRANT, TOKEN_TYPE } from '../../../lib/shared/claims.ts';
import type { OAuthError } from '../../../lib/shared/errors.ts';
import { silentLogger } from '../../../lib/shared/log.ts';
import { MemoryStore } from '../../../lib/stores/memory.ts';
import { frozenClock } from '../../support/clock.ts';
import { buildConfig, STS_ISSUER } from '../../support/config.ts';
import { createFakeIssuer, type FakeIssuer } from '../../support/issuer.ts';
import { testSigner } from '../../support/keys.ts';

/**
 * AWS outbound identity tokens (STS GetWebIdentityToken) as subject tokens: ES384 where the
 * trusted issuer pins it, policies matching the facts AWS nests under `https://sts.amazonaws.com/`
 * by JSON Pointer, copying them, and minting AWS session tags in AWS's documented shape.
 */
const AWS_ISSUER = 'https://abc123-def456-ghi789-jkl012.tokens.sts.global.api.aws';
const NS = 'https://sts.amazonaws.com/';
const ORG = '/https:~1~1sts.amazonaws.com~1/org_id';
const ACCOUNT = '/https:~1~1sts.amazonaws.com~1/aws_account';
const TEAM = '/https:~1~1sts.amazonaws.com~1/principal_tags/team';
const DATA_API = 'https://data.acme.internal';
const ROLE = 'arn:aws:iam::123456789012:role/DataProcessingRole';

const form = (token: string, audience = DATA_API): Form =>
  new Map([
    ['grant_type', [TOKEN_EXCHANGE_GRANT]],
    ['subject_token', [token]],
    ['subject_token_type', [TOKEN_TYPE.jwt]],
    ['audience', [audience]],
  ]);

/** The AWS sample token's facts (IAM User Guide, "Understanding token claims"). */
const facts = (overrides: Record<string, unknown> = {}) => ({
  [NS]: {
    aws_account: '123456789012',
    source_region: 'us-east-1',
    org_id: 'o-abc1234567',
    ou_path: 'o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/ou-ab12-22222222/',
    principal_tags: { environment: 'production', team: 'data-engineering' },
    lambda_source_function_arn: 'arn:aws:lambda:us-east-1:123456789012:function:process-data',
    ...overrides,
  },
});

const clock = frozenClock();
let aws: FakeIssuer;
let rsa: FakeIssuer;
let exchange: TokenExchange;

beforeAll(async () => {
  [aws, rsa] = await Promise.all([
    createFakeIssuer({ clock, issuer: AWS_ISSUER, alg: 'ES384', audience: STS_ISSUER, subject: ROLE }),
    createFakeIssuer({ clock, issuer: 'https://rs.tokens.sts.global.api.aws', alg: 'RS256', subject: ROLE }),
  ]);
  const config = buildConfig({
    trustedIssuers: [
      { name: 'aws-outbound', issuer: AWS_ISSUER, algorithms: ['ES384'], jwksUri: aws.jwksUri },
    ],
    policies: [
      {
        name: 'org-data',
        issuer: 'aws-outbound',
        subject: 'arn:aws:iam::*:role/*',
        claims: { [ORG]: 'o-abc1234567', '/https:~1~1sts.amazonaws.com~1/ou_path': 'o-a1b2c3d4e5/r-ab12/*' },
        audiences: [DATA_API],
        copyClaims: [ACCOUNT, ORG],
        sessionTags: {
          principalTags: { Team: { claim: TEAM }, Account: { claim: ACCOUNT }, Source: 'serverless-sts' },
          transitiveTagKeys: ['Team'],
        },
      },
    ],
  });
  exchange = createTokenExchange({
    config,
    signer: await testSigner(),
    store: new MemoryStore(),
    clock,
    logger: silentLogger,
    fetch: aws.fetch.fetch,
  });
});

const reasonOf = (error: unknown) => (error as OAuthError).reason;

describe('AWS outbound identity tokens as subject tokens', () => {
  it('admits an ES384 token by its nested org and OU, copies nested facts, and mints session tags', async () => {
    const token = await aws.token(facts());
    expect(decodeProtectedHeader(token).alg).toBe('ES384');
    const answer = await exchange.exchange(form(token));
    const claims = decodeJwt(answer.access_token);
    expect(claims.sub).toBe(ROLE);
    expect(claims[NS]).toEqual({ aws_account: '123456789012', org_id: 'o-abc1234567' });
    // AWS's documented shape: principal_tags values are one-element string arrays, and
    // transitive_tag_keys lists keys of principal_tags.
    expect(claims[AWS_TAGS_CLAIM]).toEqual({
      principal_tags: { Team: ['data-engineering'], Account: ['123456789012'], Source: ['serverless-sts'] },
      transitive_tag_keys: ['Team'],
    });
  });

  it('refuses a token of another organization (nested condition)', async () => {
    const error = await exchange
      .exchange(form(await aws.token(facts({ org_id: 'o-other00000' }))))
      .catch((e) => e);
    expect((error as OAuthError).code).toBe('invalid_request');
    expect(reasonOf(error)).toBe('policy.refused');
  });

  it('refuses a token whose org_id sits at the top level instead of in the AWS namespace', async () => {
    const { [NS]: nested } = facts();
    const flat = await aws.token({ ...(nested as object), [NS]: { ou_path: 'o-a1b2c3d4e5/r-ab12/x' } });
    await expect(exchange.exchange(form(flat))).rejects.toMatchObject({ reason: 'policy.refused' });
  });

  it('refuses an RS256 token where only ES384 is configured', async () => {
    const token = await rsa.token({ iss: AWS_ISSUER, aud: STS_ISSUER, ...facts() });
    await expect(exchange.exchange(form(token))).rejects.toMatchObject({
      reason: 'subject_token.alg_not_allowed',
    });
  });

  it('refuses to mint when a copied session tag value is missing or breaks the AWS tag rules', async () => {
    const noTeam = await aws.token(facts({ principal_tags: { environment: 'production' } }));
    await expect(exchange.exchange(form(noTeam))).rejects.toMatchObject({
      code: 'invalid_request',
      reason: 'policy.session_tag_value',
    });
    const badTeam = await aws.token(facts({ principal_tags: { team: 'data;drop' } }));
    await expect(exchange.exchange(form(badTeam))).rejects.toMatchObject({
      reason: 'policy.session_tag_value',
    });
    const objectTeam = await aws.token(facts({ principal_tags: { team: { nested: 'x' } } }));
    await expect(exchange.exchange(form(objectTeam))).rejects.toMatchObject({
      reason: 'policy.session_tag_value',
    });
  });
});
