import { describe, expect, it } from 'vitest';
import { parseStrictJson } from '../../../lib/shared/strict-json.ts';

describe('parseStrictJson', () => {
  it.each([
    ['{}', {}],
    ['[]', []],
    ['"a"', 'a'],
    ['1', 1],
    ['null', null],
    ['{"a":1,"b":{"a":2},"c":[{"a":3},{"a":4}]}', { a: 1, b: { a: 2 }, c: [{ a: 3 }, { a: 4 }] }],
    // the same key in sibling objects or as a string value is not a duplicate
    [
      '{"a":"a","b":["a","a"],"c":{"a":{}},"d":{"a":[]}}',
      { a: 'a', b: ['a', 'a'], c: { a: {} }, d: { a: [] } },
    ],
    // escaped quotes and backslashes inside strings do not confuse the scanner
    ['{"a":"\\"","b":"\\\\","c":"\\"a\\":1,\\"a"}', { a: '"', b: '\\', c: '"a":1,"a' }],
    ['{"a\\"b":1,"a":2}', { 'a"b': 1, a: 2 }],
    [' { "a" : 1 , "b" : 2 } ', { a: 1, b: 2 }],
  ])('parses %s', (text, value) => {
    expect(parseStrictJson(text)).toEqual(value);
  });

  it.each([
    ['top level', '{"sub":"alice","sub":"mallory"}'],
    ['nested object', '{"act":{"sub":"a","sub":"b"}}'],
    ['object inside an array', '{"x":[{"a":1,"a":2}]}'],
    ['array at top level', '[{"a":1},{"b":1,"b":2}]'],
    ['after a nested object', '{"a":{"b":{}},"a":1}'],
    ['after an array value', '{"a":[1,{"c":2}],"a":3}'],
    ['spelled with an escape', '{"aud":"x","\\u0061ud":"y"}'],
    ['with whitespace', '{ "a" : 1 ,\n "a" : 1 }'],
    ['deep', '{"a":{"b":{"c":{"d":1,"d":1}}}}'],
  ])('refuses a duplicate key: %s', (_what, text) => {
    expect(() => parseStrictJson(text)).toThrow(SyntaxError);
  });

  it.each(['', '{', '{"a":1,}', "{'a':1}", '{"a":1}x', 'NaN'])('refuses invalid JSON %j', (text) => {
    expect(() => parseStrictJson(text)).toThrow(SyntaxError);
  });
});
