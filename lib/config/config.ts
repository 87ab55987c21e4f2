// The policy file (`sts.config.json`): its schema, its loader, and the typed frozen object the
// rest of the service receives. Validation is loud: every problem names the field.

import { readFileSync } from 'node:fs';
// A namespace import lets esbuild drop what config does not use (zod's 45 locales: 260 KiB of bundle).
import * as z from 'zod';
import { RESERVED_CLAIMS, SELF_ISSUER, VERIFY_ALGORITHMS, type VerifyAlgorithm } from '../shared/claims.ts';
import { DURATION_HINT, DURATION_PATTERN, parseDuration } from '../shared/duration.ts';
import { isAllowedUrl } from '../shared/urls.ts';
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

/** Names that would reach an object's prototype when used as keys. */
const PROTOTYPE_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
const claimName = z
  .string()
  .min(1)
  .refine((name) => !RESERVED_CLAIMS.has(name), {
    message: 'is a reserved claim the service sets itself and cannot be copied',
  })
  .refine((name) => !PROTOTYPE_KEYS.has(name), { message: 'is not a claim name' });

const serviceUrl = z.string().refine(isAllowedUrl, {
  message:
    'expected an https URL (http only on 127.0.0.1, localhost or [::1]) without credentials or fragment',
});

const matcherShape = {
  subject: nonEmpty.describe('Exact subject, or a glob when it contains * (anchored at both ends).'),
  claims: z
    .record(z.string(), z.string())
    .optional()
    .describe('Claim conditions: exact string, or glob when it contains *.'),
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
    trustedIssuers: z
      .array(
        z
          .object({
            name: z
              .string()
              .regex(/^[A-Za-z0-9_.-]+$/, 'expected letters, digits, ".", "_" or "-"')
              .refine((name) => name !== SELF_ISSUER, { message: '"self" is reserved for this service' }),
            issuer: serviceUrl,
            audiences: z
              .array(nonEmpty)
              .min(1)
              .optional()
              .describe("Accepted `aud` values; default: this service's issuer."),
            algorithms: z.array(z.enum(VERIFY_ALGORITHMS)).min(1).default(['RS256', 'ES256']),
            jwksUri: serviceUrl.optional().describe("Otherwise taken from the issuer's discovery document."),
            oneTimeUse: z.boolean().default(false),
            maxTokenAge: duration
              .default(DEFAULT_MAX_TOKEN_AGE)
              .describe(
                'The longest life of its tokens: one without iat is refused when it would outlive this, and, after its subject is revoked, until revokedBefore plus this.',
              ),
          })
          .strict(),
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
export interface PolicyConfig extends Matcher {
  readonly name: string;
  readonly issuer: string;
  readonly actors: readonly ActorRule[] | undefined;
  readonly audiences: readonly string[];
  readonly scopes: readonly string[];
  readonly maxLifetime: number | undefined;
  readonly copyClaims: readonly string[];
  readonly clientId: string;
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
  readonly trustedIssuers: readonly TrustedIssuerConfig[];
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
      for (const key of Object.keys(rawClaims).filter((name) => PROTOTYPE_KEYS.has(name)))
        problems.push(`${at}.claims.${key}: is not a claim name`);
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
    trustedIssuers: file.trustedIssuers.map((trusted) => ({
      name: trusted.name,
      issuer: trusted.issuer,
      audiences: trusted.audiences ?? [file.issuer],
      algorithms: trusted.algorithms,
      jwksUri: trusted.jwksUri,
      oneTimeUse: trusted.oneTimeUse,
      maxTokenAge: seconds(trusted.maxTokenAge),
    })),
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
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(path, [`not valid JSON: ${(error as Error).message}`]);
  }
  if (overrides.issuer !== undefined && raw !== null && typeof raw === 'object' && !Array.isArray(raw)) {
    raw = { ...raw, issuer: overrides.issuer };
  }
  return parseConfig(raw, path);
}

/** The JSON Schema published for editors (`schema/sts.config.schema.json`). */
export function configJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }),
    $id: 'https://github.com/serverless-sts/sts/schema/sts.config.schema.json',
    title: 'Serverless STS configuration (sts.config.json)',
  };
}
