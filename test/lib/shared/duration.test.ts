import { describe, expect, it } from 'vitest';
import { DURATION_PATTERN, parseDuration } from '../../../lib/shared/duration.ts';

describe('parseDuration', () => {
  it.each([
    ['1s', 1],
    ['30s', 30],
    ['5m', 300],
    ['15m', 900],
    ['1h', 3600],
    ['1d', 86_400],
    ['9999999s', 9_999_999],
  ])('%s is %i seconds', (text, seconds) => {
    expect(parseDuration(text)).toBe(seconds);
    expect(DURATION_PATTERN.test(text)).toBe(true);
  });

  it.each([
    '',
    '5',
    '5x',
    '0m',
    '0',
    '05m',
    '-5m',
    '+5m',
    '1.5m',
    '5M',
    '5 m',
    ' 5m',
    '5m ',
    '5ms',
    '1w',
    '10000000s',
    '1e3s',
    '5m\n',
  ])('refuses %j', (text) => {
    expect(parseDuration(text)).toBeUndefined();
    expect(DURATION_PATTERN.test(text)).toBe(false);
  });
});
