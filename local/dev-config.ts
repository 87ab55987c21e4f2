// The development configuration `npm start` uses when STS_CONFIG is unset: it trusts the
// built-in development issuer and lets any of its subjects get a token for the example APIs,
// directly, chained, or delegated to a `service:*` actor.

import { type Config, type ConfigFile, parseConfig } from '../lib/config/config.ts';
import { DEV_ISSUER_PATH } from './dev-issuer.ts';

export const DEV_AUDIENCES = ['https://api.example.local', 'https://deploy.example.local'];

/** The development config as a policy file (the local server writes it out for `sts explain`). */
export function devConfigFile(base: string): ConfigFile {
  const audiences = [...DEV_AUDIENCES, base];
  const scopes = ['read', 'write', 'deploy'];
  const actors = [{ issuer: 'dev', subject: 'service:*' }];
  return {
    issuer: base,
    tokenLifetime: { default: '5m', max: '15m' },
    trustedIssuers: [
      { name: 'dev', issuer: `${base}${DEV_ISSUER_PATH}`, algorithms: ['ES256'], audiences: [base] },
    ],
    policies: [
      { name: 'dev', issuer: 'dev', subject: '**', audiences, scopes, actors, copyClaims: ['email'] },
      {
        name: 'dev-chained',
        issuer: 'self',
        origin: 'dev',
        rootPolicy: 'dev',
        subject: '**',
        audiences,
        scopes,
        actors,
      },
    ],
  };
}

/** The development config the local server runs on when STS_CONFIG is unset. */
export function devConfig(base: string): Config {
  return parseConfig(devConfigFile(base), 'the built-in development config');
}
