// The two pure computations a DPoP proof's claims need on both sides (RFC 9449 §4.2): the `htu`
// form of a URL and the `ath` of an access token. Free of jose, so the client SDK's proof signer
// does not carry the proof verifier.
import { createHash } from 'node:crypto';

/** The `ath` of an access token: base64url(SHA-256(token)) (RFC 9449 §4.2). */
export const accessTokenHash = (token: string): string =>
  createHash('sha256').update(token).digest('base64url');

/**
 * The `htu` form of a URL: scheme, host, port and path after WHATWG normalisation (lower-case
 * scheme and host, default port dropped, dot segments resolved), without query or fragment.
 * Returns undefined for text that is not an absolute http(s) URL.
 */
export function dpopHtu(url: string): string | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') return undefined;
  if (parsed.username || parsed.password) return undefined;
  return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
}
