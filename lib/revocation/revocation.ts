// Revocation of issued tokens: by the holder presenting the token (RFC 7009), and by an admin,
// by `jti` or for every token of a subject issued up to now (`SUBJECT#<sub>` `revokedBefore`).
// Whether a recorded token is still live is decided in one place, `readTokenState` in
// `shared/token-record.ts`; chained exchange, introspection and the downstream verifier's table
// check all read it (here through `recordedToken` and `tokenState`).

import { type Form, formParams } from '../exchange/form.ts';
import type { OwnTokenVerifier } from '../exchange/own-token.ts';
import { type Clock, epochSeconds } from '../shared/clock.ts';
import { invalidRequest, OAuthError } from '../shared/errors.ts';
import { type Logger, tokenFingerprint } from '../shared/log.ts';
import { readTokenState, type TokenState } from '../shared/token-record.ts';
import type { TokenStore } from '../stores/store.ts';

export type { TokenState } from '../shared/token-record.ts';

/** Reads the token record and its subject's `revokedBefore` (both strongly consistent) in parallel. */
export const recordedToken = readTokenState;

/** The state of a recorded token: `active`, `revoked`, or `unknown` (never recorded here). */
export async function tokenState(store: TokenStore, jti: string, sub: string): Promise<TokenState> {
  return (await readTokenState(store, jti, sub)).state;
}

export interface RevocationDeps {
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
  revokeSubject(sub: string, by: Revoker): Promise<SubjectRevocation>;
}

const who = (by: Revoker): string => (by === 'holder' ? 'holder' : by.admin);

export function createRevocation(deps: RevocationDeps): Revocation {
  const { store, clock, logger, verifyOwnToken } = deps;

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

    async revokeSubject(sub, by) {
      // `iat < revokedBefore` is revoked: +1 covers tokens issued during the current second.
      const before = epochSeconds(clock) + 1;
      await store.revokeSubject(sub, before);
      logger.info('revocation.subject_revoked', { sub, revoked_before: before, by: who(by) });
      return { sub, revoked_before: before };
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

export type AdminRevocationRequest = { readonly jti: string } | { readonly sub: string };

/** `POST /admin/revoke`: exactly one of `jti` (one token) or `sub` (every token of a subject). */
export function parseAdminRevocationRequest(form: Form): AdminRevocationRequest {
  const { jti, sub } = formParams(form, ['jti', 'sub']);
  if (jti && sub) {
    throw invalidRequest('exactly one of jti or sub may be given', { reason: 'request.jti_and_sub' });
  }
  if (jti) return { jti };
  if (sub) return { sub };
  throw invalidRequest('parameter jti or sub is required', { reason: 'request.missing_jti_or_sub' });
}
