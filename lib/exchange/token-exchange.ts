// The RFC 8693 token exchange grant, as a pipeline: parse -> verify the subject (and actor) token
// -> decide (policy, lineage, lifetime: exchange-decision.ts, which `sts explain` runs too) -> bind (the DPoP proof, dpop-binding.ts) -> mint -> record the jti,
// spending one-time tokens in the same write -> respond. No token
// leaves unless its record was written. Each step adds to one typed audit record; a refusal is
// logged here (`token.refused`), an issued token too (`token.issued`), and a 5xx is logged once,
// by the caller's error handler (`request.failed`, lambdas/http.ts), with this audit attached.

import type { Config } from '../config/config.ts';
import { copyClaimPaths } from '../policy/claim-path.ts';
import { compilePolicies, type PolicyEngine } from '../policy/policy.ts';
import { type Clock, epochSeconds } from '../shared/clock.ts';
import type { DpopNonces } from '../shared/dpop-nonce.ts';
import { type MetricsWriter, noMetrics } from '../shared/emf.ts';
import { invalidRequest, OAuthError, toOAuthError } from '../shared/errors.ts';
import { attachLogFields, type Logger, tokenFingerprint } from '../shared/log.ts';
import type { Signer } from '../signers/signer.ts';
import type { OneTimeUse, TokenStore } from '../stores/store.ts';
import { mintAccessToken } from './access-token.ts';
import { createDpopBinding } from './dpop-binding.ts';
import { decideExchange, type ExchangeDecision } from './exchange-decision.ts';
import { createExchangeMetrics } from './exchange-metrics.ts';
import type { Form } from './form.ts';
import {
  createTokenVerifier,
  type TokenRole,
  type TokenVerifier,
  type VerifiedToken,
} from './subject-token.ts';
import { parseTokenExchangeRequest, type TokenExchangeRequest } from './token-request.ts';

export interface TokenResponse {
  readonly access_token: string;
  readonly issued_token_type: string;
  /** `DPoP` when the token is bound to the key of the request's proof (RFC 9449 §5). */
  readonly token_type: 'Bearer' | 'DPoP';
  readonly expires_in: number;
  readonly scope?: string;
}

/** What the audit log says about one exchange; each step fills in what it learned. */
export interface ExchangeAudit {
  /** SHA-256 prefix of the subject token (never the token). */
  subject_token?: string;
  target?: string;
  sub?: string;
  subject_issuer?: string;
  actor?: string;
  policy?: string;
  jti?: string;
  expires_in?: number;
  scope?: string;
  /** Whether the token is DPoP-bound, and to which key (a public thumbprint). */
  bound?: boolean;
  jkt?: string;
}

export interface TokenExchangeDeps {
  readonly config: Config;
  readonly signer: Signer;
  readonly store: TokenStore;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Used to fetch issuers' discovery documents and JWKS, and to call STS (tests inject one). */
  readonly fetch?: typeof fetch;
  /** `AWS_ENDPOINT_URL_STS`: the only STS endpoint signed AWS identities may name, when set. */
  readonly stsEndpoint?: string | undefined;
  /** Where the exchange's metrics go (M3, M4, M5, M7: exchange-metrics.ts); default none. */
  readonly metrics?: MetricsWriter;
  /** Stateless DPoP nonces; required when the config asks proofs for nonces. */
  readonly dpopNonces?: DpopNonces | undefined;
}

/** What the HTTP request says beside its form. */
export interface ExchangeContext {
  /** The `DPoP` header (RFC 9449), when present. */
  readonly dpop?: string | undefined;
}

export interface TokenExchange {
  exchange(form: Form, context?: ExchangeContext): Promise<TokenResponse>;
  readonly policies: PolicyEngine;
  readonly verifyToken: TokenVerifier;
}

interface Presented {
  readonly subject: VerifiedToken;
  readonly actor: VerifiedToken | undefined;
}

interface Issued {
  readonly token: string;
  readonly lifetime: number;
  readonly scope: string | undefined;
}

export function createTokenExchange(deps: TokenExchangeDeps): TokenExchange {
  const { config, signer, store, clock, logger } = deps;
  const policies = compilePolicies(config);
  const verifyToken = createTokenVerifier(deps);
  const recordMetrics = createExchangeMetrics(deps.metrics ?? noMetrics, config);
  const bindDpop = createDpopBinding({ ...deps, nonces: deps.dpopNonces });

  /** Verifies the subject and actor tokens concurrently. */
  async function verifyPresented(request: TokenExchangeRequest, audit: ExchangeAudit): Promise<Presented> {
    const [subject, actor] = await Promise.all([
      verifyToken(request.subjectToken, request.subjectTokenType, 'subject'),
      request.actorToken ? verifyToken(request.actorToken, request.actorTokenType!, 'actor') : undefined,
    ]);
    audit.sub = subject.claims.sub;
    audit.subject_issuer = subject.issuerName;
    if (actor) audit.actor = actor.claims.sub;
    return { subject, actor };
  }

  /** What spending a token from a `oneTimeUse` issuer writes: `SEEN#`, kept while it could verify. */
  function oneTimeUse(token: VerifiedToken | undefined, role: TokenRole): [TokenRole, OneTimeUse][] {
    if (token?.replay)
      return [[role, { issuer: token.replay.issuer, jti: token.replay.id, until: token.replay.until }]];
    if (!token?.issuer?.oneTimeUse) return [];
    // Kept until the token can no longer be accepted: its exp plus the clock skew we allow.
    const until = token.claims.exp + config.clockSkew;
    return [[role, { issuer: token.issuer.issuer, jti: token.claims.jti!, until }]];
  }

  /** Mints, spends one-time tokens, and records the jti: no token leaves unrecorded. */
  async function issue(
    request: TokenExchangeRequest,
    { subject, actor }: Presented,
    { grant, lineage: line, iat, lifetime }: ExchangeDecision,
    jkt: string | undefined,
    audit: ExchangeAudit,
  ): Promise<Issued> {
    const scope = grant.scopes.length > 0 ? grant.scopes.join(' ') : undefined;
    const minted = await mintAccessToken(signer, {
      iss: config.issuer,
      sub: subject.claims.sub,
      aud: request.target,
      clientId: grant.policy.clientId,
      scope,
      act: grant.act,
      iat,
      lifetime,
      copied: copyClaimPaths(subject.claims, grant.policy.copyClaims),
      sessionTags: grant.sessionTags,
      jkt,
    });
    audit.jti = minted.jti;
    // One-time tokens are spent only after signing succeeded, so a KMS fault (the likeliest one)
    // leaves the caller's token usable for a retry; they are spent together with the TOKEN#
    // record in one write round trip (store.ts). Racing uses: exactly one conditional write wins.
    const spend = [...oneTimeUse(subject, 'subject'), ...oneTimeUse(actor, 'actor')];
    const [first, second] = spend;
    if (second && first![1].issuer === second[1].issuer && first![1].jti === second[1].jti)
      throw invalidRequest('actor_token could not be verified', { reason: 'actor_token.replayed' });
    const replayed = await store.recordIssuedSpending(
      {
        jti: minted.jti,
        sub: subject.claims.sub,
        aud: request.target,
        clientId: grant.policy.clientId,
        scope,
        iat,
        exp: iat + lifetime,
        subjectIssuer: subject.origin,
        originIssuer: subject.originIssuer,
        policy: grant.policy.name,
        parent: line.parent,
        root: line.root,
        rootPolicy: line.rootPolicy,
        ancestors: line.ancestors,
        actors: line.actors,
        jkt,
      },
      spend.map(([, use]) => use),
    );
    if (replayed) {
      const role = spend.find(([, use]) => use === replayed)![0];
      throw invalidRequest(`${role}_token could not be verified`, { reason: `${role}_token.replayed` });
    }
    audit.expires_in = lifetime;
    audit.scope = scope;
    return { token: minted.token, lifetime, scope };
  }

  async function exchange(form: Form, context: ExchangeContext = {}): Promise<TokenResponse> {
    const started = performance.now();
    const audit: ExchangeAudit = {};
    const elapsed = () => Math.round((performance.now() - started) * 100) / 100;
    let policyMs: number | undefined;
    try {
      const request = parseTokenExchangeRequest(form);
      audit.subject_token = tokenFingerprint(request.subjectToken);
      audit.target = request.target;
      const presented = await verifyPresented(request, audit);
      const decision = timed(
        () =>
          decideExchange(
            policies,
            { ...presented, audience: request.target, scopes: request.scopes },
            epochSeconds(clock),
            // A refusal after a policy admitted (a chain too long, no life left) names the policy.
            (grant) => {
              audit.policy = grant.policy.name;
            },
          ),
        (ms) => {
          policyMs = ms;
        },
      );
      const { grant } = decision;
      const jkt = await bindDpop({ proof: context.dpop, ...presented, policy: grant.policy });
      audit.bound = jkt !== undefined;
      if (jkt !== undefined) audit.jkt = jkt;
      const issued = await issue(request, presented, decision, jkt, audit);
      const durationMs = elapsed();
      logger.info('token.issued', { ...audit, duration_ms: durationMs });
      recordMetrics({
        outcome: 'issued',
        policy: grant.policy.name,
        durationMs,
        policyMs: policyMs ?? 0,
        tokenBytes: issued.token.length,
      });
      return {
        access_token: issued.token,
        issued_token_type: request.issuedTokenType,
        token_type: jkt === undefined ? 'Bearer' : 'DPoP',
        expires_in: issued.lifetime,
        ...(issued.scope ? { scope: issued.scope } : {}),
      };
    } catch (thrown) {
      const error = toOAuthError(thrown);
      const fields = { ...audit, error: error.code, reason: error.reason, duration_ms: elapsed() };
      // A 5xx is logged once, as `request.failed` by the handler's error middleware, with these fields.
      if (error.status >= 500) attachLogFields(thrown, fields);
      else logger.info('token.refused', fields);
      recordMetrics({
        outcome: error.status >= 500 ? 'failed' : 'refused',
        reason: error.reason,
        durationMs: fields.duration_ms,
        policyMs,
      });
      throw error instanceof OAuthError ? error : thrown;
    }
  }

  return { exchange, policies, verifyToken };
}

/** Runs `fn` and reports its duration in milliseconds, whether it returned or threw. */
function timed<T>(fn: () => T, report: (ms: number) => void): T {
  const started = performance.now();
  try {
    return fn();
  } finally {
    report(performance.now() - started);
  }
}
