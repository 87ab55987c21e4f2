// `sts explain`: the service's own policy engine, run offline on a token (decoded, signature NOT
// verified) or a JSON object of bare claims, for one target and scopes. It tells which policy
// admits the request or why each one refuses, and warns about what verification would refuse.

import type { JWTPayload } from 'jose';
import type { Config } from '../lib/config/config.ts';
import { compilePolicies, type PolicyVerdict, type PresentedToken } from '../lib/policy/policy.ts';
import { SELF_ISSUER } from '../lib/shared/claims.ts';
import { readCompactJws } from '../lib/shared/jws.ts';
import { UsageError } from './cli-io.ts';

export interface Presented {
  readonly claims: JWTPayload;
  readonly header: Readonly<Record<string, unknown>> | undefined;
}

export interface ExplainReport {
  readonly admitted: boolean;
  readonly admittedBy: string | undefined;
  /** False when a JWT was decoded without verifying it; null for bare claims. */
  readonly signatureVerified: false | null;
  readonly subject: { readonly issuerName: string; readonly iss: unknown; readonly sub: unknown };
  readonly actor: { readonly issuerName: string; readonly iss: unknown; readonly sub: unknown } | undefined;
  readonly audience: string;
  readonly scopes: readonly string[];
  readonly grant: { readonly lifetime: number; readonly scope: string; readonly act: unknown } | undefined;
  readonly verdicts: readonly PolicyVerdict[];
  readonly warnings: readonly string[];
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

function resolveIssuer(
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
function verificationWarnings(config: Config, token: Presented, name: string, what: string, now: number) {
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
    warnings.push(`${what} aud ${JSON.stringify(claims.aud)} has none of ${JSON.stringify(audiences)}`);
  }
  if (header && trusted && !(trusted.algorithms as readonly unknown[]).includes(header.alg)) {
    warnings.push(
      `${what} alg ${JSON.stringify(header.alg)} is not in ${JSON.stringify(trusted.algorithms)}`,
    );
  }
  return warnings;
}

export interface ExplainInput {
  readonly config: Config;
  readonly subject: Presented;
  readonly subjectIssuer?: string;
  readonly actor?: Presented;
  readonly actorIssuer?: string;
  readonly audience: string;
  readonly scopes: readonly string[];
  /** Epoch seconds. */
  readonly now: number;
}

export function explainOffline(input: ExplainInput): ExplainReport {
  const { config, audience, scopes, now } = input;
  const warnings: string[] = [];
  const present = (token: Presented, override: string | undefined, what: string): PresentedToken => {
    const name = resolveIssuer(config, token, override, what, warnings);
    warnings.push(...verificationWarnings(config, token, name, what, now));
    return { issuerName: name, claims: token.claims };
  };
  const subject = present(input.subject, input.subjectIssuer, 'subject');
  const actor = input.actor ? present(input.actor, input.actorIssuer, 'actor') : undefined;
  const engine = compilePolicies(config);
  const request = { subject, actor, audience, scopes };
  const explanation = engine.explain(request);
  let grant: ExplainReport['grant'];
  if (explanation.admittedBy) {
    const decided = engine.decide(request);
    grant = { lifetime: decided.lifetime, scope: decided.scopes.join(' '), act: decided.act };
  }
  const summary = (token: PresentedToken) => ({
    issuerName: token.issuerName,
    iss: token.claims.iss,
    sub: token.claims.sub,
  });
  const anyJwt = input.subject.header !== undefined || input.actor?.header !== undefined;
  return {
    admitted: explanation.admittedBy !== undefined,
    admittedBy: explanation.admittedBy,
    signatureVerified: anyJwt ? false : null,
    subject: summary(subject),
    actor: actor ? summary(actor) : undefined,
    audience,
    scopes,
    grant,
    verdicts: explanation.verdicts,
    warnings,
  };
}

/** The report in words, for a terminal. */
export function formatReport(report: ExplainReport): string {
  const lines: string[] = [];
  if (report.signatureVerified === false) {
    lines.push('note: signature NOT verified (offline explain decodes the token without checking it)');
  }
  const who = (label: string, token: ExplainReport['subject']) =>
    `${label}: sub=${JSON.stringify(token.sub)} issuer=${token.issuerName}` +
    (typeof token.iss === 'string' && token.iss !== token.issuerName ? ` (${token.iss})` : '');
  lines.push(who('subject', report.subject));
  if (report.actor) lines.push(who('actor', report.actor));
  lines.push(
    `target: ${report.audience}${report.scopes.length ? `  scope: ${report.scopes.join(' ')}` : ''}`,
  );
  for (const warning of report.warnings) lines.push(`warning: ${warning}`);
  lines.push('');
  if (report.admittedBy && report.grant) {
    const scope = report.grant.scope ? `, scope "${report.grant.scope}"` : '';
    lines.push(`ADMITTED by policy "${report.admittedBy}" (lifetime ${report.grant.lifetime}s${scope})`);
  } else {
    lines.push('REFUSED: no policy admits this request');
  }
  for (const verdict of report.verdicts) {
    lines.push(`  policy ${verdict.policy}: ${verdict.admits ? 'admits' : 'refuses'}`);
    for (const reason of verdict.reasons) lines.push(`    - ${reason}`);
  }
  return `${lines.join('\n')}\n`;
}
