// Strict reading of a compact JWS before any cryptography: exactly three base64url segments
// (no padding, no other characters), UTF-8 that decodes without loss, JSON objects without
// duplicate keys. JWE (five parts), JSON serialization and extra segments fail here.

import { parseStrictJson } from './strict-json.ts';

export interface CompactJws {
  readonly header: Readonly<Record<string, unknown>>;
  readonly payload: Readonly<Record<string, unknown>>;
}

/** A compact JWS as `readCompactJws` read it, with the token it was read from. */
export interface ReadJws extends CompactJws {
  readonly token: string;
}

export class MalformedJws extends Error {
  override readonly name = 'MalformedJws';
}

const BASE64URL = /^[A-Za-z0-9_-]*$/;
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const UNUSED_BITS = [0, 0, 0x0f, 0x03] as const;

/**
 * Whether base64url text (already matched against BASE64URL, length % 4 !== 1) is the one
 * spelling of its bytes, i.e. re-encodes to itself: the bits of its last character that encode
 * no byte are zero (none when length % 4 === 0, four when 2, two when 3).
 */
function isCanonical(text: string): boolean {
  const unused = UNUSED_BITS[text.length % 4]!;
  return unused === 0 || (ALPHABET.indexOf(text[text.length - 1]!) & unused) === 0;
}

/**
 * Whether `text` is base64url in its one spelling: no padding, no other characters, no stray
 * trailing bits. jose decodes leniently, so a signature segment that is not canonical is another
 * spelling of a genuine token (and would verify).
 */
export function isCanonicalBase64url(text: string): boolean {
  return text.length % 4 !== 1 && BASE64URL.test(text) && isCanonical(text);
}

function segment(text: string, what: string): Record<string, unknown> {
  if (text.length === 0 || !BASE64URL.test(text) || text.length % 4 === 1) {
    throw new MalformedJws(`${what} is not base64url`);
  }
  if (!isCanonical(text)) throw new MalformedJws(`${what} is not canonical base64url`);
  const bytes = Buffer.from(text, 'base64url');
  let json: string;
  try {
    json = utf8.decode(bytes);
  } catch {
    throw new MalformedJws(`${what} is not UTF-8`);
  }
  let value: unknown;
  try {
    value = parseStrictJson(json);
  } catch (error) {
    throw new MalformedJws(`${what} is not a JSON object: ${(error as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new MalformedJws(`${what} is not a JSON object`);
  }
  return value as Record<string, unknown>;
}

export function readCompactJws(token: string): CompactJws {
  const parts = token.split('.');
  if (parts.length !== 3) throw new MalformedJws(`expected 3 segments, got ${parts.length}`);
  const [header, payload, signature] = parts as [string, string, string];
  if (signature.length === 0 || !BASE64URL.test(signature) || signature.length % 4 === 1)
    throw new MalformedJws('signature is not base64url');
  // jose decodes leniently: without this, unused trailing bits would give one token many spellings.
  if (!isCanonical(signature)) throw new MalformedJws('signature is not canonical base64url');
  return { header: segment(header, 'header'), payload: segment(payload, 'payload') };
}
