// The one pre-check of a presented JWT, before any key is looked up: its size, a strict read of
// the compact JWS (lib/shared/jws.ts: canonical base64url, UTF-8, JSON objects without duplicate
// keys), header parameters that point at keys or change how the payload is read, and nested JWTs.
// The subject-token verifier runs it once and then picks the issuer by `iss`; the own-token
// verifier (introspection, revocation) runs it too. The token it read travels on, so the payload
// is parsed once: jose afterwards checks only the signature.

import { type ReadJws, readCompactJws } from '../shared/jws.ts';
import type { Refuse } from '../shared/pinned-jwt.ts';

/** Header parameters that point at keys or change how the payload is read: always refused. */
export const FORBIDDEN_HEADERS = ['jku', 'x5u', 'x5c', 'jwk', 'crit', 'b64', 'zip', 'enc'] as const;

/** `typ` of an RFC 9068 JWT access token, with or without the `application/` prefix. */
export const AT_JWT = /^(application\/)?at\+jwt$/i;

/**
 * Reads `token` strictly and refuses it (with `refuse`) when it is over `maxBytes`, malformed,
 * names a forbidden header parameter or nests a JWT. Nothing is verified yet.
 */
export function precheckToken(token: string, maxBytes: number, refuse: Refuse): ReadJws {
  if (Buffer.byteLength(token) > maxBytes) throw refuse('too_large');
  let read: ReadJws;
  try {
    read = { token, ...readCompactJws(token) };
  } catch (error) {
    throw refuse('malformed', error);
  }
  const forbidden = FORBIDDEN_HEADERS.find((name) => name in read.header);
  if (forbidden) throw refuse(`header_${forbidden}`);
  if ('cty' in read.header) throw refuse('nested_jwt');
  return read;
}
