// DPoP proofs (RFC 9449): the one check of a `DPoP` proof JWT, shared by the token endpoint
// (lib/exchange) and the downstream verifier (lib/verify). It follows §4.3 in order: one proof,
// a strict compact JWS, `typ: dpop+jwt`, an asymmetric `alg` from a pinned list, a public `jwk`
// with no private members (the only header key this project ever verifies with, and it proves
// possession, never a token), `htm`/`htu` of this request (query and fragment ignored, URLs
// compared after WHATWG normalisation), `iat` inside a short window, `ath` when an access token
// comes with the proof, a server nonce when required, and a `jti` not seen before in the window.
// What "seen" means is the caller's: a conditional write in the table at the token endpoint (it
// holds across Lambda containers), a bounded memory cache in a verifier.
import { createHash } from 'node:crypto';
import { type CryptoKey, calculateJwkThumbprint, compactVerify, EmbeddedJWK, type JWK } from 'jose';
import { type Clock, epochSeconds } from './clock.ts';
import { accessTokenHash, dpopHtu } from './dpop-claims.ts';
import type { DpopNonces } from './dpop-nonce.ts';
import { OAuthError } from './errors.ts';
import { readCompactJws } from './jws.ts';
import type { Reason } from './reasons.ts';

/** Asymmetric JWS algorithms a proof may use (RFC 9449 §4.2: never `none`, never a MAC). */
export const DPOP_ALGORITHMS = [
  'ES256',
  'ES384',
  'ES512',
  'PS256',
  'PS384',
  'PS512',
  'RS256',
  'RS384',
  'RS512',
  'EdDSA',
] as const;
export type DpopAlgorithm = (typeof DPOP_ALGORITHMS)[number];
/** The registered reasons of a refused proof (lib/shared/reasons.ts). */
export type DpopReason = Extract<Reason, `dpop.${string}`>;

/** JWK members that carry private or symmetric key material: a proof's `jwk` has none of them. */
const PRIVATE_MEMBERS = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'oth', 'k'] as const;
/** Header members that point at other keys or change how the payload is read. */
const FORBIDDEN_HEADERS = ['jku', 'x5u', 'x5c', 'crit', 'b64', 'zip', 'enc'] as const;
const KEY_TYPES = new Set(['EC', 'RSA', 'OKP']);
/** A proof is a few hundred bytes; an RSA-4096 key makes it about 1.5 KiB. */
const MAX_PROOF_BYTES = 8192;
const MAX_JTI_CHARS = 256;

interface ProofKey {
  readonly key: CryptoKey;
  /** The key's RFC 7638 thumbprint. */
  readonly jkt: string;
}
/**
 * Keys that verified a proof, by the SHA-256 of the proof's protected header segment (which holds
 * the whole `jwk` and the `alg`): importing a key costs more than checking a signature with it
 * (about 210 and 190 µs for ES256), and the thumbprint 40 µs more. The same header bytes mean the
 * same key and the same checks, so a hit skips only the import and the thumbprint; every
 * signature is still verified. Least recently used out first, bounded (512 entries of 43-char
 * keys).
 */
const proofKeys = new Map<string, ProofKey>();
const PROOF_KEYS_MAX = 512;

function rememberProofKey(headerId: string, entry: ProofKey): void {
  proofKeys.delete(headerId);
  if (proofKeys.size >= PROOF_KEYS_MAX) proofKeys.delete(proofKeys.keys().next().value!);
  proofKeys.set(headerId, entry);
}

export interface DpopProofCheck {
  /** The HTTP method of this request. */
  readonly method: string;
  /** The public URL of this request (what the client called); query and fragment are ignored. */
  readonly url: string;
  /** The access token presented with the proof (resource servers): the proof's `ath` must be its hash. */
  readonly accessToken?: string | undefined;
  readonly algorithms?: readonly DpopAlgorithm[];
  readonly clock: Clock;
  /** Seconds a proof stays acceptable after its `iat`. */
  readonly maxAgeSeconds: number;
  /** Seconds of tolerance for an `iat` in the future (and past the window). */
  readonly clockSkew: number;
  /** When set, the proof must carry one of these nonces (`use_dpop_nonce` otherwise). */
  readonly nonces?: DpopNonces | undefined;
  /**
   * Records the first use of a proof: `key` is a digest of its key thumbprint and `jti`, `until`
   * the epoch second after which the proof is refused for age anyway. Resolves false on a replay.
   */
  readonly markUsed: (key: string, until: number) => Promise<boolean>;
  /** 400 at the token endpoint (RFC 9449 §5), 401 at a resource server (§7.1). Default 400. */
  readonly status?: 400 | 401;
}

export interface VerifiedDpopProof {
  /** RFC 7638 SHA-256 thumbprint of the proof's key: what `cnf.jkt` binds to. */
  readonly jkt: string;
  readonly jti: string;
  readonly iat: number;
}

export { accessTokenHash, dpopHtu };

/**
 * The key thumbprint a token is bound to: `cnf.jkt`; undefined for an unbound token. A `cnf` of
 * any other shape (an mTLS `x5t#S256`, or `jkt` beside another confirmation method) is one this
 * service cannot check: `unsupported`.
 */
export function boundJkt(cnf: unknown): string | undefined | 'unsupported' {
  if (cnf === undefined) return undefined;
  if (typeof cnf !== 'object' || cnf === null || Array.isArray(cnf)) return 'unsupported';
  const members = Object.keys(cnf);
  const jkt = (cnf as { jkt?: unknown }).jkt;
  if (members.length !== 1 || typeof jkt !== 'string' || !/^[A-Za-z0-9_-]{43}$/.test(jkt)) {
    return 'unsupported';
  }
  return jkt;
}

/** The proof-specific refusal: `invalid_dpop_proof` with a private reason. */
export function invalidDpopProof(reason: DpopReason, status: 400 | 401 = 400, cause?: unknown): OAuthError {
  return new OAuthError('invalid_dpop_proof', status, 'the DPoP proof is invalid', { reason, cause });
}

/** `use_dpop_nonce` with the nonce to use in `DPoP-Nonce` (RFC 9449 §8). */
export function useDpopNonce(
  nonce: string,
  reason: 'dpop.nonce_missing' | 'dpop.nonce_stale',
  status: 400 | 401 = 400,
): OAuthError {
  return new OAuthError('use_dpop_nonce', status, 'the DPoP proof must carry the server-provided nonce', {
    reason,
    headers: { 'DPoP-Nonce': nonce },
  });
}

/** Whether a value is a string of 1..max characters. */
const text = (value: unknown, max = 2048): value is string =>
  typeof value === 'string' && value.length > 0 && value.length <= max;

/**
 * Verifies the `DPoP` header of one request (RFC 9449 §4.3) and returns the proof's key
 * thumbprint. Throws `invalid_dpop_proof` or `use_dpop_nonce` (status 400 or 401 as asked);
 * a failure of `markUsed` (the store) passes through.
 *
 * @example
 * const { jkt } = await verifyDpopProof(event.headers.dpop, {
 *   method: 'POST', url: 'https://sts.example.com/token', clock, maxAgeSeconds: 60,
 *   clockSkew: 30, markUsed: (key, until) => store.markSubjectTokenUsed('dpop', key, until),
 * });
 */
export async function verifyDpopProof(proof: string, check: DpopProofCheck): Promise<VerifiedDpopProof> {
  const status = check.status ?? 400;
  const refuse = (reason: DpopReason, cause?: unknown) => invalidDpopProof(reason, status, cause);
  // Several DPoP header fields arrive joined by commas; a JWS never contains one.
  if (proof.includes(',')) throw refuse('dpop.multiple_proofs');
  if (proof.length > MAX_PROOF_BYTES) throw refuse('dpop.too_large');
  const token = proof.trim();
  if (token.length === 0) throw refuse('dpop.empty');
  let header: Readonly<Record<string, unknown>>;
  let payload: Readonly<Record<string, unknown>>;
  try {
    ({ header, payload } = readCompactJws(token));
  } catch (error) {
    throw refuse('dpop.malformed', error);
  }

  if (typeof header.typ !== 'string' || header.typ.toLowerCase() !== 'dpop+jwt') throw refuse('dpop.typ');
  const algorithms: readonly string[] = check.algorithms ?? DPOP_ALGORITHMS;
  if (typeof header.alg !== 'string' || !algorithms.includes(header.alg))
    throw refuse('dpop.alg_not_allowed');
  const forbidden = FORBIDDEN_HEADERS.find((name) => name in header);
  if (forbidden) throw refuse(`dpop.header_${forbidden}`);
  const jwk = header.jwk as Record<string, unknown> | undefined;
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) throw refuse('dpop.jwk_missing');
  if (PRIVATE_MEMBERS.some((name) => name in jwk)) throw refuse('dpop.jwk_private');
  if (typeof jwk.kty !== 'string' || !KEY_TYPES.has(jwk.kty)) throw refuse('dpop.jwk_kty');

  const { jti, htm, htu, iat } = payload;
  if (!text(jti, MAX_JTI_CHARS)) throw refuse('dpop.jti');
  if (!text(htm, 16) || !text(htu)) throw refuse('dpop.htm_htu_missing');
  if (typeof iat !== 'number' || !Number.isFinite(iat)) throw refuse('dpop.iat');
  if (htm !== check.method.toUpperCase()) throw refuse('dpop.htm_mismatch');
  const expected = dpopHtu(check.url);
  if (expected === undefined || dpopHtu(htu) !== expected) throw refuse('dpop.htu_mismatch');
  const now = epochSeconds(check.clock);
  if (iat > now + check.clockSkew) throw refuse('dpop.iat_future');
  if (iat < now - check.maxAgeSeconds - check.clockSkew) throw refuse('dpop.iat_stale');
  if (check.accessToken !== undefined) {
    if (typeof payload.ath !== 'string') throw refuse('dpop.ath_missing');
    if (payload.ath !== accessTokenHash(check.accessToken)) throw refuse('dpop.ath_mismatch');
  }

  // A client signs every proof with one key, so its protected header (typ, alg, jwk) repeats.
  // Its digest, not a slice: a slice would keep the whole header value it came from alive.
  const headerId = createHash('sha256')
    .update(token.slice(0, token.indexOf('.')))
    .digest('base64url');
  const known = proofKeys.get(headerId);
  let proofKey: CryptoKey;
  try {
    // The embedded key verifies the proof (jose refuses private keys, a `use` other than sig, an
    // `alg` other than the header's, and short RSA moduli when it imports it).
    const options = { algorithms: [header.alg] };
    if (known !== undefined) {
      proofKey = known.key;
      await compactVerify(token, proofKey, options);
    } else {
      proofKey = (await compactVerify(token, EmbeddedJWK, options)).key as CryptoKey;
    }
  } catch (error) {
    throw refuse('dpop.bad_signature', error);
  }
  let jkt = known?.jkt;
  if (jkt === undefined) {
    try {
      jkt = await calculateJwkThumbprint(jwk as JWK, 'sha256');
    } catch (error) {
      throw refuse('dpop.jwk_thumbprint', error);
    }
  }
  rememberProofKey(headerId, known ?? { key: proofKey, jkt });

  if (check.nonces) {
    if (payload.nonce === undefined) throw useDpopNonce(check.nonces.current(), 'dpop.nonce_missing', status);
    if (typeof payload.nonce !== 'string' || !check.nonces.isValid(payload.nonce)) {
      throw useDpopNonce(check.nonces.current(), 'dpop.nonce_stale', status);
    }
  }
  // Last, so only authentic, fresh proofs take space in the replay record.
  const key = createHash('sha256').update(`${jkt}:${jti}`).digest('base64url');
  const until = Math.floor(iat) + check.maxAgeSeconds + 2 * check.clockSkew;
  if (!(await check.markUsed(key, until))) throw refuse('dpop.replayed');
  return { jkt, jti, iat };
}
