// Verification of presented tokens (subject and actor): one pre-check (presented-token.ts: size,
// strict shape, forbidden headers), then the verifier chosen once by exact `iss`: a trusted
// issuer's pinned algorithms and audiences, keys only from its own JWKS, time claims with a small
// skew, and the subject's revocation (`SUBJECT#`, issue 12); or for this service's own tokens, the
// own-token check (own-token.ts: exact `exp`, low-S) and the one liveness decision
// (shared/token-record.ts). The token is parsed once: jose checks only the signature.

import type { JWTPayload } from 'jose';
import type { Config, TrustedIssuerConfig } from '../config/config.ts';
import { recordedToken } from '../revocation/revocation.ts';
import { AWS_IDENTITY_ISSUER } from '../shared/aws-request.ts';
import { SELF_ISSUER, TOKEN_TYPE, type VerifyAlgorithm } from '../shared/claims.ts';
import { type Clock, epochSeconds } from '../shared/clock.ts';
import { boundJkt } from '../shared/dpop.ts';
import { invalidRequest } from '../shared/errors.ts';
import { type KeyResolver, localKeySet, remoteKeySet } from '../shared/key-sets.ts';
import { type Refuse, verifyPinnedJwt } from '../shared/pinned-jwt.ts';
import type { TokenRole } from '../shared/reasons.ts';
import { presentedTokenRevoked, recordRefusal, type TokenRecord } from '../shared/token-record.ts';
import type { Signer } from '../signers/signer.ts';
import type { TokenStore } from '../stores/store.ts';
import { createAwsIdentityVerifier } from './aws-identity.ts';
import { chainOf, chainStartedBy } from './exchange-decision.ts';
import { createOwnTokenCheck, OWN_ALGORITHMS } from './own-token.ts';
import { AT_JWT, precheckToken } from './presented-token.ts';

export type { TokenRole };

export interface VerifiedToken {
  /** The trusted issuer's name, or `self`. */
  readonly issuerName: string;
  readonly issuer: TrustedIssuerConfig | undefined;
  /**
   * The trusted issuer that first vouched for `sub`: the issuer's own name, or for a token minted
   * here, the origin recorded in its `TOKEN#` item. Policies on `self` can require it (`origin`).
   */
  readonly origin: string;
  /** For a token minted here, the policy that minted the first token of its chain. */
  readonly rootPolicy: string | undefined;
  /** The URL of that issuer (`iss` of the token that started the chain). */
  readonly originIssuer: string;
  /** For a token minted here, its `TOKEN#` record (parent, ancestors, actors, lifetime). */
  readonly record: TokenRecord | undefined;
  readonly claims: JWTPayload & { sub: string; exp: number };
  /** A signed AWS request is accepted once: the `SEEN#` record that spends it (aws-identity.ts). */
  readonly replay?: { readonly issuer: string; readonly id: string; readonly until: number } | undefined;
  /** `cnf.jkt` of a DPoP-bound token (RFC 9449): the key whose proof must come with it. */
  readonly jkt: string | undefined;
}

interface IssuerEntry {
  readonly name: string;
  readonly config: TrustedIssuerConfig | undefined;
  readonly algorithms: readonly VerifyAlgorithm[];
  readonly audiences: readonly string[];
  readonly keys: KeyResolver;
}

export interface TokenVerifierDeps {
  readonly config: Config;
  readonly signer: Signer;
  readonly store: TokenStore;
  readonly clock: Clock;
  readonly fetch?: typeof fetch;
  /** `AWS_ENDPOINT_URL_STS`, for IAM callers (aws-identity.ts). */
  readonly stsEndpoint?: string | undefined;
}

export type TokenVerifier = (token: string, tokenType: string, role: TokenRole) => Promise<VerifiedToken>;

export function createTokenVerifier(deps: TokenVerifierDeps): TokenVerifier {
  const { config, clock } = deps;
  const byIssuer = new Map<string, IssuerEntry>();
  const verifyAwsIdentity = createAwsIdentityVerifier(deps);
  for (const trusted of config.trustedIssuers) {
    byIssuer.set(trusted.issuer, {
      name: trusted.name,
      config: trusted,
      algorithms: trusted.algorithms,
      audiences: trusted.audiences,
      keys: remoteKeySet({ issuer: trusted.issuer, jwksUri: trusted.jwksUri, clock, fetch: deps.fetch }),
    });
  }
  const self: IssuerEntry = {
    name: SELF_ISSUER,
    config: undefined,
    algorithms: OWN_ALGORITHMS,
    audiences: [config.issuer],
    keys: localKeySet(() => deps.signer.publicKeys()),
  };
  byIssuer.set(config.issuer, self);
  // The one check of this service's own tokens, shared with introspection and revocation.
  const checkOwnToken = createOwnTokenCheck({ ...deps, keys: self.keys });

  return async (token, tokenType, role) => {
    if (tokenType === TOKEN_TYPE.awsRequest) {
      // An IAM caller: a signed STS GetCallerIdentity request, not a JWT.
      const { issuer, claims, replay } = await verifyAwsIdentity(token, role);
      return {
        issuerName: issuer.name,
        issuer: undefined,
        ...chainStartedBy(issuer.name, AWS_IDENTITY_ISSUER),
        record: undefined,
        claims,
        replay,
        // A signed AWS request carries no cnf: nothing binds it to a DPoP key.
        jkt: undefined,
      };
    }
    const refuse: Refuse = (reason, cause) =>
      invalidRequest(`${role}_token could not be verified`, { reason: `${role}_token.${reason}`, cause });

    // Read once; the verifier is chosen once, by the exact `iss` of what was read.
    const read = precheckToken(token, config.maxTokenBytes, refuse);
    const { header, payload } = read;
    const entry = typeof payload.iss === 'string' ? byIssuer.get(payload.iss) : undefined;
    if (!entry) throw refuse('untrusted_issuer');
    if (typeof header.alg !== 'string' || !entry.algorithms.includes(header.alg as VerifyAlgorithm)) {
      throw refuse('alg_not_allowed');
    }
    const typ = typeof header.typ === 'string' ? header.typ : undefined;
    const isAccessTokenJwt = typ !== undefined && AT_JWT.test(typ);
    if (entry === self) {
      // Our own tokens are RFC 9068 access tokens: never an ID token, never without typ.
      if (!isAccessTokenJwt) throw refuse('self_not_at_jwt');
      if (tokenType === TOKEN_TYPE.idToken) throw refuse('token_type_mismatch');
    } else if (tokenType === TOKEN_TYPE.idToken && isAccessTokenJwt) {
      throw refuse('token_type_mismatch');
    }

    const claims: JWTPayload =
      entry === self
        ? await checkOwnToken(read, { audience: config.issuer }, refuse)
        : await verifyPinnedJwt(
            read,
            {
              issuer: payload.iss as string,
              audience: [...entry.audiences],
              algorithms: [...entry.algorithms],
              keys: entry.keys,
              clockSkew: config.clockSkew,
              clock,
            },
            refuse,
          );
    if (typeof claims.sub !== 'string' || claims.sub.length === 0) throw refuse('missing_sub');
    // An actor token that is itself delegated would put its own actors out of sight: only its
    // `sub` lands in the new `act`, past every actors rule and maxDelegationDepth. Refused.
    if (role === 'actor' && claims.act !== undefined) throw refuse('nested_act');
    // An external `act` names an actor no policy here vetted; carried on, it would become the
    // current actor (RFC 8693 §4.1) of the minted token. Only this service's own `act` chains on.
    if (entry !== self && claims.act !== undefined) throw refuse('external_act');
    // A sender-constrained token is useless to a thief without its key. A DPoP binding (`jkt`) is
    // checked against the request's proof (dpop-binding.ts); any other kind (mTLS `x5t#S256`)
    // cannot be checked here, and exchanging it would strip the binding: refused.
    const jkt = boundJkt(claims.cnf);
    if (jkt === 'unsupported') throw refuse('cnf_unsupported');

    const now = epochSeconds(clock);
    if (entry === self) {
      if (typeof claims.jti !== 'string') throw refuse('missing_jti');
      // The one liveness decision: record, ancestors, subject and actors (shared/token-record.ts).
      const { state, record } = await recordedToken(deps.store, claims.jti, now);
      const dead = recordRefusal(state);
      if (dead || !record) throw refuse(dead ?? 'self_unknown_jti');
      return {
        issuerName: entry.name,
        issuer: undefined,
        ...chainOf(record),
        claims: claims as VerifiedToken['claims'],
        jkt,
      };
    }
    const trusted = entry.config!;
    if (trusted.oneTimeUse && typeof claims.jti !== 'string') throw refuse('missing_jti');
    // A subject-wide revocation cuts off the upstream tokens issued before it. A token without
    // `iat` may predate it: refused until `revokedBefore + maxTokenAge`, and, so that this bound
    // holds, refused whenever it would live longer than maxTokenAge from now.
    const iat = typeof claims.iat === 'number' ? claims.iat : undefined;
    if (iat === undefined && (claims.exp as number) - now > trusted.maxTokenAge)
      throw refuse('outlives_max_token_age');
    const revokedBefore = await deps.store.subjectRevokedBefore(trusted.issuer, claims.sub);
    if (presentedTokenRevoked(iat, revokedBefore, trusted.maxTokenAge, now)) throw refuse('revoked');

    return {
      issuerName: entry.name,
      issuer: trusted,
      ...chainStartedBy(entry.name, trusted.issuer),
      record: undefined,
      claims: claims as VerifiedToken['claims'],
      jkt,
    };
  };
}
