// The `https://aws.amazon.com/tags` claim of a minted token, from the admitting policy's
// `sessionTags`: fixed values as configured, copied values read from the subject token's claims
// (a name or JSON Pointer) and checked against AWS's tag rules on every exchange. A copied value
// that is missing or breaks the rules refuses the exchange: a token whose tags AWS would reject,
// or that silently lacks a tag an IAM policy keys on, is never minted. The shape is AWS's
// (IAM User Guide, "Passing session tags using AssumeRoleWithWebIdentity"): each principal tag
// value is a one-element array of strings.
import type { JWTPayload } from 'jose';
import { tagValueProblem } from '../config/aws-config.ts';
import type { SessionTagsConfig } from '../config/config.ts';
import { invalidRequest } from '../shared/errors.ts';
import { type ClaimPath, parseClaimPath, readClaim } from './claim-path.ts';
import { claimText } from './pattern.ts';

/** The value of the `https://aws.amazon.com/tags` claim. */
export interface AwsTagsClaim {
  readonly principal_tags: Readonly<Record<string, readonly [string]>>;
  readonly transitive_tag_keys?: readonly string[];
}

/** Builds the tags claim for one subject token; throws `invalid_request` for an unusable copied value. */
export type SessionTagsBuilder = (claims: JWTPayload) => AwsTagsClaim;

/** Compiles a policy's `sessionTags` once (claim paths parsed), to build the claim per exchange. */
export function compileSessionTags(tags: SessionTagsConfig): SessionTagsBuilder {
  const entries: ReadonlyArray<readonly [string, string | ClaimPath]> = Object.entries(
    tags.principalTags,
  ).map(([key, value]) => [key, typeof value === 'string' ? value : parseClaimPath(value.claim)] as const);
  const transitive = tags.transitiveTagKeys.length > 0 ? [...tags.transitiveTagKeys] : undefined;
  return (claims) => {
    const principalTags: Record<string, readonly [string]> = {};
    for (const [key, source] of entries) {
      const value = typeof source === 'string' ? source : claimText(readClaim(claims, source));
      if (value === undefined || tagValueProblem(value) !== undefined) {
        throw invalidRequest('subject_token cannot supply the session tags of the policy', {
          reason: 'policy.session_tag_value',
        });
      }
      principalTags[key] = [value];
    }
    return transitive
      ? { principal_tags: principalTags, transitive_tag_keys: transitive }
      : { principal_tags: principalTags };
  };
}
