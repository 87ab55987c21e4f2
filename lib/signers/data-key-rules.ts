// The rules of data-key mode, enforced in code (docs/data-key-signing.md). Timing:
// - a next key is published at least `publishLead` before it signs, and `publishLead` covers
//   the JWKS max-age plus the JWKS function's ring cache: every verifier's cached key set holds
//   the key before the first token it signs;
// - a previous key stays published `keep` after it stopped signing, and `keep` covers the longest
//   token lifetime, the clock skew and the token functions' ring cache (a container signs with
//   the old key until its cached ring is refreshed): the key outlives every token it signed;
// - the period is longer than the lead, so at most one next key exists.
// Encryption context: every private key is encrypted with `sts-purpose: token-signing-key` and
// `sts-key: <a random reference>`; the IAM grants and the key policy require the purpose.

import { ConfigError } from '../config/config-error.ts';

/** The encryption context key naming the purpose; IAM conditions on the Decrypt grant check it. */
export const CONTEXT_PURPOSE_KEY = 'sts-purpose';
export const CONTEXT_PURPOSE = 'token-signing-key';
/** The encryption context key naming the key (a random reference stored in the KEY# item). */
export const CONTEXT_KEY_REF = 'sts-key';

/** `Cache-Control: max-age` of the JWKS (DESIGN.md: 300 s). */
export const JWKS_MAX_AGE_SECONDS = 300;
/** Signers and the JWKS re-read the key ring when their copy is older than this. */
export const KEY_REFRESH_SECONDS = 60;

export interface DataKeyTiming {
  /** Seconds a key signs before the next one takes over. */
  readonly rotationPeriod: number;
  /** Seconds a next key is published before it signs. */
  readonly publishLead: number;
  /** Seconds a previous key stays published after it stopped signing. */
  readonly keep: number;
}

export interface TokenTiming {
  /** `tokenLifetime.max` of the policy file, seconds. */
  readonly maxTokenLifetime: number;
  /** `clockSkew` of the policy file, seconds. */
  readonly clockSkew: number;
}

/** The smallest lead and keep that satisfy the rules. */
export function minimumTiming(tokens: TokenTiming): { publishLead: number; keep: number } {
  return {
    publishLead: JWKS_MAX_AGE_SECONDS + KEY_REFRESH_SECONDS,
    keep: tokens.maxTokenLifetime + tokens.clockSkew + KEY_REFRESH_SECONDS,
  };
}

/** The timing to use: `keep` defaults to its minimum; throws ConfigError when a rule is broken. */
export function checkTiming(
  timing: Omit<DataKeyTiming, 'keep'> & { readonly keep?: number },
  tokens: TokenTiming,
): DataKeyTiming {
  const minimum = minimumTiming(tokens);
  const keep = timing.keep ?? minimum.keep;
  const problems: string[] = [];
  if (!(timing.publishLead >= minimum.publishLead)) {
    problems.push(
      `STS_DATA_KEY_PUBLISH_LEAD: ${timing.publishLead} s is shorter than the JWKS max-age plus the key refresh (${minimum.publishLead} s): verifiers would meet tokens of a key they have not cached`,
    );
  }
  if (!(keep >= minimum.keep)) {
    problems.push(
      `data-key keep: ${keep} s is shorter than the longest token lifetime plus clock skew and key refresh (${minimum.keep} s): tokens would outlive their key`,
    );
  }
  if (!(timing.rotationPeriod > timing.publishLead)) {
    problems.push(
      `STS_DATA_KEY_ROTATION_PERIOD: ${timing.rotationPeriod} s must be longer than the publish lead (${timing.publishLead} s)`,
    );
  }
  if (problems.length > 0) throw new ConfigError('environment', problems);
  return Object.freeze({ rotationPeriod: timing.rotationPeriod, publishLead: timing.publishLead, keep });
}
