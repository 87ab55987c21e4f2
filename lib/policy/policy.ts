// Trust policies, compiled once and checked per request. A policy admits a request when the
// subject token's issuer, subject and claim conditions match, the actor (if any) is one the
// policy allows, the target is one of its audiences, and every requested scope is granted.

import type { JWTPayload } from 'jose';
import type { ActorRule, Config, Matcher, PolicyConfig } from '../config/config.ts';
import { SELF_ISSUER } from '../shared/claims.ts';
import { invalidRequest, invalidScope, invalidTarget, type OAuthError } from '../shared/errors.ts';
import { type ClaimPath, parseClaimPath, readClaim } from './claim-path.ts';
import { compilePattern, type Pattern } from './pattern.ts';
import { type AwsTagsClaim, compileSessionTags, type SessionTagsBuilder } from './session-tags.ts';

export interface PresentedToken {
  /** Trusted issuer name, or `self`. */
  readonly issuerName: string;
  /**
   * For `self` tokens, the trusted issuer the chain started from (policies may require it).
   * Undefined means unknown (`sts explain` without the token's `TOKEN#` record): a condition on
   * it never matches, and the verdict says `chain_unknown`.
   */
  readonly origin?: string | undefined;
  /** For `self` tokens, the policy that minted the first token of the chain (undefined: unknown). */
  readonly rootPolicy?: string | undefined;
  /** The URL of the issuer that vouched for `sub` (for `self` tokens: the chain's origin). */
  readonly originIssuer?: string | undefined;
  readonly claims: JWTPayload;
}

export interface PolicyRequest {
  readonly subject: PresentedToken;
  readonly actor?: PresentedToken | undefined;
  readonly audience: string;
  readonly scopes: readonly string[];
}

export type Refusal =
  | 'issuer'
  /** An `origin` or `rootPolicy` condition on a token whose chain is unknown (explain, offline). */
  | 'chain_unknown'
  | 'subject'
  | 'claims'
  | 'actor'
  | 'delegation_depth'
  | 'malformed_act'
  | 'audience'
  | 'scope'
  | 'scope_wider_than_subject_token';

export interface PolicyVerdict {
  readonly policy: string;
  readonly admits: boolean;
  /** Why this policy refuses, in words a platform engineer can act on. */
  readonly reasons: readonly string[];
  readonly refusals: readonly Refusal[];
}

export interface Grant {
  readonly policy: PolicyConfig;
  readonly scopes: readonly string[];
  /** Seconds. */
  readonly lifetime: number;
  /** The RFC 8693 `act` claim of the new token, if delegated. */
  readonly act: Record<string, unknown> | undefined;
  /** The `https://aws.amazon.com/tags` claim, when the policy sets session tags. */
  readonly sessionTags: AwsTagsClaim | undefined;
}

export interface Explanation {
  readonly admittedBy: string | undefined;
  readonly verdicts: readonly PolicyVerdict[];
}

interface CompiledMatcher {
  readonly issuer: string;
  readonly subject: Pattern;
  readonly claims: ReadonlyArray<readonly [name: string, path: ClaimPath, pattern: Pattern]>;
  readonly origin: string | undefined;
  readonly rootPolicy: string | undefined;
}
interface CompiledPolicy {
  readonly config: PolicyConfig;
  readonly who: CompiledMatcher;
  readonly actors: readonly CompiledMatcher[] | undefined;
  readonly audiences: ReadonlySet<string>;
  readonly scopes: ReadonlySet<string>;
  readonly sessionTags: SessionTagsBuilder | undefined;
}

function compileMatcher(issuer: string, matcher: Matcher): CompiledMatcher {
  return {
    issuer,
    subject: compilePattern(matcher.subject),
    claims: Object.entries(matcher.claims).map(
      ([name, pattern]) => [name, parseClaimPath(name), compilePattern(pattern)] as const,
    ),
    origin: matcher.origin,
    rootPolicy: matcher.rootPolicy,
  };
}

type Mismatch = readonly [refusal: 'issuer' | 'chain_unknown' | 'subject' | 'claims', reason: string];

const UNREAD = 'unknown: its TOKEN# record was not read';

/** Mismatches of a token against a matcher, with readable reasons (empty when it matches). */
function mismatches(matcher: CompiledMatcher, token: PresentedToken, what: string): Mismatch[] {
  if (matcher.issuer !== token.issuerName) {
    return [['issuer', `${what} issuer is "${token.issuerName}", policy wants "${matcher.issuer}"`]];
  }
  const found: Mismatch[] = [];
  if (matcher.origin !== undefined && token.origin !== matcher.origin) {
    found.push(
      token.origin === undefined
        ? ['chain_unknown', `${what} chain origin is ${UNREAD}; policy wants origin "${matcher.origin}"`]
        : ['issuer', `${what} chain started at "${token.origin}", policy wants origin "${matcher.origin}"`],
    );
  }
  if (matcher.rootPolicy !== undefined && token.rootPolicy !== matcher.rootPolicy) {
    found.push(
      token.rootPolicy === undefined
        ? [
            'chain_unknown',
            `${what} chain root policy is ${UNREAD}; policy wants rootPolicy "${matcher.rootPolicy}"`,
          ]
        : [
            'issuer',
            `${what} chain started with policy "${token.rootPolicy}", policy wants rootPolicy "${matcher.rootPolicy}"`,
          ],
    );
  }
  if (!matcher.subject.matches(token.claims.sub)) {
    found.push([
      'subject',
      `${what} sub ${JSON.stringify(token.claims.sub)} does not match "${matcher.subject.source}"`,
    ]);
  }
  for (const [name, path, pattern] of matcher.claims) {
    const value = readClaim(token.claims, path);
    if (!pattern.matches(value)) {
      found.push([
        'claims',
        value === undefined
          ? `${what} has no claim ${name} (wanted "${pattern.source}")`
          : `${what} claim ${name}=${JSON.stringify(value)} does not match "${pattern.source}"`,
      ]);
    }
  }
  return found;
}

/** Whether a presented `act` claim is an RFC 8693 §4.1 chain: objects with a string `sub`, nested by `act`. */
export function isActClaim(act: unknown): boolean {
  let current = act;
  for (let depth = 0; depth < 32; depth++) {
    if (typeof current !== 'object' || current === null || Array.isArray(current)) return false;
    const { sub, act: inner } = current as { sub?: unknown; act?: unknown };
    if (typeof sub !== 'string' || sub.length === 0) return false;
    if (inner === undefined) return true;
    current = inner;
  }
  return false;
}

/** Depth of an RFC 8693 `act` chain (0 when absent). */
export function actDepth(act: unknown): number {
  let depth = 0;
  let current = act;
  while (typeof current === 'object' && current !== null) {
    depth++;
    current = (current as { act?: unknown }).act;
  }
  return depth;
}

/**
 * The `act` claim of a new token: the actor on the outside, prior actors nested inside. The
 * actor's entry carries `iss`, the issuer that vouched for its `sub` (RFC 8693 §4.1): its own
 * issuer, or for a token of ours, the issuer its chain started at.
 */
export function delegatedAct(
  subject: PresentedToken,
  actor: PresentedToken | undefined,
): Record<string, unknown> | undefined {
  const prior = subject.claims.act as Record<string, unknown> | undefined;
  if (!actor) return prior;
  const act: Record<string, unknown> = { sub: actor.claims.sub };
  const iss = actor.issuerName === SELF_ISSUER ? actor.originIssuer : actor.claims.iss;
  if (typeof iss === 'string') act.iss = iss;
  if (prior) act.act = prior;
  return act;
}

export interface PolicyEngine {
  /** Admits the request or throws the OAuthError the caller receives. */
  decide(request: PolicyRequest): Grant;
  /** For every policy: whether it admits the request and why not. */
  explain(request: PolicyRequest): Explanation;
}

export function compilePolicies(config: Config): PolicyEngine {
  const policies: CompiledPolicy[] = config.policies.map((policy) => ({
    config: policy,
    who: compileMatcher(policy.issuer, policy),
    actors: policy.actors?.map((actor: ActorRule) => compileMatcher(actor.issuer, actor)),
    audiences: new Set(policy.audiences),
    scopes: new Set(policy.scopes),
    sessionTags: policy.sessionTags ? compileSessionTags(policy.sessionTags) : undefined,
  }));

  function judge(policy: CompiledPolicy, request: PolicyRequest): PolicyVerdict {
    const reasons: string[] = [];
    const refusals: Refusal[] = [];
    const refuse = (refusal: Refusal, reason: string) => {
      refusals.push(refusal);
      reasons.push(reason);
    };
    // Classified where found: a reason's text (which quotes the token's claims) is never parsed.
    for (const [refusal, reason] of mismatches(policy.who, request.subject, 'subject'))
      refuse(refusal, reason);
    if (request.actor) {
      if (!policy.actors) {
        refuse('actor', 'policy lists no actors, so it admits no actor_token');
      } else {
        const actorMismatches = policy.actors.map((actor) => mismatches(actor, request.actor!, 'actor'));
        if (actorMismatches.every((list) => list.length > 0)) {
          // Undecided rather than refused when a rule fails only on the actor's unknown chain.
          const undecided = actorMismatches.some((list) => list.every(([kind]) => kind === 'chain_unknown'));
          refuse(
            undecided ? 'chain_unknown' : 'actor',
            `no actor rule matches: ${actorMismatches.map((list) => list.map(([, reason]) => reason).join('; ')).join(' | ')}`,
          );
        }
      }
    }
    const priorAct = request.subject.claims.act;
    if (priorAct !== undefined && !isActClaim(priorAct)) {
      refuse('malformed_act', 'subject token act claim is not an RFC 8693 actor chain');
    }
    const depth = actDepth(delegatedAct(request.subject, request.actor));
    if (depth > config.maxDelegationDepth) {
      refuse('delegation_depth', `act chain depth ${depth} exceeds ${config.maxDelegationDepth}`);
    }
    if (!policy.audiences.has(request.audience)) {
      refuse('audience', `target "${request.audience}" is not in audiences`);
    }
    const notAllowed = request.scopes.filter((scope) => !policy.scopes.has(scope));
    if (notAllowed.length > 0) refuse('scope', `scopes not allowed: ${notAllowed.join(' ')}`);
    if (request.subject.issuerName === SELF_ISSUER && request.scopes.length > 0) {
      const held = new Set(
        typeof request.subject.claims.scope === 'string' ? request.subject.claims.scope.split(' ') : [],
      );
      const wider = request.scopes.filter((scope) => !held.has(scope));
      if (wider.length > 0) {
        refuse('scope_wider_than_subject_token', `scopes not held by the subject token: ${wider.join(' ')}`);
      }
    }
    return { policy: policy.config.name, admits: refusals.length === 0, reasons, refusals };
  }

  function explain(request: PolicyRequest): Explanation {
    const verdicts = policies.map((policy) => judge(policy, request));
    return { admittedBy: verdicts.find((verdict) => verdict.admits)?.policy, verdicts };
  }

  /** The error for a refused request: the closest policy decides the RFC error code. */
  function refusal(verdicts: readonly PolicyVerdict[]): OAuthError {
    const identityOk = verdicts.filter((verdict) =>
      verdict.refusals.every(
        (r) => r === 'audience' || r === 'scope' || r === 'scope_wider_than_subject_token',
      ),
    );
    const reason = verdicts.length === 0 ? 'policy.none' : 'policy.refused';
    if (identityOk.some((verdict) => !verdict.refusals.includes('audience'))) {
      return invalidScope('requested scope is not allowed', { reason: 'policy.scope' });
    }
    if (identityOk.length > 0) {
      return invalidTarget('the requested target is not allowed', { reason: 'policy.audience' });
    }
    return invalidRequest('no trust policy admits the subject_token', { reason });
  }

  return {
    explain,
    decide(request) {
      const verdicts: PolicyVerdict[] = [];
      for (const policy of policies) {
        const verdict = judge(policy, request);
        if (verdict.admits) {
          const lifetime = Math.min(
            config.tokenLifetime.default,
            policy.config.maxLifetime ?? Number.POSITIVE_INFINITY,
            config.tokenLifetime.max,
          );
          return {
            policy: policy.config,
            scopes: request.scopes,
            lifetime,
            act: delegatedAct(request.subject, request.actor),
            sessionTags: policy.sessionTags?.(request.subject.claims),
          };
        }
        verdicts.push(verdict);
      }
      throw refusal(verdicts);
    },
  };
}
