// The policy file (`sts.config.json`): its schema, its loader, and the typed frozen object the
// rest of the service receives. Validation is loud: every problem names the field.

import { readFileSync } from 'node:fs';
// A namespace import lets esbuild drop what config does not use (zod's 45 locales: 260 KiB of bundle).
import * as z from 'zod';
import {
  claimPathProblem,
  isReservedClaimPath,
  overlappingPaths,
  PROTOTYPE_KEYS,
} from '../policy/claim-path.ts';
import { RESERVED_CLAIMS, SELF_ISSUER, VERIFY_ALGORITHMS, type VerifyAlgorithm } from '../shared/claims.ts';
import { DURATION_HINT, DURATION_PATTERN, parseDuration } from '../shared/duration.ts';
import { JsonKeyError, parseStrictJson } from '../shared/strict-json.ts';
import { isAllowedUrl } from '../shared/urls.ts';
import { awsIssuerSchema, sessionTagProblems, sessionTagsSchema } from './aws-config.ts';
import { ConfigError } from './config-error.ts';

export { ConfigError };

const duration = z.string().regex(DURATION_PATTERN, `expected ${DURATION_HINT}`);
const nonEmpty = z.string().min(1);
const scopeToken = z
  .string()
  .regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/, 'expected an RFC 6749 scope token (no spaces)');
/** Upper bounds, in seconds: a skew or lifetime beyond them is a typo, not a policy. */
const MAX_TOKEN_LIFETIME = 86_400;
const MAX_TOKEN_AGE = 7 * 86_400;
/** Default `maxTokenAge` of a trusted issuer: the common IdP access-token lifetime. */
export const DEFAULT_MAX_TOKEN_AGE = '1h';
const MAX_CLOCK_SKEW = 300;

/** A claim name or JSON Pointer (lib/policy/claim-path.ts) a policy copies into minted tokens. */
const claimName = z
  .string()
  .min(1)
  .refine((name) => !RESERVED_CLAIMS.has(name) && !isReservedClaimPath(name), {
    message: 'is a reserved claim the service sets itself and cannot be copied',
  })
  .refine((name) => claimPathProblem(name) === undefined, {
    message: 'is not a claim name or a JSON Pointer (RFC 6901) with non-empty segments',
  });
const issuerName = z
  .string()
  .regex(/^[A-Za-z0-9_.-]+$/, 'expected letters, digits, ".", "_" or "-"')
  .refine((name) => name !== SELF_ISSUER, { message: '"self" is reserved for this service' });

const serviceUrl = z.string().refine(isAllowedUrl, {
  message:
    'expected an https URL (http only on 127.0.0.1, localhost or [::1]) without credentials or fragment',
});

const matcherShape = {
  subject: nonEmpty.describe('Exact subject, or a glob when it contains * (anchored at both ends).'),
  claims: z
    .record(z.string(), z.string())
    .optional()
    .describe(
      'Claim conditions: exact string, or glob when it contains *. A name starting with "/" is a JSON Pointer (RFC 6901) into nested claims.',
    ),
  origin: nonEmpty
    .optional()
    .describe('With issuer "self" only: the trusted issuer the chain of exchanges started from.'),
  rootPolicy: nonEmpty
    .optional()
    .describe('With issuer "self" only: the policy that minted the first token of the chain.'),
};

export const configSchema = z
  .object({
    $schema: z.string().optional(),
    issuer: serviceUrl.describe("This service's issuer URL: the `iss` of every token it mints."),
    tokenLifetime: z
      .object({ default: duration.default('5m'), max: duration.default('15m') })
      .strict()
      .default({ default: '5m', max: '15m' }),
    clockSkew: duration.default('30s').describe('Tolerance for exp, nbf and iat of presented tokens.'),
    maxTokenBytes: z.number().int().min(512).max(65_536).default(16_384),
    maxDelegationDepth: z.number().int().min(1).max(10).default(3),
    dpop: z
      .object({
        requireNonce: z
          .boolean()
          .default(false)
          .describe('Proofs must carry a server nonce (RFC 9449 §8); needs STS_DPOP_NONCE_SECRET.'),
        proofMaxAge: duration.default('60s').describe('How long after its iat a DPoP proof is accepted.'),
      })
      .strict()
      .default({ requireNonce: false, proofMaxAge: '60s' })
      .describe('DPoP proofs at the token endpoint (RFC 9449).'),
    trustedIssuers: z
      .array(
        z.discriminatedUnion('type', [
          z
            .object({
              name: issuerName,
              type: z.literal('jwt').optional().describe('"jwt" (default): an OIDC/JWT issuer.'),
              issuer: serviceUrl,
              audiences: z
                .array(nonEmpty)
                .min(1)
                .optional()
                .describe("Accepted `aud` values; default: this service's issuer."),
              algorithms: z.array(z.enum(VERIFY_ALGORITHMS)).min(1).default(['RS256', 'ES256']),
              jwksUri: serviceUrl
                .optional()
                .describe("Otherwise taken from the issuer's discovery document."),
              oneTimeUse: z.boolean().default(false),
              maxTokenAge: duration
                .default(DEFAULT_MAX_TOKEN_AGE)
                .describe(
                  'The longest life of its tokens: one without iat is refused when it would outlive this, and, after its subject is revoked, until revokedBefore plus this.',
                ),
            })
            .strict(),
          awsIssuerSchema.extend({ name: issuerName }),
        ]),
      )
      .default([]),
    policies: z
      .array(
        z
          .object({
            name: z.string().regex(/^[A-Za-z0-9_.:-]+$/, 'expected letters, digits, ".", "_", ":" or "-"'),
            issuer: nonEmpty.describe('A trusted issuer name, or "self" for tokens this service minted.'),
            ...matcherShape,
            actors: z
              .array(z.object({ issuer: nonEmpty, ...matcherShape }).strict())
              .optional()
              .describe('Who may act for these subjects (delegation through actor_token).'),
            audiences: z.array(nonEmpty).min(1),
            scopes: z.array(scopeToken).default([]),
            maxLifetime: duration.optional(),
            copyClaims: z.array(claimName).default([]),
            clientId: nonEmpty.optional().describe('The client_id claim; default: the policy name.'),
            sessionTags: sessionTagsSchema
              .optional()
              .describe(
                'AWS session tags for AssumeRoleWithWebIdentity (the https://aws.amazon.com/tags claim).',
              ),
            requireDpop: z
              .boolean()
              .default(false)
              .describe('Issue only DPoP-bound tokens: a request without a DPoP proof is refused.'),
          })
          .strict(),
      )
      .min(1),
  })
  .strict();

export type ConfigFile = z.input<typeof configSchema>;

export interface Matcher {
  readonly subject: string;
  readonly claims: Readonly<Record<string, string>>;
  /** For `self` tokens: the trusted issuer that first vouched for the subject. */
  readonly origin: string | undefined;
  /** For `self` tokens: the policy that minted the first token of the chain. */
  readonly rootPolicy: string | undefined;
}
export interface ActorRule extends Matcher {
  readonly issuer: string;
}
export interface SessionTagsConfig {
  /** Tag key -> fixed value, or the claim (name or JSON Pointer) of the subject token to copy. */
  readonly principalTags: Readonly<Record<string, string | { readonly claim: string }>>;
  readonly transitiveTagKeys: readonly string[];
}
export interface PolicyConfig extends Matcher {
  readonly name: string;
  readonly issuer: string;
  readonly actors: readonly ActorRule[] | undefined;
  readonly audiences: readonly string[];
  readonly scopes: readonly string[];
  readonly maxLifetime: number | undefined;
  readonly copyClaims: readonly string[];
  readonly clientId: string;
  /** Only DPoP-bound tokens are issued under this policy. */
  readonly requireDpop: boolean;
  readonly sessionTags: SessionTagsConfig | undefined;
}
/** A trusted issuer of `"type": "aws"`: IAM callers with a signed GetCallerIdentity request. */
export interface AwsIssuerConfig {
  readonly name: string;
  readonly type: 'aws';
  readonly accounts: readonly string[];
  /** Regional STS endpoints accepted; undefined: any region. */
  readonly regions: readonly string[] | undefined;
  readonly globalEndpoint: boolean;
  /** Seconds a signed request stays acceptable after its X-Amz-Date. */
  readonly maxRequestAge: number;
}
export interface TrustedIssuerConfig {
  readonly name: string;
  readonly issuer: string;
  readonly audiences: readonly string[];
  readonly algorithms: readonly VerifyAlgorithm[];
  readonly jwksUri: string | undefined;
  readonly oneTimeUse: boolean;
  /** Seconds: the longest life this issuer's tokens may have (bounds tokens without `iat`). */
  readonly maxTokenAge: number;
}
export interface Config {
  readonly issuer: string;
  /** Seconds. */
  readonly tokenLifetime: { readonly default: number; readonly max: number };
  /** Seconds. */
  readonly clockSkew: number;
  readonly maxTokenBytes: number;
  readonly maxDelegationDepth: number;
  /** DPoP proofs at the token endpoint; `proofMaxAge` in seconds. */
  readonly dpop: { readonly requireNonce: boolean; readonly proofMaxAge: number };
  readonly trustedIssuers: readonly TrustedIssuerConfig[];
  /** The `"type": "aws"` entries of the file's `trustedIssuers`. */
  readonly awsIssuers: readonly AwsIssuerConfig[];
  readonly policies: readonly PolicyConfig[];
}

/** A configuration problem, found at start-up or at `cdk synth`; the message names the field. */
function fieldPath(path: readonly PropertyKey[]): string {
  return (
    path.reduce<string>(
      (text, key) =>
        typeof key === 'number' ? `${text}[${key}]` : text ? `${text}.${String(key)}` : String(key),
      '',
    ) || '(root)'
  );
}

function seconds(text: string): number {
  return parseDuration(text)!;
}

const deepFreeze = <T>(value: T): T => {
  if (value && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
};

/** Validates a parsed config object and returns the frozen typed config. */
export function parseConfig(raw: unknown, source = 'sts.config.json'): Config {
  const parsed = configSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(
      source,
      parsed.error.issues.flatMap((issue) =>
        issue.code === 'unrecognized_keys'
          ? issue.keys.map((key) => `${fieldPath([...issue.path, key])}: unknown key`)
          : [`${fieldPath(issue.path)}: ${issue.message}`],
      ),
    );
  }
  const file = parsed.data;
  const problems: string[] = [];
  const issuerNames = new Set<string>();
  const issuerUrls = new Set<string>();
  file.trustedIssuers.forEach((trusted, index) => {
    if (issuerNames.has(trusted.name))
      problems.push(`trustedIssuers[${index}].name: duplicate name "${trusted.name}"`);
    issuerNames.add(trusted.name);
    if (trusted.type === 'aws') {
      if (trusted.organizations !== undefined)
        problems.push(
          `trustedIssuers[${index}].organizations: GetCallerIdentity does not tell an account's organization, so it cannot be checked; list the accounts, or trust the organization's outbound identity tokens (claim "/https:~1~1sts.amazonaws.com~1/org_id")`,
        );
      const age = seconds(trusted.maxRequestAge);
      if (age < 1 || age > 900) problems.push(`trustedIssuers[${index}].maxRequestAge: between 1s and 15m`);
      return;
    }
    // Tokens are matched to a trusted issuer by exact `iss`: a second entry would be unreachable.
    if (issuerUrls.has(trusted.issuer))
      problems.push(`trustedIssuers[${index}].issuer: duplicate issuer "${trusted.issuer}"`);
    issuerUrls.add(trusted.issuer);
    if (trusted.issuer === file.issuer)
      problems.push(`trustedIssuers[${index}].issuer: this service's own issuer is trusted as "self"`);
    if (seconds(trusted.maxTokenAge) > MAX_TOKEN_AGE)
      problems.push(`trustedIssuers[${index}].maxTokenAge: must not exceed 7d`);
  });
  const knownIssuer = (name: string) => name === SELF_ISSUER || issuerNames.has(name);
  const policyNames = new Set<string>();
  const tokenLifetime = {
    default: seconds(file.tokenLifetime.default),
    max: seconds(file.tokenLifetime.max),
  };
  if (tokenLifetime.default > tokenLifetime.max)
    problems.push('tokenLifetime.default: must not exceed tokenLifetime.max');
  if (tokenLifetime.max > MAX_TOKEN_LIFETIME)
    problems.push('tokenLifetime.max: must not exceed 1d (tokens of this service live minutes)');
  if (seconds(file.clockSkew) > MAX_CLOCK_SKEW) problems.push('clockSkew: must not exceed 5m');
  if (seconds(file.dpop.proofMaxAge) > MAX_CLOCK_SKEW) problems.push('dpop.proofMaxAge: must not exceed 5m');
  const checkMatcher = (
    at: string,
    matcher: { issuer: string; origin?: string | undefined; rootPolicy?: string | undefined },
    rawClaims: unknown,
  ) => {
    if (matcher.rootPolicy !== undefined && matcher.issuer !== SELF_ISSUER)
      problems.push(`${at}.rootPolicy: only a rule with issuer "self" has a rootPolicy`);
    if (matcher.rootPolicy !== undefined && !file.policies.some((p) => p.name === matcher.rootPolicy))
      problems.push(`${at}.rootPolicy: "${matcher.rootPolicy}" is not a policy name`);
    if (!knownIssuer(matcher.issuer))
      problems.push(`${at}.issuer: "${matcher.issuer}" is neither a trustedIssuers name nor "self"`);
    if (matcher.origin !== undefined && matcher.issuer !== SELF_ISSUER)
      problems.push(`${at}.origin: only a rule with issuer "self" has an origin`);
    if (matcher.origin !== undefined && !issuerNames.has(matcher.origin))
      problems.push(`${at}.origin: "${matcher.origin}" is not a trustedIssuers name`);
    // JSON.parse keeps "__proto__" as a key, but the schema's record drops it silently: refuse it here.
    if (rawClaims && typeof rawClaims === 'object') {
      for (const key of Object.keys(rawClaims)) {
        const problem = PROTOTYPE_KEYS.has(key) ? 'is not a claim name' : claimPathProblem(key);
        if (problem) problems.push(`${at}.claims.${key}: ${problem}`);
      }
    }
  };
  const rawPolicies = (
    raw as { policies?: Array<{ claims?: unknown; actors?: Array<{ claims?: unknown }> }> }
  ).policies;
  file.policies.forEach((policy, index) => {
    const at = `policies[${index}]`;
    if (policyNames.has(policy.name)) problems.push(`${at}.name: duplicate name "${policy.name}"`);
    policyNames.add(policy.name);
    checkMatcher(at, policy, rawPolicies?.[index]?.claims);
    const overlap = overlappingPaths(policy.copyClaims);
    if (overlap)
      problems.push(`${at}.copyClaims: "${overlap[0]}" contains "${overlap[1]}"; copy one of them`);
    if (policy.sessionTags) {
      problems.push(...sessionTagProblems(`${at}.sessionTags`, policy.sessionTags));
      for (const [key, value] of Object.entries(policy.sessionTags.principalTags)) {
        const problem = typeof value === 'string' ? undefined : claimPathProblem(value.claim);
        if (problem) problems.push(`${at}.sessionTags.principalTags.${key}.claim: ${problem}`);
      }
    }
    policy.actors?.forEach((actor, actorIndex) => {
      checkMatcher(`${at}.actors[${actorIndex}]`, actor, rawPolicies?.[index]?.actors?.[actorIndex]?.claims);
    });
  });
  if (problems.length > 0) throw new ConfigError(source, problems);

  return deepFreeze({
    issuer: file.issuer,
    tokenLifetime,
    clockSkew: seconds(file.clockSkew),
    maxTokenBytes: file.maxTokenBytes,
    maxDelegationDepth: file.maxDelegationDepth,
    dpop: { requireNonce: file.dpop.requireNonce, proofMaxAge: seconds(file.dpop.proofMaxAge) },
    trustedIssuers: file.trustedIssuers.flatMap((trusted) =>
      trusted.type === 'aws'
        ? []
        : [
            {
              name: trusted.name,
              issuer: trusted.issuer,
              audiences: trusted.audiences ?? [file.issuer],
              algorithms: trusted.algorithms,
              jwksUri: trusted.jwksUri,
              oneTimeUse: trusted.oneTimeUse,
              maxTokenAge: seconds(trusted.maxTokenAge),
            },
          ],
    ),
    awsIssuers: file.trustedIssuers.flatMap((trusted) =>
      trusted.type === 'aws'
        ? [
            {
              name: trusted.name,
              type: 'aws' as const,
              accounts: trusted.accounts,
              regions: trusted.regions,
              globalEndpoint: trusted.globalEndpoint,
              maxRequestAge: seconds(trusted.maxRequestAge),
            },
          ]
        : [],
    ),
    policies: file.policies.map((policy) => ({
      name: policy.name,
      issuer: policy.issuer,
      subject: policy.subject,
      claims: policy.claims ?? {},
      origin: policy.origin,
      rootPolicy: policy.rootPolicy,
      actors: policy.actors?.map((actor) => ({
        issuer: actor.issuer,
        subject: actor.subject,
        claims: actor.claims ?? {},
        origin: actor.origin,
        rootPolicy: actor.rootPolicy,
      })),
      audiences: policy.audiences,
      scopes: policy.scopes,
      maxLifetime: policy.maxLifetime === undefined ? undefined : seconds(policy.maxLifetime),
      copyClaims: policy.copyClaims,
      clientId: policy.clientId ?? policy.name,
      sessionTags: policy.sessionTags,
      requireDpop: policy.requireDpop,
    })),
  });
}

/** Values that replace the file's own before validation (from the environment, see settings.ts). */
export interface ConfigOverrides {
  /** The deployed issuer URL (`STS_ISSUER`); defaults derived from `issuer` follow it. */
  readonly issuer?: string | undefined;
}

/** Reads and validates a config file; throws ConfigError naming the file and each field. */
export function loadConfigFile(path: string, overrides: ConfigOverrides = {}): Config {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(path, [
      `cannot read the file: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
    ]);
  }
  return parseConfigText(text, path, overrides);
}

/** Keys refused anywhere in a config file: they would reach prototypes once parsed. */
const FORBIDDEN_CONFIG_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor']);

/**
 * Validates the text of a config file (the loader, `cdk synth` and `sts config validate` all come
 * here). A key given twice is refused with its path: `JSON.parse` would keep the last one, while a
 * reviewer reads the first. So are `__proto__` and `constructor` keys, anywhere.
 */
export function parseConfigText(text: string, source: string, overrides: ConfigOverrides = {}): Config {
  let raw: unknown;
  try {
    raw = parseStrictJson(text, { forbiddenKeys: FORBIDDEN_CONFIG_KEYS });
  } catch (error) {
    if (error instanceof JsonKeyError) {
      throw new ConfigError(source, [
        error.problem === 'duplicate'
          ? `${error.path}: the key "${error.key}" appears twice in its object (the service would read only the last one)`
          : `${error.path}: the key "${error.key}" is not allowed`,
      ]);
    }
    throw new ConfigError(source, [`not valid JSON: ${(error as Error).message}`]);
  }
  if (overrides.issuer !== undefined && raw !== null && typeof raw === 'object' && !Array.isArray(raw)) {
    raw = { ...raw, issuer: overrides.issuer };
  }
  return parseConfig(raw, source);
}

/** The JSON Schema published for editors (`schema/sts.config.schema.json`). */
export function configJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }),
    $id: 'https://github.com/serverless-sts/sts/schema/sts.config.schema.json',
    title: 'Serverless STS configuration (sts.config.json)',
  };
}
