import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../lib/config/config.ts';
import { configWarnings } from '../../../lib/config/warnings.ts';
import { configFile, policyEntry, trustedIssuerEntry } from '../../support/config.ts';

const withMaxLifetime = (maxLifetime: string) =>
  parseConfig(
    configFile({
      tokenLifetime: { default: '5m', max: '15m' },
      trustedIssuers: [trustedIssuerEntry('github', 'https://token.actions.githubusercontent.com')],
      policies: [policyEntry({ issuer: 'github', subject: 'repo:acme/app:**', maxLifetime })],
    }),
  );

describe('configWarnings: a policy maxLifetime that changes nothing', () => {
  it.each(['5m', '15m', '1h'])('warns for %s against a 5m default (it only ever shortens)', (value) => {
    expect(configWarnings(withMaxLifetime(value))).toEqual([
      expect.stringMatching(
        new RegExp(
          `^policies\\[0\\]\\.maxLifetime: ${value} is not below tokenLifetime.default \\(5m\\), so it changes nothing`,
        ),
      ),
    ]);
  });

  it('is quiet for a maxLifetime that shortens the default', () => {
    expect(configWarnings(withMaxLifetime('2m'))).toEqual([]);
    expect(configWarnings(withMaxLifetime('90s'))).toEqual([]);
  });
});
