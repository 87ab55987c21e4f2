import { describe, expect, it } from 'vitest';
import { formParams, MAX_FORM_BYTES, parseForm } from '../../../lib/exchange/form.ts';
import { OAuthError } from '../../../lib/shared/errors.ts';

const FORM = 'application/x-www-form-urlencoded';
const body = (text: string | Uint8Array) => (typeof text === 'string' ? Buffer.from(text) : text);

/** The OAuthError thrown by `fn` (fails the test when nothing or something else is thrown). */
function thrown(fn: () => unknown): OAuthError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(OAuthError);
    return error as OAuthError;
  }
  throw new Error('expected an OAuthError');
}

describe('parseForm', () => {
  it.each([
    FORM,
    'application/x-www-form-urlencoded; charset=UTF-8',
    'application/x-www-form-urlencoded;charset=utf-8',
    'application/x-www-form-urlencoded; charset="utf-8"',
    'Application/X-WWW-Form-URLEncoded',
    '  application/x-www-form-urlencoded  ',
  ])('accepts content type %j', (contentType) => {
    expect(parseForm(body('a=1'), contentType).get('a')).toEqual(['1']);
  });

  it.each([
    ['missing', undefined],
    ['empty', ''],
    ['JSON', 'application/json'],
    ['multipart', 'multipart/form-data; boundary=x'],
    ['text', 'text/plain'],
    ['another charset', 'application/x-www-form-urlencoded; charset=iso-8859-1'],
    ['a prefix only', 'application/x-www-form-urlencoded-evil'],
    ['extra parameters', 'application/x-www-form-urlencoded; charset=utf-8; x=y'],
  ])('refuses a %s content type', (_what, contentType) => {
    const error = thrown(() => parseForm(body('a=1'), contentType));
    expect([error.code, error.status, error.reason]).toEqual([
      'invalid_request',
      400,
      'request.content_type',
    ]);
  });

  it('accepts a body of exactly the limit and refuses one byte more with 413', () => {
    const at = `a=${'x'.repeat(MAX_FORM_BYTES - 2)}`;
    expect(parseForm(body(at), FORM).get('a')?.[0]).toHaveLength(MAX_FORM_BYTES - 2);
    const error = thrown(() => parseForm(body(`${at}x`), FORM));
    expect([error.code, error.status, error.reason]).toEqual(['invalid_request', 413, 'request.too_large']);
  });

  it('checks the size before the content type', () => {
    const error = thrown(() => parseForm(new Uint8Array(MAX_FORM_BYTES + 1), 'application/json'));
    expect(error.status).toBe(413);
  });

  it('takes a smaller limit', () => {
    expect(thrown(() => parseForm(body('a=12345'), FORM, 6)).status).toBe(413);
  });

  it('decodes percent-encoding and +, keeps repeated keys, skips empty pairs', () => {
    const form = parseForm(body('a=x%20y+z&b=%C3%A9%2B&a=2&&c&d=&=e'), FORM);
    expect([...form]).toEqual([
      ['a', ['x y z', '2']],
      ['b', ['é+']],
      ['c', ['']],
      ['d', ['']],
      ['', ['e']],
    ]);
  });

  it('keeps "=" inside values', () => {
    expect(parseForm(body('token=a.b.c==&x=1=2'), FORM).get('x')).toEqual(['1=2']);
  });

  it.each([
    ['a truncated escape', 'a=%4'],
    ['a bare percent', 'a=100%'],
    ['non-hex digits', 'a=%zz'],
    ['an escape in a key', '%G1=x'],
    ['an invalid UTF-8 byte', 'a=%FF'],
    ['a truncated UTF-8 sequence', 'a=%C3'],
    ['an overlong UTF-8 sequence', 'a=%C0%AF'],
    ['an encoded surrogate', 'a=%ED%A0%80'],
  ])('refuses %s', (_what, text) => {
    const error = thrown(() => parseForm(body(text), FORM));
    expect([error.code, error.status, error.reason]).toEqual(['invalid_request', 400, 'request.encoding']);
  });

  it('refuses a body that is not UTF-8', () => {
    const error = thrown(() => parseForm(new Uint8Array([0x61, 0x3d, 0xff]), FORM));
    expect(error.reason).toBe('request.encoding');
  });
});

describe('formParams', () => {
  const form = parseForm(body('a=1&b=&c=3&c=4&x=9'), FORM);

  it('reads declared parameters; absent and empty are undefined; others are ignored', () => {
    expect(formParams(form, ['a', 'b', 'z'])).toEqual({ a: '1', b: undefined, z: undefined });
  });

  it('refuses a repeated declared parameter', () => {
    const error = thrown(() => formParams(form, ['a', 'c']));
    expect([error.code, error.reason]).toEqual(['invalid_request', 'request.duplicate_c']);
  });

  it('refuses a repeat even when one of the values is empty', () => {
    const error = thrown(() => formParams(parseForm(body('a=&a=1'), FORM), ['a']));
    expect(error.reason).toBe('request.duplicate_a');
  });
});
