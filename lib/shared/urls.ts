// The one URL rule of the project: `https`, or `http` on a loopback host (local development and
// tests), never with credentials or a fragment. Issuers, JWKS URIs, the deployed issuer and the
// client SDK's endpoint all follow it. Free of dependencies so clients and verifiers stay light.

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

export function isAllowedUrl(text: unknown): text is string {
  if (typeof text !== 'string') return false;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return false;
  }
  if (url.username || url.password || url.hash) return false;
  return url.protocol === 'https:' || (url.protocol === 'http:' && LOOPBACK.has(url.hostname));
}
