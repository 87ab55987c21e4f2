// Revocation of issued tokens: by the holder presenting the token (RFC 7009), and by an admin,
// by `jti` or for every token of a subject issued up to now (`SUBJECT#<hash of issuer, sub>`
// `revokedBefore`), which also cuts off the tokens that subject acts in and its upstream tokens.
// Whether a recorded token is still live is decided in one place, `readTokenState` in
// `shared/token-record.ts`; chained exchange, introspection and the downstream verifier's table
// check all read it (here through `recordedToken` and `tokenState`).

import type { Config, TrustedIssuerConfig } from '../config/config.ts';
import { type Form, formParams } from '../exchange/form.ts';
import type { OwnTokenVerifier } from '../exchange/own-token.ts';
import { type Clock, epochSeconds } from '../shared/clock.ts';
import { invalidRequest, OAuthError } from '../shared/errors.ts';
import { type Logger, tokenFingerprint } from '../shared/log.ts';
import { readTokenState, type TokenState } from '../shared/token-record.ts';
import type { TokenStore } from '../stores/store.ts';

export type { TokenState } from '../shared/token-record.ts';

/** Reads the token record, then its ancestors and identities (all strongly consistent), and decides. */
export const recordedToken = readTokenState;

/** The state of a recorded token at `now` (epoch seconds): `active`, `revoked`, `expired` or `unknown`. */
export async function tokenState(store: TokenStore, jti: string, now: number): Promise<TokenState> {
  return (await readTokenState(store, jti, now)).state;
}

export interface RevocationDeps {
  readonly config: Pick<Config, 'trustedIssuers'>;
  readonly store: TokenStore;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly verifyOwnToken: OwnTokenVerifier;
}

/** Who asked, for the audit log: `holder`, or the admin's principal (an IAM ARN on AWS). */
export type Revoker = 'holder' | { readonly admin: string };

export interface JtiRevocation {
  readonly jti: string;
  /** False when no token with this jti was ever recorded (or its record expired). */
  readonly revoked: boolean;
}

export interface SubjectRevocation {
  /** The issuer URL that vouches for `sub`. */
  readonly iss: string;
  readonly sub: string;
  /** Epoch seconds: every token of `sub` with `iat` before this is revoked. */
  readonly revoked_before: number;
}

export interface Revocation {
  /**
   * RFC 7009: revokes the token its holder presents. A token that is not ours, malformed,
   * wrongly signed or unknown is ignored (the endpoint answers 200 all the same); an expired but
   * validly signed token is revoked harmlessly. Only store outages throw.
   */
  revokeToken(token: string): Promise<void>;
  revokeJti(jti: string, by: Revoker): Promise<JtiRevocation>;
  /**
   * Revokes every token of a subject issued up to now, the tokens it acts in, and its upstream
   * tokens issued up to now. `iss` is a trusted issuer's name or URL; without it, the one trusted
   * issuer (400 `invalid_request` when several are trusted: a bare `sub` would be ambiguous).
   */
  revokeSubject(subject: SubjectName, by: Revoker): Promise<SubjectRevocation>;
}

const who = (by: Revoker): string => (by === 'holder' ? 'holder' : by.admin);

/** Finds the trusted issuer URL a revocation names (by name or URL), or refuses. */
function resolveIssuer(issuers: readonly TrustedIssuerConfig[], iss: string | undefined): string {
  if (iss === undefined) {
    if (issuers.length === 1) return issuers[0]!.issuer;
    throw invalidRequest('parameter iss is required when more than one issuer is trusted', {
      reason: 'request.ambiguous_subject',
    });
  }
  const found = issuers.find((trusted) => trusted.name === iss || trusted.issuer === iss);
  if (!found) throw invalidRequest('iss names no trusted issuer', { reason: 'request.unknown_issuer' });
  return found.issuer;
}

export function createRevocation(deps: RevocationDeps): Revocation {
  const { config, store, clock, logger, verifyOwnToken } = deps;

  return {
    async revokeToken(token) {
      const fingerprint = tokenFingerprint(token);
      let claims: Awaited<ReturnType<OwnTokenVerifier>>;
      try {
        // The signature proves the caller holds a token we issued: nobody revokes by guessing a jti.
        claims = await verifyOwnToken(token, { ignoreTime: true });
      } catch (error) {
        if (error instanceof OAuthError && error.status >= 500) throw error;
        logger.info('revocation.ignored', {
          token: fingerprint,
          by: 'holder',
          reason: error instanceof OAuthError ? error.reason : 'invalid',
        });
        return;
      }
      const revoked = await store.revokeToken(claims.jti, epochSeconds(clock));
      logger.info(revoked ? 'revocation.revoked' : 'revocation.ignored', {
        token: fingerprint,
        jti: claims.jti,
        sub: claims.sub,
        by: 'holder',
        ...(revoked ? {} : { reason: 'unknown_jti' }),
      });
    },

    async revokeJti(jti, by) {
      const revoked = await store.revokeToken(jti, epochSeconds(clock));
      logger.info(revoked ? 'revocation.revoked' : 'revocation.ignored', {
        jti,
        by: who(by),
        ...(revoked ? {} : { reason: 'unknown_jti' }),
      });
      return { jti, revoked };
    },

    async revokeSubject({ iss, sub }, by) {
      const issuer = resolveIssuer(config.trustedIssuers, iss);
      // `iat < revokedBefore` is revoked: +1 covers tokens issued during the current second.
      const before = epochSeconds(clock) + 1;
      await store.revokeSubject(issuer, sub, before);
      logger.info('revocation.subject_revoked', { iss: issuer, sub, revoked_before: before, by: who(by) });
      return { iss: issuer, sub, revoked_before: before };
    },
  };
}

/**
 * The RFC 7009 §2.1 and RFC 7662 §2.1 request: `token`, and an optional `token_type_hint` that
 * this service ignores (it has only one kind of token).
 */
export function parseTokenRequest(form: Form): { readonly token: string } {
  const { token } = formParams(form, ['token', 'token_type_hint']);
  if (!token) throw invalidRequest('parameter token is required', { reason: 'request.missing_token' });
  return { token };
}

/** A subject to revoke: `sub` as vouched for by `iss` (a trusted issuer's name or URL). */
export interface SubjectName {
  readonly iss?: string | undefined;
  readonly sub: string;
}

export type AdminRevocationRequest = { readonly jti: string } | SubjectName;

/**
 * `POST /admin/revoke`: exactly one of `jti` (one token) or `sub` (every token of a subject),
 * the latter with `iss` (the trusted issuer's name or URL) unless only one issuer is trusted.
 */
export function parseAdminRevocationRequest(form: Form): AdminRevocationRequest {
  const { jti, sub, iss } = formParams(form, ['jti', 'sub', 'iss']);
  if (jti && sub) {
    throw invalidRequest('exactly one of jti or sub may be given', { reason: 'request.jti_and_sub' });
  }
  if (jti && iss) throw invalidRequest('iss goes with sub, not jti', { reason: 'request.iss_without_sub' });
  if (jti) return { jti };
  if (sub) return iss ? { iss, sub } : { sub };
  throw invalidRequest('parameter jti or sub is required', { reason: 'request.missing_jti_or_sub' });
}
