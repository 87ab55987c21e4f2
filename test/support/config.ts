import { type Config, type ConfigFile, parseConfig } from '../../lib/config/config.ts';

/** This service's issuer in unit tests. */
export const STS_ISSUER = 'https://sts.test';
/** A downstream audience the default test policy allows. */
export const API_AUDIENCE = 'https://api.test';

type PolicyEntry = ConfigFile['policies'][number];
type TrustedIssuerEntry = Exclude<NonNullable<ConfigFile['trustedIssuers']>[number], { type: 'aws' }>;

/** A policy entry of the config file: name "test", issuer "self", any subject, API_AUDIENCE. */
export function policyEntry(overrides: Partial<PolicyEntry> = {}): PolicyEntry {
  return { name: 'test', issuer: 'self', subject: '**', audiences: [API_AUDIENCE], ...overrides };
}

/** A trusted issuer entry named `name` for `issuer` (e.g. a FakeIssuer's URL). */
export function trustedIssuerEntry(
  name: string,
  issuer: string,
  overrides: Partial<TrustedIssuerEntry> = {},
): TrustedIssuerEntry {
  return { name, issuer, ...overrides };
}

/** A config file object: issuer STS_ISSUER and one policyEntry() unless `file` says otherwise. */
export function configFile(file: Partial<ConfigFile> = {}): ConfigFile {
  return { issuer: STS_ISSUER, policies: [policyEntry()], ...file };
}

/** The validated, frozen Config of configFile(file). */
export function buildConfig(file: Partial<ConfigFile> = {}): Config {
  return parseConfig(configFile(file), 'test config');
}
