import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfigFile } from '../../lib/config/config.ts';
import { loadSettings } from '../../lib/config/settings.ts';
import { exampleConfig, tempConfigFile } from './synth.ts';

/**
 * Without a custom domain the deployed issuer is the API's URL, known only at deploy time: the
 * construct injects it as STS_ISSUER and the runtime puts it in place of the file's issuer.
 */
const DEPLOYED = 'https://a1b2c3.execute-api.eu-west-1.amazonaws.com';

describe('STS_ISSUER', () => {
  it('is read and checked like the config issuer', () => {
    expect(loadSettings({ STS_ISSUER: DEPLOYED }).issuer).toBe(DEPLOYED);
    expect(loadSettings({}).issuer).toBeUndefined();
    expect(loadSettings({ STS_ISSUER: '' }).issuer).toBeUndefined();
    expect(() => loadSettings({ STS_ISSUER: 'http://sts.example.com' })).toThrow(ConfigError);
    expect(() => loadSettings({ STS_ISSUER: 'not a url' })).toThrow(/STS_ISSUER: expected an https URL/);
  });

  it('replaces the file issuer before validation, so issuer-derived defaults follow it', () => {
    const path = tempConfigFile(exampleConfig());
    const config = loadConfigFile(path, { issuer: DEPLOYED });
    expect(config.issuer).toBe(DEPLOYED);
    // The GitHub trusted issuer lists no audiences: it accepts tokens minted for the deployed URL.
    expect(config.trustedIssuers[0]?.audiences).toEqual([DEPLOYED]);
    expect(loadConfigFile(path).issuer).toBe('https://sts.example.com');
  });

  it('is validated with the file: a trusted issuer equal to it is still refused', () => {
    const path = tempConfigFile({
      ...exampleConfig(),
      trustedIssuers: [{ name: 'self-again', issuer: DEPLOYED }],
      policies: [{ name: 'p', issuer: 'self-again', subject: '**', audiences: ['https://api.example'] }],
    });
    expect(() => loadConfigFile(path, { issuer: DEPLOYED })).toThrow(
      /trustedIssuers\[0\]\.issuer: this service's own issuer is trusted as "self"/,
    );
  });
});
