// DPoP at a resource server (RFC 9449 §7): a token presented with `Authorization: DPoP` must be
// bound (`cnf.jkt`), come with a proof for this request whose `ath` is the token's hash, signed
// by the bound key; a bound token presented as `Bearer` is refused by the verifier.
//
// Replays. A proof's `jti` is remembered in a bounded in-memory cache until the proof is too old
// to pass anyway (`maxAgeSeconds` + twice the clock tolerance). A fleet of verifier instances
// (Lambda containers, pods) shares nothing: a proof replayed to another instance within that
// window is accepted there once. It still names this method and URL, this very token (`ath`),
// and the key the attacker would need to make a new one, so the replay repeats the same request
// within a minute, nothing more. To close even that, pass `markUsed` backed by a shared store
// (a DynamoDB conditional put, as the STS token endpoint does), or require nonces. When the
// cache is full the oldest entries go first, which reopens their (short) window: size it above
// the proofs one instance sees per window.
import type { Clock } from '../shared/clock.ts';
import {
  boundJkt,
  DPOP_ALGORITHMS,
  type DpopAlgorithm,
  invalidDpopProof,
  verifyDpopProof,
} from '../shared/dpop.ts';
import { createDpopNonces, type DpopNonces } from '../shared/dpop-nonce.ts';
import { invalidToken } from '../shared/errors.ts';

export interface DpopVerifierOptions {
  /** Accepted proof algorithms (default: every asymmetric JWS algorithm, RFC 9449 §4.2). */
  readonly algorithms?: readonly DpopAlgorithm[];
  /** Seconds a proof is accepted after its `iat` (default 60). */
  readonly maxAgeSeconds?: number;
  /** Bound of the in-memory replay cache, in proofs (default 100 000). */
  readonly maxEntries?: number;
  /** A secret of 32+ bytes: when set, proofs must carry a nonce made from it (`use_dpop_nonce`). */
  readonly nonceSecret?: Uint8Array;
  /** A replay record shared by the fleet instead of the in-memory one (resolve false on a replay). */
  readonly markUsed?: (key: string, until: number) => Promise<boolean>;
}

/** What a resource server knows about the request a DPoP token came with. */
export interface DpopRequest {
  /** The `DPoP` header (undefined when absent). */
  readonly proof: string | undefined;
  readonly method: string;
  /** The public URL the client called (see the middleware's `publicUrl`). */
  readonly url: string;
}

export interface DpopCheck {
  /** Checks the proof of a verified token's request (`cnf`: the token's claim); throws a 401 `invalid_dpop_proof` or `invalid_token`. */
  (token: string, cnf: unknown, request: DpopRequest): Promise<void>;
  readonly algorithms: readonly DpopAlgorithm[];
  readonly nonces: DpopNonces | undefined;
}

/** A bounded memory of seen proofs: key -> epoch second until which it is kept. */
export function proofReplayCache(clock: Clock, maxEntries: number) {
  const seen = new Map<string, number>(); // insertion order is roughly expiry order
  return async (key: string, until: number): Promise<boolean> => {
    const now = Math.floor(clock() / 1000);
    for (const [oldest, expires] of seen) {
      if (expires > now && seen.size < maxEntries) break;
      seen.delete(oldest);
    }
    const known = seen.get(key);
    if (known !== undefined && known > now) return false;
    seen.set(key, until);
    return true;
  };
}

export function createDpopCheck(
  options: DpopVerifierOptions,
  clock: Clock,
  clockTolerance: number,
): DpopCheck {
  const algorithms = [...(options.algorithms ?? DPOP_ALGORITHMS)];
  if (algorithms.length === 0 || algorithms.some((alg) => !DPOP_ALGORITHMS.includes(alg))) {
    throw new TypeError(`dpop.algorithms: expected some of ${DPOP_ALGORITHMS.join(', ')}`);
  }
  const maxAgeSeconds = options.maxAgeSeconds ?? 60;
  const markUsed = options.markUsed ?? proofReplayCache(clock, Math.max(1, options.maxEntries ?? 100_000));
  const nonces = options.nonceSecret ? createDpopNonces({ secret: options.nonceSecret, clock }) : undefined;

  const check = async (token: string, cnf: unknown, request: DpopRequest) => {
    const jkt = boundJkt(cnf);
    if (jkt === undefined)
      throw invalidToken('the access token is not DPoP-bound', { reason: 'dpop_unbound' });
    if (jkt === 'unsupported') {
      throw invalidToken('the access token is invalid', { reason: 'cnf_unsupported' });
    }
    if (request.proof === undefined) throw invalidDpopProof('dpop.missing', 401);
    const proof = await verifyDpopProof(request.proof, {
      method: request.method,
      url: request.url,
      accessToken: token,
      algorithms,
      clock,
      maxAgeSeconds,
      clockSkew: clockTolerance,
      nonces,
      markUsed,
      status: 401,
    });
    if (proof.jkt !== jkt) throw invalidDpopProof('dpop.key_mismatch', 401);
  };
  return Object.assign(check, { algorithms, nonces });
}
