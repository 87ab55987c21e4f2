// The policy file (`sts.config.json`): its loader, which hands the rest of the service the typed
// frozen config. Validation is loud: every problem names the field. The schema and the types
// derived from it are in config-schema.ts.

import { readFileSync } from 'node:fs';
import { claimPathProblem, overlappingPaths, PROTOTYPE_KEYS } from '../policy/claim-path.ts';
import { SELF_ISSUER } from '../shared/claims.ts';
import { JsonKeyError, parseStrictJson } from '../shared/strict-json.ts';
import { sessionTagProblems } from './aws-config.ts';
import { ConfigError } from './config-error.ts';
import { type Config, configFileSchema, splitIssuers } from './config-schema.ts';

export {
  type ActorRule,
  type AwsIssuerConfig,
  type Config,
  type ConfigFile,
  configJsonSchema,
  configSchema,
  DEFAULT_MAX_TOKEN_AGE,
  type Matcher,
  type PolicyConfig,
  type SessionTagsConfig,
  type TrustedIssuerConfig,
} from './config-schema.ts';
export { ConfigError };

/** Upper bounds, in seconds: a skew or lifetime beyond them is a typo, not a policy. */
const MAX_TOKEN_LIFETIME = 86_400;
const MAX_TOKEN_AGE = 7 * 86_400;
const MAX_CLOCK_SKEW = 300;

/** The path of a schema issue as the problems print it: `policies[0].claims.team`. */
function fieldPath(path: readonly PropertyKey[]): string {
  return (
    path.reduce<string>(
      (text, key) =>
        typeof key === 'number' ? `${text}[${key}]` : text ? `${text}.${String(key)}` : String(key),
      '',
    ) || '(root)'
  );
}

const deepFreeze = <T>(value: T): T => {
  if (value && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
};

/**
 * The policies (and actor rules) whose `issuer` names no trusted issuer, read from a file that
 * failed the schema: only string names are compared, so it holds for any shape. A file that
 * passes the schema gets the same message from the full checks below.
 */
function issuerReferenceProblems(raw: unknown): string[] {
  const entries = (value: unknown): Record<string, unknown>[] =>
    Array.isArray(value) ? value.filter((entry) => entry !== null && typeof entry === 'object') : [];
  const file = (raw !== null && typeof raw === 'object' ? raw : {}) as Record<string, unknown>;
  const names = new Set(entries(file.trustedIssuers).map((trusted) => trusted.name));
  const problems: string[] = [];
  const check = (at: string, rule: Record<string, unknown>) => {
    const { issuer } = rule;
    if (typeof issuer === 'string' && issuer !== SELF_ISSUER && !names.has(issuer))
      problems.push(unknownIssuer(at, issuer));
  };
  entries(file.policies).forEach((policy, index) => {
    check(`policies[${index}]`, policy);
    entries(policy.actors).forEach((actor, actorIndex) => {
      check(`policies[${index}].actors[${actorIndex}]`, actor);
    });
  });
  return problems;
}

const unknownIssuer = (at: string, issuer: string) =>
  `${at}.issuer: "${issuer}" is neither a trustedIssuers name nor "self"`;

/**
 * Validates a parsed config object and returns the frozen typed config: the schema's output
 * (config-schema.ts) once the checks that span fields (names, issuers, bounds) have passed.
 */
export function parseConfig(raw: unknown, source = 'sts.config.json'): Config {
  const parsed = configFileSchema.safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(source, [
      ...parsed.error.issues.flatMap((issue) =>
        issue.code === 'unrecognized_keys'
          ? issue.keys.map((key) => `${fieldPath([...issue.path, key])}: unknown key`)
          : [`${fieldPath(issue.path)}: ${issue.message}`],
      ),
      // So one run reports a misnamed issuer along with the fields' own problems; not when the
      // trusted issuers themselves are in question (the names could be what is wrong).
      ...(parsed.error.issues.some((issue) => issue.path[0] === 'trustedIssuers')
        ? []
        : issuerReferenceProblems(raw)),
    ]);
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
      if (trusted.maxRequestAge < 1 || trusted.maxRequestAge > 900)
        problems.push(`trustedIssuers[${index}].maxRequestAge: between 1s and 15m`);
      return;
    }
    // Tokens are matched to a trusted issuer by exact `iss`: a second entry would be unreachable.
    if (issuerUrls.has(trusted.issuer))
      problems.push(`trustedIssuers[${index}].issuer: duplicate issuer "${trusted.issuer}"`);
    issuerUrls.add(trusted.issuer);
    if (trusted.issuer === file.issuer)
      problems.push(`trustedIssuers[${index}].issuer: this service's own issuer is trusted as "self"`);
    if (trusted.maxTokenAge > MAX_TOKEN_AGE)
      problems.push(`trustedIssuers[${index}].maxTokenAge: must not exceed 7d`);
  });
  const knownIssuer = (name: string) => name === SELF_ISSUER || issuerNames.has(name);
  const policyNames = new Set<string>();
  const { tokenLifetime } = file;
  if (tokenLifetime.default > tokenLifetime.max)
    problems.push('tokenLifetime.default: must not exceed tokenLifetime.max');
  if (tokenLifetime.max > MAX_TOKEN_LIFETIME)
    problems.push('tokenLifetime.max: must not exceed 1d (tokens of this service live minutes)');
  if (file.clockSkew > MAX_CLOCK_SKEW) problems.push('clockSkew: must not exceed 5m');
  if (file.dpop.proofMaxAge > MAX_CLOCK_SKEW) problems.push('dpop.proofMaxAge: must not exceed 5m');
  const checkMatcher = (
    at: string,
    matcher: { issuer: string; origin?: string | undefined; rootPolicy?: string | undefined },
    rawClaims: unknown,
  ) => {
    if (matcher.rootPolicy !== undefined && matcher.issuer !== SELF_ISSUER)
      problems.push(`${at}.rootPolicy: only a rule with issuer "self" has a rootPolicy`);
    if (matcher.rootPolicy !== undefined && !file.policies.some((p) => p.name === matcher.rootPolicy))
      problems.push(`${at}.rootPolicy: "${matcher.rootPolicy}" is not a policy name`);
    if (!knownIssuer(matcher.issuer)) problems.push(unknownIssuer(at, matcher.issuer));
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

  return deepFreeze<Config>(splitIssuers(file));
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
