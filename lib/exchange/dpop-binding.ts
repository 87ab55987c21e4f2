// Sender-constrained exchange (RFC 9449 at the token endpoint): which key, if any, the new token
// is bound to. A `DPoP` proof is checked against the public URL of the token endpoint (the
// issuer + `/token`, never the Host header or an internal hostname: behind an API Gateway custom
// domain the issuer is that domain), and its `jti` is spent with a conditional put
// (`SEEN#dpop#<digest>`), so a replay is refused by every Lambda container. Then:
//
// - whoever will use the new token proves possession: the actor when there is one, else the
//   subject. A bound presenter token (`cnf.jkt`) needs a proof by that very key;
// - a bound subject token with an actor needs a proof too (by the actor's key when the actor
//   token is bound): a bound token never comes out of an exchange as a bearer token;
// - a policy with `requireDpop` admits only requests with a proof;
// - the new token is bound to the prover's key (`cnf.jkt`), or unbound without a proof.
import type { Config, PolicyConfig } from '../config/config.ts';
import type { Clock } from '../shared/clock.ts';
import { invalidDpopProof, verifyDpopProof } from '../shared/dpop.ts';
import type { DpopNonces } from '../shared/dpop-nonce.ts';
import { OAuthError } from '../shared/errors.ts';
import type { TokenStore } from '../stores/store.ts';
import type { TokenRole, VerifiedToken } from './subject-token.ts';

/** The pseudo-issuer of spent proofs in `SEEN#`: never a trusted issuer, which are URLs. */
export const DPOP_SEEN_ISSUER = 'dpop';

export interface DpopBindingDeps {
  readonly config: Config;
  readonly store: TokenStore;
  readonly clock: Clock;
  /** Present when the config requires nonces (`dpop.requireNonce`). */
  readonly nonces?: DpopNonces | undefined;
}

export interface BindingInput {
  /** The request's `DPoP` header, when it has one. */
  readonly proof: string | undefined;
  readonly subject: VerifiedToken;
  readonly actor: VerifiedToken | undefined;
  readonly policy: PolicyConfig;
}

/** Resolves to the `jkt` the new token is bound to (undefined: a bearer token), or throws. */
export type DpopBinding = (input: BindingInput) => Promise<string | undefined>;

/** The public URL of the token endpoint, as metadata advertises it: a proof's `htu`. */
export const tokenEndpointUrl = (issuer: string): string => `${issuer.replace(/\/$/, '')}/token`;

const proofRequired = (role: TokenRole) =>
  new OAuthError('invalid_dpop_proof', 400, 'a DPoP proof is required', {
    reason: `${role}_token.sender_constrained`,
  });

export function createDpopBinding(deps: DpopBindingDeps): DpopBinding {
  const { config, store, clock } = deps;
  if (config.dpop.requireNonce && !deps.nonces) throw new TypeError('dpop.requireNonce: nonces are required');
  const url = tokenEndpointUrl(config.issuer);

  return async ({ proof, subject, actor, policy }) => {
    const verified =
      proof === undefined
        ? undefined
        : await verifyDpopProof(proof, {
            method: 'POST',
            url,
            clock,
            maxAgeSeconds: config.dpop.proofMaxAge,
            clockSkew: config.clockSkew,
            nonces: config.dpop.requireNonce ? deps.nonces : undefined,
            markUsed: (key, until) => store.markSubjectTokenUsed(DPOP_SEEN_ISSUER, key, until),
          });
    const [presenter, role]: [VerifiedToken, TokenRole] = actor ? [actor, 'actor'] : [subject, 'subject'];
    if (presenter.jkt !== undefined) {
      if (!verified) throw proofRequired(role);
      if (verified.jkt !== presenter.jkt) throw invalidDpopProof(`dpop.${role}_key_mismatch`);
    }
    if (subject.jkt !== undefined && !verified) throw proofRequired('subject');
    if (policy.requireDpop && !verified) {
      throw new OAuthError('invalid_dpop_proof', 400, 'a DPoP proof is required', {
        reason: 'dpop.required',
      });
    }
    return verified?.jkt;
  };
}
