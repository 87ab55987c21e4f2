// The decision of one exchange, on tokens already read: which policy admits the request and with
// what `act` (policy/policy.ts), the lineage the new token inherits (lineage.ts), and its
// lifetime: the policy's, never past a subject or actor token of ours it came from. Pure, so it
// has two callers and one answer: the exchange runs it on verified tokens (token-exchange.ts), and
// `sts explain` (bin/explain.ts) on decoded ones, with the `TOKEN#` records it read.

import type { JWTPayload } from 'jose';
import type { Grant, PolicyEngine, PresentedToken } from '../policy/policy.ts';
import { invalidRequest } from '../shared/errors.ts';
import type { TokenRecord } from '../shared/token-record.ts';
import { type Lineage, lineage } from './lineage.ts';

/** A presented token as the decision sees it (a `VerifiedToken` is one). */
export interface ExchangeParty extends PresentedToken {
  /** The URL of the issuer that vouched for `sub` (for a token of ours: its chain's origin). */
  readonly originIssuer: string;
  readonly claims: JWTPayload & { readonly sub: string };
  /** For a token of ours, its `TOKEN#` record: the chain it belongs to and the life it has left. */
  readonly record: TokenRecord | undefined;
}

export interface ExchangeFacts {
  readonly subject: ExchangeParty;
  readonly actor: ExchangeParty | undefined;
  readonly audience: string;
  readonly scopes: readonly string[];
}

export interface ExchangeDecision {
  readonly grant: Grant;
  readonly lineage: Lineage;
  /** Epoch seconds: when the new token is issued (`iat`, `nbf`). */
  readonly iat: number;
  /** Seconds: the policy's lifetime, capped at the life left to a token of ours it came from. */
  readonly lifetime: number;
}

/**
 * The chain a trusted issuer's token starts: that issuer (by name and by URL) is its origin, and
 * no policy is its root yet. The exchange and `sts explain` both describe such a token this way.
 */
export function chainStartedBy(
  name: string,
  issuerUrl: string,
): { readonly origin: string; readonly originIssuer: string; readonly rootPolicy: undefined } {
  return { origin: name, originIssuer: issuerUrl, rootPolicy: undefined };
}

/**
 * What the `TOKEN#` record of a token of ours says about its chain: the trusted issuer that
 * started it (`origin`, by name and by URL) and the policy that minted its first token.
 */
export function chainOf(record: TokenRecord): {
  readonly origin: string;
  readonly originIssuer: string;
  readonly rootPolicy: string;
  readonly record: TokenRecord;
} {
  return {
    origin: record.subjectIssuer,
    originIssuer: record.originIssuer,
    rootPolicy: record.rootPolicy ?? record.policy,
    record,
  };
}

/**
 * Admits the request or throws the OAuthError the caller receives: the first policy that admits
 * it (or the refusal of the closest one), then the lineage (refusing a chain past MAX_ANCESTORS)
 * and the lifetime at `now` (epoch seconds), refusing a subject token with no life left to pass on.
 *
 * @example
 * const decision = decideExchange(policies, { subject, actor, audience, scopes }, epochSeconds(clock));
 * // decision.lifetime <= decision.grant.lifetime; decision.iat + decision.lifetime <= the parent's exp
 */
export function decideExchange(
  policies: PolicyEngine,
  facts: ExchangeFacts,
  now: number,
  /** Told the grant as soon as a policy admits, before the lineage and lifetime checks (the audit). */
  admitted?: (grant: Grant) => void,
): ExchangeDecision {
  const grant = policies.decide(facts);
  admitted?.(grant);
  const line = lineage(facts.subject, facts.actor);
  // Re-exchanging cannot keep a credential alive past its first expiry, and a delegated token dies
  // with its actor token.
  const lifetime = Math.min(grant.lifetime, (line.notAfter ?? Number.POSITIVE_INFINITY) - now);
  if (lifetime <= 0)
    throw invalidRequest('subject_token could not be verified', { reason: 'subject_token.expired' });
  return { grant, lineage: line, iat: now, lifetime };
}
