// The policy file's schema (`sts.config.json`) and the config types derived from it. The schema
// reads the file and its output is the config the service runs on: durations in seconds, defaults
// filled in, the `"type": "aws"` trusted issuers split out. So the types below are the schema's
// output, made read-only, and a field added to or changed in the schema reaches them by itself.
// The checks that span fields (duplicate names, unknown issuers, bounds) and the freezing are the
// loader's, in config.ts.

// A namespace import lets esbuild drop what config does not use (zod's 45 locales: 260 KiB of bundle).
import * as z from 'zod';
import { claimPathProblem, isReservedClaimPath } from '../policy/claim-path.ts';
import { RESERVED_CLAIMS, SELF_ISSUER, VERIFY_ALGORITHMS } from '../shared/claims.ts';
import { DURATION_HINT, DURATION_PATTERN, parseDuration } from '../shared/duration.ts';
import { isAllowedUrl } from '../shared/urls.ts';
import { awsIssuerSchema, sessionTagsSchema } from './aws-config.ts';

// A duration field reads `duration.default('5m').transform(inSeconds)`. Zod 4's `.default()` is
// the value the schema outputs, unparsed: a default written as the file would write it goes before
// the transform, and the default of an object holding transforms is a `.prefault()`, parsed like
// the file's own value (both are what the published JSON Schema shows as "default").
const duration = z.string().regex(DURATION_PATTERN, `expected ${DURATION_HINT}`);
/** The transform of a `duration` the schema has accepted: its value in seconds. */
const inSeconds = (text: string): number => parseDuration(text)!;
const nonEmpty = z.string().min(1);
const scopeToken = z
  .string()
  .regex(/^[\x21\x23-\x5B\x5D-\x7E]+$/, 'expected an RFC 6749 scope token (no spaces)');
/** Default `maxTokenAge` of a trusted issuer: the common IdP access-token lifetime. */
export const DEFAULT_MAX_TOKEN_AGE = '1h';

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

/** What a policy, or one of its actor rules, asks of a presented token. */
const matcherSchema = z.object({
  subject: nonEmpty.describe('Exact subject, or a glob when it contains * (anchored at both ends).'),
  /** Claim name or JSON Pointer -> exact value or glob; `{}` when the file has none. */
  claims: z
    .record(z.string(), z.string())
    .optional()
    .describe(
      'Claim conditions: exact string, or glob when it contains *. A name starting with "/" is a JSON Pointer (RFC 6901) into nested claims.',
    )
    .transform((claims) => claims ?? {}),
  /** For `self` tokens: the trusted issuer that first vouched for the subject. */
  origin: nonEmpty
    .optional()
    .describe('With issuer "self" only: the trusted issuer the chain of exchanges started from.'),
  /** For `self` tokens: the policy that minted the first token of the chain. */
  rootPolicy: nonEmpty
    .optional()
    .describe('With issuer "self" only: the policy that minted the first token of the chain.'),
});

const jwtIssuerSchema = z
  .object({
    name: issuerName,
    type: z.literal('jwt').optional().describe('"jwt" (default): an OIDC/JWT issuer.'),
    issuer: serviceUrl,
    /** Accepted `aud` values; the loader fills in this service's issuer when the file has none. */
    audiences: z
      .array(nonEmpty)
      .min(1)
      .optional()
      .describe("Accepted `aud` values; default: this service's issuer."),
    algorithms: z.array(z.enum(VERIFY_ALGORITHMS)).min(1).default(['RS256', 'ES256']),
    jwksUri: serviceUrl.optional().describe("Otherwise taken from the issuer's discovery document."),
    oneTimeUse: z.boolean().default(false),
    /** Seconds: the longest life this issuer's tokens may have (bounds tokens without `iat`). */
    maxTokenAge: duration
      .default(DEFAULT_MAX_TOKEN_AGE)
      .describe(
        'The longest life of its tokens: one without iat is refused when it would outlive this, and, after its subject is revoked, until revokedBefore plus this.',
      )
      .transform(inSeconds),
  })
  .strict();

const policySchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9_.:-]+$/, 'expected letters, digits, ".", "_", ":" or "-"'),
    issuer: nonEmpty.describe('A trusted issuer name, or "self" for tokens this service minted.'),
    ...matcherSchema.shape,
    actors: z
      .array(z.object({ issuer: nonEmpty, ...matcherSchema.shape }).strict())
      .optional()
      .describe('Who may act for these subjects (delegation through actor_token).'),
    audiences: z.array(nonEmpty).min(1),
    scopes: z.array(scopeToken).default([]),
    /** Seconds. */
    maxLifetime: duration.transform(inSeconds).optional(),
    copyClaims: z.array(claimName).default([]),
    clientId: nonEmpty.optional().describe('The client_id claim; default: the policy name.'),
    sessionTags: sessionTagsSchema
      .optional()
      .describe('AWS session tags for AssumeRoleWithWebIdentity (the https://aws.amazon.com/tags claim).'),
    /** Only DPoP-bound tokens are issued under this policy. */
    requireDpop: z
      .boolean()
      .default(false)
      .describe('Issue only DPoP-bound tokens: a request without a DPoP proof is refused.'),
  })
  .strict()
  .transform((policy) => ({ ...policy, clientId: policy.clientId ?? policy.name }));

/**
 * The file as written, each field normalized on its own: the loader runs its checks that span
 * fields on this output (where `trustedIssuers` still holds both kinds, in file order).
 */
export const configFileSchema = z
  .object({
    $schema: z.string().optional(),
    issuer: serviceUrl.describe("This service's issuer URL: the `iss` of every token it mints."),
    /** Seconds. */
    tokenLifetime: z
      .object({
        default: duration.default('5m').transform(inSeconds),
        max: duration.default('15m').transform(inSeconds),
      })
      .strict()
      .prefault({ default: '5m', max: '15m' }),
    /** Seconds. */
    clockSkew: duration
      .default('30s')
      .describe('Tolerance for exp, nbf and iat of presented tokens.')
      .transform(inSeconds),
    maxTokenBytes: z.number().int().min(512).max(65_536).default(16_384),
    maxDelegationDepth: z.number().int().min(1).max(10).default(3),
    /** DPoP proofs at the token endpoint; `proofMaxAge` in seconds. */
    dpop: z
      .object({
        requireNonce: z
          .boolean()
          .default(false)
          .describe('Proofs must carry a server nonce (RFC 9449 §8); needs STS_DPOP_NONCE_SECRET.'),
        proofMaxAge: duration
          .default('60s')
          .describe('How long after its iat a DPoP proof is accepted.')
          .transform(inSeconds),
      })
      .strict()
      .prefault({ requireNonce: false, proofMaxAge: '60s' })
      .describe('DPoP proofs at the token endpoint (RFC 9449).'),
    trustedIssuers: z
      .array(z.discriminatedUnion('type', [jwtIssuerSchema, awsIssuerSchema.extend({ name: issuerName })]))
      .prefault([]),
    policies: z.array(policySchema).min(1),
  })
  .strict();

type ConfigFileOutput = z.output<typeof configFileSchema>;

/**
 * The config the service runs on, from the file's normalized fields: the `"type": "aws"` trusted
 * issuers apart from the JWT ones, whose `audiences` default to this service's issuer.
 */
export function splitIssuers(file: ConfigFileOutput) {
  const { $schema: _schema, trustedIssuers, ...config } = file;
  const jwtIssuers = trustedIssuers.flatMap((trusted) => (trusted.type === 'aws' ? [] : [trusted]));
  const awsIssuers = trustedIssuers.flatMap((trusted) => (trusted.type === 'aws' ? [trusted] : []));
  return {
    ...config,
    trustedIssuers: jwtIssuers.map(({ type: _type, ...trusted }) => ({
      ...trusted,
      audiences: trusted.audiences ?? [config.issuer],
    })),
    /** The `"type": "aws"` entries of the file's `trustedIssuers` (`organizations` is refused at load). */
    awsIssuers: awsIssuers.map(({ organizations: _organizations, ...trusted }) => trusted),
  };
}

// Annotated so that the published declarations name the two halves instead of repeating them.
/** The schema of `sts.config.json`: its input is the file, its output the service's config. */
export const configSchema: z.ZodPipe<
  typeof configFileSchema,
  z.ZodTransform<ReturnType<typeof splitIssuers>, ConfigFileOutput>
> = configFileSchema.transform(splitIssuers);

/** A config file as written (before defaults). */
export type ConfigFile = z.input<typeof configSchema>;

/** `T` with every property and array read-only, all the way down (the loader freezes it so). */
export type DeepReadonly<T> = T extends readonly (infer Item)[]
  ? readonly DeepReadonly<Item>[]
  : T extends object
    ? { readonly [Key in keyof T]: DeepReadonly<T[Key]> }
    : T;

/** The validated config the service runs on: the schema's output, frozen. Durations are seconds. */
export interface Config extends DeepReadonly<z.output<typeof configSchema>> {}
/** One of `policies`. */
export interface PolicyConfig extends DeepReadonly<z.output<typeof policySchema>> {}
/** What a policy or an actor rule asks of a presented token. */
export interface Matcher extends DeepReadonly<z.output<typeof matcherSchema>> {}
/** One of a policy's `actors`. */
export type ActorRule = NonNullable<PolicyConfig['actors']>[number];
/** A policy's AWS session tags. */
export type SessionTagsConfig = NonNullable<PolicyConfig['sessionTags']>;
/** A trusted issuer of JWTs (`"type": "jwt"`, the default). */
export type TrustedIssuerConfig = Config['trustedIssuers'][number];
/** A trusted issuer of `"type": "aws"`: IAM callers with a signed GetCallerIdentity request. */
export type AwsIssuerConfig = Config['awsIssuers'][number];

/** The JSON Schema published for editors (`schema/sts.config.schema.json`). */
export function configJsonSchema(): Record<string, unknown> {
  return {
    ...z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }),
    $id: 'https://github.com/serverless-sts/sts/schema/sts.config.schema.json',
    title: 'Serverless STS configuration (sts.config.json)',
  };
}
