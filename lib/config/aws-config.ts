// The AWS parts of the policy file: trusted issuers of `"type": "aws"` (IAM callers proving who
// they are with a signed STS GetCallerIdentity request) and a policy's `sessionTags` (the
// `https://aws.amazon.com/tags` claim AssumeRoleWithWebIdentity turns into session tags). Tag keys
// and fixed values are checked against AWS's tag rules here, at config load; values copied from
// a subject token are checked again when a token is minted (lib/policy/session-tags.ts).
import * as z from 'zod';
import { DURATION_HINT, DURATION_PATTERN, parseDuration } from '../shared/duration.ts';

/** AWS's pattern for tag keys and values (IAM `Tag` API type): letters, digits, spaces, `_.:/=+-@`. */
const TAG_TEXT = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;
/** AWS limits for session tags (IAM and STS character limits). */
export const SESSION_TAG_LIMITS = { tags: 50, keyLength: 128, valueLength: 256 } as const;

/** Why `key` is not a session tag key AWS accepts, or undefined. */
export function tagKeyProblem(key: string): string | undefined {
  if (key.length === 0 || key.length > SESSION_TAG_LIMITS.keyLength)
    return `a tag key has 1 to ${SESSION_TAG_LIMITS.keyLength} characters`;
  if (!TAG_TEXT.test(key)) return 'a tag key has only letters, digits, spaces and _ . : / = + - @';
  if (key.toLowerCase().startsWith('aws:')) return 'a tag key must not start with "aws:" (reserved by AWS)';
  return undefined;
}

/** Why `value` is not a session tag value AWS accepts, or undefined. */
export function tagValueProblem(value: string): string | undefined {
  if (value.length > SESSION_TAG_LIMITS.valueLength)
    return `a tag value has at most ${SESSION_TAG_LIMITS.valueLength} characters`;
  if (!TAG_TEXT.test(value)) return 'a tag value has only letters, digits, spaces and _ . : / = + - @';
  return undefined;
}

const accountId = z.string().regex(/^[0-9]{12}$/, 'expected a 12-digit AWS account id');
const region = z.string().regex(/^[a-z]{2}(-[a-z]+)+-[0-9]$/, 'expected an AWS region such as eu-west-1');

/** A `trustedIssuers` entry of `"type": "aws"`. */
export const awsIssuerSchema = z
  .object({
    name: z.string(),
    type: z.literal('aws'),
    accounts: z
      .array(accountId)
      .min(1)
      .describe('AWS accounts whose IAM roles and users may present a signed GetCallerIdentity request.'),
    organizations: z
      .array(z.string())
      .optional()
      .describe(
        'Refused: GetCallerIdentity does not tell an account\'s organization. List accounts, or trust the organization\'s outbound identity tokens and match the claim "/https:~1~1sts.amazonaws.com~1/org_id".',
      ),
    /** Regional STS endpoints accepted; undefined: any region. */
    regions: z
      .array(region)
      .min(1)
      .optional()
      .describe('Regional STS endpoints accepted (sts.<region>.amazonaws.com); default: any region.'),
    globalEndpoint: z.boolean().default(true).describe('Whether https://sts.amazonaws.com is accepted.'),
    /** Seconds a signed request stays acceptable after its X-Amz-Date. */
    maxRequestAge: z
      .string()
      .regex(DURATION_PATTERN, `expected ${DURATION_HINT}`)
      .default('5m')
      .describe('How old a signed request (X-Amz-Date) may be; at most 15m, which STS itself allows.')
      .transform((text) => parseDuration(text)!),
  })
  .strict();

/** A value of `sessionTags.principalTags`: fixed text, or copied from a subject-token claim. */
const tagValue = z.union([
  z.string(),
  z
    .object({
      claim: z
        .string()
        .min(1)
        .describe('A claim name or JSON Pointer (RFC 6901) into the subject token, e.g. "repository".'),
    })
    .strict(),
]);

/** A policy's `sessionTags`: what goes into the minted token's `https://aws.amazon.com/tags` claim. */
export const sessionTagsSchema = z
  .object({
    /** Tag key -> fixed value, or the claim (name or JSON Pointer) of the subject token to copy. */
    principalTags: z
      .record(z.string(), tagValue)
      .describe('Tag key -> fixed value, or {"claim": "<name or /pointer>"} to copy from the subject token.'),
    transitiveTagKeys: z
      .array(z.string())
      .default([])
      .describe('Keys of principalTags that persist through role chaining.'),
  })
  .strict();

export type SessionTagsFile = z.output<typeof sessionTagsSchema>;

/** The config problems of a policy's `sessionTags` (AWS's tag rules), each naming the field. */
export function sessionTagProblems(at: string, tags: SessionTagsFile): string[] {
  const problems: string[] = [];
  const keys = Object.keys(tags.principalTags);
  if (keys.length === 0) problems.push(`${at}.principalTags: at least one tag`);
  if (keys.length > SESSION_TAG_LIMITS.tags)
    problems.push(`${at}.principalTags: at most ${SESSION_TAG_LIMITS.tags} session tags`);
  const lower = new Map<string, string>();
  for (const key of keys) {
    const keyProblem = tagKeyProblem(key);
    if (keyProblem) problems.push(`${at}.principalTags.${key}: ${keyProblem}`);
    // Tag keys are case-insensitive in AWS: "Team" and "team" would be one tag.
    const seen = lower.get(key.toLowerCase());
    if (seen !== undefined)
      problems.push(`${at}.principalTags.${key}: same key as "${seen}" (case-insensitive)`);
    lower.set(key.toLowerCase(), key);
    const value = tags.principalTags[key]!;
    const valueProblem = typeof value === 'string' ? tagValueProblem(value) : undefined;
    if (valueProblem) problems.push(`${at}.principalTags.${key}: ${valueProblem}`);
  }
  const transitive = new Set<string>();
  tags.transitiveTagKeys.forEach((key, index) => {
    if (!lower.has(key.toLowerCase()))
      problems.push(`${at}.transitiveTagKeys[${index}]: "${key}" is not a key of principalTags`);
    if (transitive.has(key.toLowerCase()))
      problems.push(`${at}.transitiveTagKeys[${index}]: duplicate key "${key}"`);
    transitive.add(key.toLowerCase());
  });
  return problems;
}
