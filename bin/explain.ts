// `sts explain`: the exchange's own decision (lib/exchange/exchange-decision.ts: policy, lineage,
// lifetime cap), run on a token (decoded, signature NOT verified) or a JSON object of bare claims,
// for one target and scopes. It tells which policy admits the request or why each one refuses,
// and warns about what verification would refuse. A token of this service is judged with its
// chain (origin, root policy, the life it has left), read from its `TOKEN#` record when the STS
// table is given (`--table`); offline those are unknown, and explain says so instead of guessing:
// a condition on them is undecided, and the lifetime is an upper bound.

import type { Config } from '../lib/config/config.ts';
import {
  chainOf,
  chainStartedBy,
  decideExchange,
  type ExchangeParty,
} from '../lib/exchange/exchange-decision.ts';
import {
  compilePolicies,
  type PolicyEngine,
  type PolicyVerdict,
  type PresentedToken,
} from '../lib/policy/policy.ts';
import { SELF_ISSUER } from '../lib/shared/claims.ts';
import { OAuthError } from '../lib/shared/errors.ts';
import { TOKEN_CHECKS, type TokenRole } from '../lib/shared/reasons.ts';
import {
  presentedTokenRevoked,
  readTokenState,
  recordRefusal,
  type TokenRecordReader,
  type TokenState,
} from '../lib/shared/token-record.ts';
import { type Presented, presentedWarnings, resolveIssuer } from './explain-presented.ts';

/** The chain of a token of this service, as its `TOKEN#` record tells it. */
export interface ChainSummary {
  /** The state of its `TOKEN#` record, or `not_read` (offline: origin and root policy unknown). */
  readonly record: TokenState | 'not_read';
  readonly origin: string | undefined;
  readonly rootPolicy: string | undefined;
  /** Epoch seconds: the record's `exp`, past which nothing minted from it may live. */
  readonly exp: number | undefined;
}

export interface PartySummary {
  readonly issuerName: string;
  readonly iss: unknown;
  readonly sub: unknown;
  /** For a token of this service only. */
  readonly chain?: ChainSummary;
}

export interface ExplainReport {
  /** True only when the service would admit the request (as far as explain can tell unverified). */
  readonly admitted: boolean;
  readonly admittedBy: string | undefined;
  /** False when a JWT was decoded without verifying it; null for bare claims. */
  readonly signatureVerified: false | null;
  readonly subject: PartySummary;
  readonly actor: PartySummary | undefined;
  readonly audience: string;
  readonly scopes: readonly string[];
  readonly grant:
    | {
        /** Seconds: what the service grants, or, when `lifetimeExact` is false, an upper bound. */
        readonly lifetime: number;
        /** False offline with a token of ours: its remaining life (the cap) was not read. */
        readonly lifetimeExact: boolean;
        readonly scope: string;
        readonly act: unknown;
      }
    | undefined;
  /**
   * Policies that would admit the request but for an `origin` or `rootPolicy` condition on a
   * chain that was not read, when one of them comes first: which policy admits is then unknown.
   */
  readonly undecided: readonly string[];
  /** The service's answer when it refuses: error code, private reason, and what it means. */
  readonly refusal:
    | { readonly error: string; readonly reason: string; readonly description: string }
    | undefined;
  readonly verdicts: readonly PolicyVerdict[];
  readonly warnings: readonly string[];
}

export interface ExplainInput {
  readonly config: Config;
  readonly subject: Presented;
  readonly subjectIssuer?: string | undefined;
  readonly actor?: Presented | undefined;
  readonly actorIssuer?: string | undefined;
  readonly audience: string;
  readonly scopes: readonly string[];
  /** Epoch seconds. */
  readonly now: number;
  /** Reads of the STS table (`--table`); absent: offline, the chain of a token of ours is unknown. */
  readonly records?: TokenRecordReader | undefined;
}

type Refusal = NonNullable<ExplainReport['refusal']>;

/** A presented token as the decision will see it, and what stands in the way of deciding. */
interface Party {
  readonly token: PresentedToken;
  /** Set when every fact the decision reads is known (an `ExchangeParty`). */
  readonly known: ExchangeParty | undefined;
  readonly chain: ChainSummary | undefined;
  /** The verification step that refuses it, known from its claims or its record. */
  readonly refusal: Refusal | undefined;
}

const tokenRefusal = (role: TokenRole, check: keyof typeof TOKEN_CHECKS): Refusal => ({
  error: 'invalid_request',
  reason: `${role}_token.${check}`,
  description: `${role} token: ${TOKEN_CHECKS[check]}`,
});

/**
 * The facts the exchange has about a token: for one of ours, those of its `TOKEN#` record (and
 * their liveness); for a trusted issuer's, with the table read, its subject's revocation.
 */
async function partyOf(
  name: string,
  token: Presented,
  role: TokenRole,
  input: ExplainInput,
  warnings: string[],
): Promise<Party> {
  const { claims } = token;
  const sub = typeof claims.sub === 'string' && claims.sub.length > 0 ? claims.sub : undefined;
  const missingSub = sub === undefined ? tokenRefusal(role, 'missing_sub') : undefined;
  /** With the table read: whether the subject's revocation (`SUBJECT#`) cuts this token off. */
  const cutOff = async (): Promise<Refusal | undefined> => {
    const trusted = input.config.trustedIssuers.find((issuer) => issuer.name === name);
    if (!input.records || !trusted || sub === undefined) return undefined;
    const revokedBefore = await input.records.subjectRevokedBefore(trusted.issuer, sub);
    const iat = typeof claims.iat === 'number' ? claims.iat : undefined;
    const revoked = presentedTokenRevoked(iat, revokedBefore, trusted.maxTokenAge, input.now);
    return revoked ? tokenRefusal(role, 'revoked') : undefined;
  };
  if (name !== SELF_ISSUER) {
    // As the verifier sets them for a trusted issuer's token (lib/exchange/subject-token.ts).
    const originIssuer = typeof claims.iss === 'string' ? claims.iss : '';
    const presented = { issuerName: name, ...chainStartedBy(name, originIssuer), claims };
    const known =
      sub === undefined ? undefined : { ...presented, claims: { ...claims, sub }, record: undefined };
    return { token: presented, known, chain: undefined, refusal: missingSub ?? (await cutOff()) };
  }
  const unread: Party = {
    token: { issuerName: name, claims },
    known: undefined,
    chain: { record: 'not_read', origin: undefined, rootPolicy: undefined, exp: undefined },
    refusal: missingSub,
  };
  if (!input.records) {
    warnings.push(
      `${role} is a token of this service: its chain (origin, rootPolicy, remaining life) is in its TOKEN# record, not read offline (give --table to read it)`,
    );
    return unread;
  }
  if (typeof claims.jti !== 'string') return { ...unread, refusal: tokenRefusal(role, 'missing_jti') };
  const { state, record } = await readTokenState(input.records, claims.jti, input.now);
  const dead = recordRefusal(state);
  if (!record)
    return {
      ...unread,
      chain: { ...unread.chain!, record: state },
      refusal: tokenRefusal(role, dead ?? 'self_unknown_jti'),
    };
  const chain = chainOf(record);
  const presented = { issuerName: name, ...chain, claims };
  return {
    token: presented,
    known: sub === undefined ? undefined : { ...presented, claims: { ...claims, sub } },
    chain: { record: state, origin: chain.origin, rootPolicy: chain.rootPolicy, exp: record.exp },
    refusal: missingSub ?? (dead ? tokenRefusal(role, dead) : undefined),
  };
}

/** The error the service answers, from an OAuthError thrown by the decision. */
function refusalOf(error: unknown): Refusal {
  if (!(error instanceof OAuthError)) throw error;
  return { error: error.code, reason: error.reason, description: error.description };
}

/**
 * The policies that decide nothing yet: each refuses only for a condition on an unknown chain,
 * and comes before the first that admits (so which one admits is unknown).
 */
function undecidedPolicies(verdicts: readonly PolicyVerdict[]): string[] {
  const undecided: string[] = [];
  for (const verdict of verdicts) {
    if (verdict.admits) break;
    if (verdict.refusals.every((refusal) => refusal === 'chain_unknown')) undecided.push(verdict.policy);
  }
  return undecided;
}

/** What the exchange would decide, and why: the service's decision on what explain could read. */
export async function explainExchange(input: ExplainInput): Promise<ExplainReport> {
  const { config, audience, scopes, now } = input;
  const warnings: string[] = [];
  const present = async (token: Presented, override: string | undefined, role: TokenRole) => {
    const name = resolveIssuer(config, token, override, role, warnings);
    warnings.push(...presentedWarnings(config, token, name, role, now));
    return partyOf(name, token, role, input, warnings);
  };
  const subject = await present(input.subject, input.subjectIssuer, 'subject');
  const actor = input.actor ? await present(input.actor, input.actorIssuer, 'actor') : undefined;
  const engine = compilePolicies(config);
  const request = { subject: subject.token, actor: actor?.token, audience, scopes };
  const { verdicts } = engine.explain(request);
  const outcome = decide(engine, subject, actor, { audience, scopes, now }, verdicts);
  const summary = (party: Party): PartySummary => ({
    issuerName: party.token.issuerName,
    iss: party.token.claims.iss,
    sub: party.token.claims.sub,
    ...(party.chain ? { chain: party.chain } : {}),
  });
  const anyJwt = input.subject.header !== undefined || input.actor?.header !== undefined;
  return {
    admitted: outcome.grant !== undefined,
    admittedBy: outcome.admittedBy,
    signatureVerified: anyJwt ? false : null,
    subject: summary(subject),
    actor: actor ? summary(actor) : undefined,
    audience,
    scopes,
    grant: outcome.grant,
    undecided: outcome.undecided,
    refusal: outcome.refusal,
    verdicts,
    warnings,
  };
}

type Outcome = Pick<ExplainReport, 'admittedBy' | 'grant' | 'undecided' | 'refusal'>;

function decide(
  engine: PolicyEngine,
  subject: Party,
  actor: Party | undefined,
  target: { readonly audience: string; readonly scopes: readonly string[]; readonly now: number },
  verdicts: readonly PolicyVerdict[],
): Outcome {
  const refused = (refusal: Refusal | undefined): Outcome => ({
    admittedBy: undefined,
    grant: undefined,
    undecided: [],
    refusal,
  });
  const verification = subject.refusal ?? actor?.refusal;
  if (verification) return refused(verification);
  if (subject.known && (!actor || actor.known)) {
    // Every fact is known: the exchange's own decision, lifetime cap and all.
    try {
      const facts = { subject: subject.known, actor: actor?.known, ...target };
      const { grant, lifetime } = decideExchange(engine, facts, target.now);
      return {
        admittedBy: grant.policy.name,
        grant: { lifetime, lifetimeExact: true, scope: grant.scopes.join(' '), act: grant.act },
        undecided: [],
        refusal: undefined,
      };
    } catch (error) {
      return refused(refusalOf(error));
    }
  }
  // A token of ours whose record was not read: conditions on its chain are undecided, and its
  // remaining life, which caps the lifetime, is unknown.
  const undecided = undecidedPolicies(verdicts);
  if (undecided.length > 0) return { ...refused(undefined), undecided };
  const request = { subject: subject.token, actor: actor?.token, ...target };
  try {
    const grant = engine.decide(request);
    return {
      admittedBy: grant.policy.name,
      grant: {
        lifetime: grant.lifetime,
        lifetimeExact: false,
        scope: grant.scopes.join(' '),
        act: grant.act,
      },
      undecided: [],
      refusal: undefined,
    };
  } catch (error) {
    return refused(refusalOf(error));
  }
}
