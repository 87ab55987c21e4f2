// `application/x-www-form-urlencoded` request bodies. A repeated key keeps every value so that
// grants can refuse duplicates by name; the size limit is checked before parsing.

import { invalidRequest, payloadTooLarge } from '../shared/errors.ts';

export type Form = ReadonlyMap<string, readonly string[]>;

export const MAX_FORM_BYTES = 64 * 1024;
const FORM_TYPE = /^application\/x-www-form-urlencoded\s*(;\s*charset\s*=\s*"?utf-8"?\s*)?$/i;
const utf8 = new TextDecoder('utf-8', { fatal: true });
// Without `%` or `+` there is nothing to decode (and nothing to refuse): tokens take this path.
const decodeComponent = (text: string): string =>
  text.includes('%') || text.includes('+') ? decodeURIComponent(text.replaceAll('+', ' ')) : text;

export function parseForm(
  body: Uint8Array,
  contentType: string | undefined,
  maxBytes = MAX_FORM_BYTES,
): Form {
  if (body.byteLength > maxBytes) throw payloadTooLarge();
  if (!contentType || !FORM_TYPE.test(contentType.trim())) {
    throw invalidRequest('content type must be application/x-www-form-urlencoded', {
      reason: 'request.content_type',
    });
  }
  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    throw invalidRequest('request body is not UTF-8', { reason: 'request.encoding' });
  }
  const form = new Map<string, string[]>();
  for (const pair of text.split('&')) {
    if (pair === '') continue;
    const at = pair.indexOf('=');
    let key: string;
    let value: string;
    try {
      // Unlike URLSearchParams, refuses `%zz` and percent-encoded bytes that are not UTF-8
      // instead of turning them silently into U+FFFD.
      key = decodeComponent(at === -1 ? pair : pair.slice(0, at));
      value = decodeComponent(at === -1 ? '' : pair.slice(at + 1));
    } catch {
      throw invalidRequest('request body has a malformed percent-encoding', { reason: 'request.encoding' });
    }
    const values = form.get(key);
    if (values) values.push(value);
    else form.set(key, [value]);
  }
  return form;
}

/** Reads the parameters a grant declares: refuses duplicates, returns undefined for absent or empty. */
export function formParams<K extends string>(form: Form, names: readonly K[]): Record<K, string | undefined> {
  const params = {} as Record<K, string | undefined>;
  for (const name of names) {
    const values = form.get(name);
    if (values && values.length > 1) {
      throw invalidRequest(`parameter ${name} is repeated`, { reason: `request.duplicate_${name}` });
    }
    params[name] = values?.[0] || undefined;
  }
  return params;
}
