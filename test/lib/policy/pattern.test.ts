import { describe, expect, it } from 'vitest';
import { claimText, compilePattern, globMatch, spanChanged } from '../../../lib/policy/pattern.ts';

describe('compilePattern', () => {
  // [pattern, value, matches]
  const cases: ReadonlyArray<readonly [string, unknown, boolean]> = [
    // exact strings: no wildcard, no substring, no case folding
    ['repo:acme/app:environment:prod', 'repo:acme/app:environment:prod', true],
    ['repo:acme/app:environment:prod', 'repo:acme/app:environment:prod2', false],
    ['repo:acme/app:environment:prod', 'xrepo:acme/app:environment:prod', false],
    ['repo:acme/app:environment:prod', 'REPO:acme/app:environment:prod', false],
    ['acme', 'acm', false],
    ['acme', '', false],
    // characters that are special in regular expressions are plain text
    ['a.c', 'abc', false],
    ['a.c', 'a.c', true],
    ['a+b?(c)[d]{1}^$|\\', 'a+b?(c)[d]{1}^$|\\', true],
    ['a?c', 'abc', false],
    // `*` matches any run within one ':'-separated segment, including none and '/'
    ['*', '', true],
    ['*', 'anything/at/all', true],
    ['*', 'anything:at/all', false],
    ['repo:acme/*', 'repo:acme/', true],
    ['repo:acme/*', 'repo:acme/app', true],
    ['repo:acme/*', 'repo:acme/app:ref:refs/heads/main', false],
    ['repo:acme/*', 'repo:acme', false],
    ['repo:*/app:*', 'repo:acme/app:ref', true],
    ['repo:*/app:*', 'repo:acme/app:ref:refs/tags/v1', false],
    ['*:environment:prod', 'repo:environment:prod', true],
    ['*:environment:prod', 'repo:acme/app:environment:prod', false],
    ['a*b*c', 'abc', true],
    ['a*b*c', 'aXXbYYc', true],
    ['a*b*c', 'aXXbYYcZ', false],
    ['a*b*c', 'a:b:c', false],
    ['*a', 'ba', true],
    ['*a', 'ab', false],
    // the review's attack: `*` used to span ':' and so swallow whole segments
    ['repo:acme/*:environment:prod', 'repo:acme/app:environment:prod', true],
    ['repo:acme/*:environment:prod', 'repo:acme/app:environment:staging:environment:prod', false],
    ['repo:acme/*:environment:prod', 'repo:acme/app:ref:refs/heads/x:environment:prod', false],
    // `**` spans segments; a run of three or more stars is `**` too
    ['**', '', true],
    ['**', 'anything:at/all', true],
    ['a**b', 'ab', true],
    ['a**b', 'a:x:b', true],
    ['repo:acme/app:**', 'repo:acme/app:ref:refs/heads/main', true],
    ['repo:acme/app:**', 'repo:acme/app-fork:ref:refs/heads/main', false],
    ['**:environment:prod', 'repo:acme/app:environment:prod', true],
    ['repo:acme/**:environment:prod', 'repo:acme/app:environment:staging:environment:prod', true],
    ['a***b', 'a:b', true],
    ['a*:**', 'ab:c:d', true],
    ['a*:**', 'a:b', true],
    ['a*:**', 'ab', false],
    // anchored at both ends
    ['acme*', 'xacme', false],
    ['*acme', 'acmex', false],
    // a literal '*' in a value is matched by '*' like any other character
    ['a*', 'a*', true],
    // GitHub subjects with immutable ids (`owner@id/repo@id`): anchor on the ids and a separator
    ['repo:acme@123/app@456:**', 'repo:acme@123/app@456:ref:refs/heads/main', true],
    ['repo:acme@123/app@456:**', 'repo:acme@123/app@456:environment:prod', true],
    ['repo:acme@123/app@456:**', 'repo:acme@123/app@4567:ref:refs/heads/main', false],
    ['repo:acme@123/app@456:**', 'repo:acme@1234/app@456:ref:refs/heads/main', false],
    ['repo:acme@123/app@456:ref:refs/heads/*', 'repo:acme@123/app@456:ref:refs/heads/feature/x', true],
    ['repo:acme@123/*:environment:prod', 'repo:acme@123/other@789:environment:prod', true],
    ['repo:acme@123/**', 'repo:acme@123/other@789:ref:refs/heads/main', true],
    ['repo:acme@123/**', 'repo:acmeevil@999/app@1:ref:refs/heads/main', false],
    ['repo:acme/**', 'repo:acmeevil/app:ref:refs/heads/main', false],
    // the pitfall: a '*' right after the owner name also matches other owners sharing the prefix
    ['repo:acme*', 'repo:acmeevil/app', true],
    ['repo:acme**', 'repo:acmeevil/app:ref:refs/heads/main', true],
    ['repo:acme@123**', 'repo:acme@1234/app@1:ref:refs/heads/main', true],
    // numbers and booleans are compared as their JSON text
    ['123', 123, true],
    ['12*', 123, true],
    ['*', 1.5, true],
    ['123', 123.5, false],
    ['true', true, true],
    ['false', false, true],
    ['true', 'true', true],
    ['1', true, false],
    // other JSON values never match, not even '*'
    ['*', undefined, false],
    ['*', null, false],
    ['*', {}, false],
    ['*', [], false],
    ['*', ['acme'], false],
    ['acme', ['acme'], false],
    ['[object Object]', {}, false],
    ['null', null, false],
    ['undefined', undefined, false],
  ];

  it.each(cases)('%j against %j: %j', (pattern, value, expected) => {
    expect(compilePattern(pattern).matches(value)).toBe(expected);
  });

  it('keeps its source', () => {
    expect(compilePattern('repo:acme/*').source).toBe('repo:acme/*');
  });

  it('finishes pathological patterns correctly', () => {
    const long = 'a'.repeat(20_000);
    expect(globMatch('*a*a*a*a*a*b', long)).toBe(false);
    expect(globMatch('*a*a*a*a*a*b', `${long}b`)).toBe(true);
    expect(globMatch(`${'*a'.repeat(50)}*b`, long)).toBe(false);
    expect(globMatch('*'.repeat(1000), long)).toBe(true);
    expect(globMatch('*', `${long}:`)).toBe(false);
    expect(globMatch(`${'**a'.repeat(50)}**b`, long)).toBe(false);
    expect(compilePattern('*a*a*a*a*a*b').matches(long)).toBe(false);
  });
});

describe('spanChanged', () => {
  it.each([
    ['repo:acme/app:*', true],
    ['*:environment:prod', true],
    ['*', true],
    ['user:*', true],
    ['repo:acme/*:environment:prod', false],
    ['repo:acme/app:**', false],
    ['**:environment:prod', false],
    ['**', false],
    ['exact', false],
  ])('%j: %j', (source, changed) => {
    expect(spanChanged(source)).toBe(changed);
  });
});

describe('claimText', () => {
  it.each([
    ['x', 'x'],
    [0, '0'],
    [-1.5, '-1.5'],
    [true, 'true'],
    [null, undefined],
    [undefined, undefined],
    [{ a: 1 }, undefined],
    [[1], undefined],
  ])('%j is %j', (value, text) => {
    expect(claimText(value)).toBe(text);
  });
});
