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

  it.each([
    ['{"a":1,"a":2}', 'a'],
    ['{"policies":[{"subject":"x","subject":"*"}]}', 'policies[0].subject'],
    ['{"x":[1,{"b":{"c":1}},{"d":1,"d":2}]}', 'x[2].d'],
    ['{"a b":{"q":1,"q":1}}', '["a b"].q'],
  ])('names the path of the duplicate in %s', (text, path) => {
    expect(() => parseStrictJson(text)).toThrow(expect.objectContaining({ problem: 'duplicate', path }));
  });

  it('refuses forbidden keys only when asked to', () => {
    const forbiddenKeys = new Set(['__proto__', 'constructor']);
    expect(parseStrictJson('{"c":{"__proto__":1}}')).toEqual({ c: JSON.parse('{"__proto__":1}') });
    expect(() => parseStrictJson('{"c":{"__proto__":1}}', { forbiddenKeys })).toThrow(
      expect.objectContaining({ problem: 'forbidden', key: '__proto__', path: 'c.__proto__' }),
    );
    expect(() => parseStrictJson('[{"constructor":1}]', { forbiddenKeys })).toThrow(
      /forbidden key "constructor" at \[0\]\.constructor/,
    );
  });

  it.each(['', '{', '{"a":1,}', "{'a':1}", '{"a":1}x', 'NaN'])('refuses invalid JSON %j', (text) => {
    expect(() => parseStrictJson(text)).toThrow(SyntaxError);
  });
});
