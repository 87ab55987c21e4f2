import { describe, expect, it } from 'vitest';
import { MalformedJws, readCompactJws } from '../../../lib/shared/jws.ts';
import { b64url } from '../../support/keys.ts';

const header = b64url({ alg: 'ES256', typ: 'JWT' });
const payload = b64url({ iss: 'https://issuer.test', sub: 'alice' });
const signature = Buffer.alloc(64, 7).toString('base64url');
const valid = `${header}.${payload}.${signature}`;

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
/** The same base64url text with the lowest (unused) bit of its last character set. */
const setLowBit = (text: string): string =>
  `${text.slice(0, -1)}${ALPHABET[ALPHABET.indexOf(text.at(-1)!) | 1]}`;

/** base64url of raw bytes. */
const raw = (bytes: number[]): string => Buffer.from(bytes).toString('base64url');

describe('readCompactJws', () => {
  it('reads the header and payload of a compact JWS', () => {
    expect(readCompactJws(valid)).toEqual({
      header: { alg: 'ES256', typ: 'JWT' },
      payload: { iss: 'https://issuer.test', sub: 'alice' },
    });
  });

  // `{"a":1}` (7 bytes) and a 64-byte signature end in a character with unused low bits; setting
  // one of them spells the same bytes differently.
  const loose = b64url({ a: 1 });
  const nonCanonical = setLowBit(loose);
  const nonCanonicalSignature = setLowBit(signature);

  it.each([
    ['empty', ''],
    ['one segment', header],
    ['two segments', `${header}.${payload}`],
    ['four segments', `${valid}.${signature}`],
    ['JWE (five segments)', `${header}.${signature}.${signature}.${payload}.${signature}`],
    ['JSON serialization', JSON.stringify({ protected: header, payload, signature })],
    ['empty signature (alg none)', `${header}.${payload}.`],
    ['empty header', `.${payload}.${signature}`],
    ['empty payload', `${header}..${signature}`],
    ['padding in the header', `${b64url({ alg: 'ES256' })}=.${payload}.${signature}`],
    ['padding in the payload', `${header}.${payload}==.${signature}`],
    ['padding in the signature', `${header}.${payload}.${signature}=`],
    [
      'standard base64 characters',
      `${header}.${Buffer.from('{"a":"???>>>"}').toString('base64')}.${signature}`,
    ],
    ['whitespace', `${header}.${payload} .${signature}`],
    ['a line break', `${header}.\n${payload}.${signature}`],
    ['impossible length (4n+1)', `${header}.${payload}A.${signature}`],
    ['impossible signature length (4n+1)', `${header}.${payload}.${signature}AAA`],
    ['non-canonical payload bits', `${header}.${nonCanonical}.${signature}`],
    ['non-canonical signature bits', `${header}.${payload}.${nonCanonicalSignature}`],
    ['non-UTF-8 payload', `${header}.${raw([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d])}.${signature}`],
    [
      'overlong UTF-8 in the header',
      `${raw([0x7b, 0x22, 0xc0, 0xaf, 0x22, 0x3a, 0x31, 0x7d])}.${payload}.${signature}`,
    ],
    ['a lone surrogate encoded in UTF-8', `${header}.${raw([0x22, 0xed, 0xa0, 0x80, 0x22])}.${signature}`],
    ['not JSON', `${header}.${b64url('not json')}.${signature}`],
    ['duplicate claim', `${header}.${b64url('{"sub":"alice","sub":"admin"}')}.${signature}`],
    ['duplicate nested claim', `${header}.${b64url('{"act":{"sub":"a","sub":"b"}}')}.${signature}`],
    ['duplicate header parameter', `${b64url('{"alg":"ES256","alg":"none"}')}.${payload}.${signature}`],
    ['payload array', `${header}.${b64url([1, 2])}.${signature}`],
    ['payload string', `${header}.${b64url('"sub"')}.${signature}`],
    ['payload number', `${header}.${b64url('1')}.${signature}`],
    ['payload null', `${header}.${b64url('null')}.${signature}`],
    ['header array', `${b64url([{ alg: 'ES256' }])}.${payload}.${signature}`],
  ])('refuses %s', (_what, token) => {
    expect(() => readCompactJws(token)).toThrow(MalformedJws);
  });

  it('the non-canonical spellings above decode to the same bytes as the canonical ones', () => {
    expect(Buffer.from(nonCanonical, 'base64url')).toEqual(Buffer.from(loose, 'base64url'));
    expect(nonCanonicalSignature).not.toBe(signature);
    expect(Buffer.from(nonCanonicalSignature, 'base64url')).toEqual(Buffer.from(signature, 'base64url'));
  });

  it('accepts a UTF-8 BOM-free payload with non-ASCII text', () => {
    const token = `${header}.${b64url({ name: 'Zoë 🚀' })}.${signature}`;
    expect(readCompactJws(token).payload).toEqual({ name: 'Zoë 🚀' });
  });
});
