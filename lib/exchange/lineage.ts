// The lineage a new token inherits (DESIGN.md "DynamoDB table", invariant 6): the token it was
// exchanged from (`parent`, `root`, the policy that started the chain), every token of ours whose
// revocation must revoke it (`ancestors`: the subject token of a chained exchange and an actor
// token of ours, with their own ancestors), the actors it speaks for (each named by the issuer
// that vouched for it), and the latest `exp` it may have: never past a subject or actor token of
// ours. Recorded in `TOKEN#` and read back by the one liveness decision (shared/token-record.ts).
import { invalidRequest } from '../shared/errors.ts';
import { type Identity, MAX_ANCESTORS } from '../shared/token-record.ts';
import type { ExchangeParty } from './exchange-decision.ts';

/** What the lineage reads of a presented token. */
type LineageSource = Pick<ExchangeParty, 'record' | 'originIssuer' | 'claims'>;

export interface Lineage {
  readonly parent: string | undefined;
  readonly root: string | undefined;
  readonly rootPolicy: string | undefined;
  readonly ancestors: readonly string[];
  readonly actors: readonly Identity[];
  /** Epoch seconds the new token must expire by, if a token of ours bounds it. */
  readonly notAfter: number | undefined;
}

/**
 * The lineage of a token minted from `subject` (and `actor`); refuses a chain that would have
 * more than MAX_ANCESTORS ancestors, which bounds the reads every liveness check costs.
 */
export function lineage(subject: LineageSource, actor: LineageSource | undefined): Lineage {
  const parent = subject.record;
  const ancestors = new Set<string>();
  for (const token of [parent, actor?.record]) {
    if (!token) continue;
    for (const jti of token.ancestors) ancestors.add(jti);
    ancestors.add(token.jti);
  }
  if (ancestors.size > MAX_ANCESTORS) {
    throw invalidRequest('subject_token could not be verified', { reason: 'subject_token.chain_too_long' });
  }
  const actors: Identity[] = actor ? [{ issuer: actor.originIssuer, sub: actor.claims.sub }] : [];
  if (parent) actors.push(...parent.actors);
  const bounds = [parent?.exp, actor?.record?.exp].filter((exp): exp is number => exp !== undefined);
  return {
    parent: parent?.jti,
    root: parent ? (parent.root ?? parent.jti) : undefined,
    rootPolicy: parent ? (parent.rootPolicy ?? parent.policy) : undefined,
    ancestors: [...ancestors],
    actors,
    notAfter: bounds.length > 0 ? Math.min(...bounds) : undefined,
  };
}
