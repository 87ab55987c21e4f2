// What `sts explain` reads of a presented token without keys: a compact JWT (decoded, signature
// NOT verified) or a JSON object of bare claims, the issuer it stands for, and the warnings about
// what the service's verification would refuse (time, audience, algorithm).

import type { JWTPayload } from 'jose';
import type { Config } from '../lib/config/config.ts';
import { SELF_ISSUER } from '../lib/shared/claims.ts';
import { readCompactJws } from '../lib/shared/jws.ts';
import { UsageError } from './cli-io.ts';

export interface Presented {
  readonly claims: JWTPayload;
  readonly header: Readonly<Record<string, unknown>> | undefined;
}

/** A JWT (decoded, not verified) or a JSON object of claims. */
export function decodePresented(text: string, option: string): Presented {
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    let claims: unknown;
    try {
      claims = JSON.parse(trimmed);
    } catch {
      throw new UsageError(`${option}: not valid JSON claims`);
    }
    if (!claims || typeof claims !== 'object' || Array.isArray(claims)) {
      throw new UsageError(`${option}: expected a JSON object of claims`);
    }
    return { claims: claims as JWTPayload, header: undefined };
  }
  try {
    const { header, payload } = readCompactJws(trimmed);
    return { claims: payload as JWTPayload, header };
  } catch {
    throw new UsageError(`${option}: neither a compact JWT nor a JSON object of claims`);
  }
}

/** The issuer name a token's `iss` stands for: `self`, a trusted issuer's name, or undefined. */
export function issuerName(config: Config, iss: unknown): string | undefined {
  if (typeof iss !== 'string') return undefined;
  if (iss === config.issuer) return SELF_ISSUER;
  return config.trustedIssuers.find((trusted) => trusted.issuer === iss)?.name;
}

/** The issuer name of a token: `override` (checked), else its `iss`'s, else a warning. */
export function resolveIssuer(
  config: Config,
  token: Presented,
  override: string | undefined,
  what: string,
  warnings: string[],
): string {
  if (override !== undefined) {
    if (override !== SELF_ISSUER && !config.trustedIssuers.some((trusted) => trusted.name === override)) {
      throw new UsageError(`--${what}-issuer: "${override}" is neither "self" nor a trustedIssuers name`);
    }
    return override;
  }
  const name = issuerName(config, token.claims.iss);
  if (name) return name;
  warnings.push(
    token.claims.iss === undefined
      ? `${what} has no iss claim (name its issuer with --${what}-issuer)`
      : `${what} iss ${JSON.stringify(token.claims.iss)} is neither this service nor a trusted issuer: the service would refuse it`,
  );
  return typeof token.claims.iss === 'string' ? token.claims.iss : '(none)';
}

/** What verification would refuse, as far as it can be told without keys. */
export function presentedWarnings(config: Config, token: Presented, name: string, what: string, now: number) {
  const warnings: string[] = [];
  const { claims, header } = token;
  const skew = config.clockSkew;
  if (typeof claims.exp === 'number' && claims.exp + skew < now) {
    warnings.push(`${what} expired at ${new Date(claims.exp * 1000).toISOString()}`);
  }
  if (typeof claims.nbf === 'number' && claims.nbf - skew > now) {
    warnings.push(`${what} is not valid before ${new Date(claims.nbf * 1000).toISOString()}`);
  }
  const trusted = config.trustedIssuers.find((issuer) => issuer.name === name);
  const audiences = name === SELF_ISSUER ? [config.issuer] : trusted?.audiences;
  const aud = typeof claims.aud === 'string' ? [claims.aud] : (claims.aud ?? []);
  if (audiences && !aud.some((value) => audiences.includes(value))) {
    warnings.push(
      claims.aud === undefined
        ? `${what} has no aud (wanted one of ${JSON.stringify(audiences)})`
        : `${what} aud ${JSON.stringify(claims.aud)} has none of ${JSON.stringify(audiences)}`,
    );
  }
  if (header && trusted && !(trusted.algorithms as readonly unknown[]).includes(header.alg)) {
    warnings.push(
      `${what} alg ${JSON.stringify(header.alg)} is not in ${JSON.stringify(trusted.algorithms)}`,
    );
  }
  return warnings;
}
