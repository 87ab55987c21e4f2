// The words of `sts explain` for a terminal: who presented what, the chain of a token of ours as
// its TOKEN# record tells it, the answer (ADMITTED, UNDECIDED or REFUSED, with the service's error)
// and every policy's verdict with its reasons.

import type { PolicyVerdict } from '../lib/policy/policy.ts';
import type { ChainSummary, ExplainReport, PartySummary } from './explain.ts';

const when = (epoch: number) => new Date(epoch * 1000).toISOString();

function chainLine(label: string, chain: ChainSummary): string {
  if (chain.record === 'not_read')
    return `${label} chain: unknown (origin and rootPolicy are in its TOKEN# record, which was not read)`;
  if (chain.record === 'unknown')
    return `${label} chain: no TOKEN# record (never issued here, or long expired)`;
  const state = chain.record === 'active' ? `active until ${when(chain.exp!)}` : chain.record;
  return `${label} chain: origin "${chain.origin}", rootPolicy "${chain.rootPolicy}" (TOKEN# record ${state})`;
}

/** The report in words, for a terminal. */
export function formatReport(report: ExplainReport): string {
  const lines: string[] = [];
  if (report.signatureVerified === false) {
    lines.push('note: signature NOT verified (explain decodes the token without checking it)');
  }
  const who = (label: string, token: PartySummary) => {
    lines.push(
      `${label}: sub=${JSON.stringify(token.sub)} issuer=${token.issuerName}` +
        (typeof token.iss === 'string' && token.iss !== token.issuerName ? ` (${token.iss})` : ''),
    );
    if (token.chain) lines.push(chainLine(label, token.chain));
  };
  who('subject', report.subject);
  if (report.actor) who('actor', report.actor);
  lines.push(
    `target: ${report.audience}${report.scopes.length ? `  scope: ${report.scopes.join(' ')}` : ''}`,
  );
  for (const warning of report.warnings) lines.push(`warning: ${warning}`);
  lines.push('');
  if (report.admittedBy && report.grant) {
    const { lifetime, lifetimeExact, scope } = report.grant;
    const life = lifetimeExact ? `lifetime ${lifetime}s` : `lifetime at most ${lifetime}s`;
    lines.push(`ADMITTED by policy "${report.admittedBy}" (${life}${scope ? `, scope "${scope}"` : ''})`);
    if (!lifetimeExact) {
      lines.push(
        '  the service caps the lifetime at the life left to the token of ours it comes from (its TOKEN# record, not read offline)',
      );
    }
  } else if (report.undecided.length > 0) {
    const names = report.undecided.map((name) => `"${name}"`).join(', ');
    const which = report.undecided.length > 1 ? `policies ${names} depend` : `policy ${names} depends`;
    lines.push(
      `UNDECIDED: ${which} on the chain's origin or rootPolicy, which could not be evaluated offline (give --table to read the TOKEN# record)`,
    );
  } else if (report.refusal && !report.refusal.reason.startsWith('policy.')) {
    const { error, reason, description } = report.refusal;
    lines.push(`REFUSED: ${description} (${error}, reason ${reason})`);
  } else {
    const answer = report.refusal ? ` (the service answers ${report.refusal.error})` : '';
    lines.push(`REFUSED: no policy admits this request${answer}`);
  }
  for (const verdict of report.verdicts) {
    lines.push(`  policy ${verdict.policy}: ${verdictWord(verdict, report.undecided)}`);
    for (const reason of verdict.reasons) lines.push(`    - ${reason}`);
  }
  return `${lines.join('\n')}\n`;
}

const verdictWord = (verdict: PolicyVerdict, undecided: readonly string[]) =>
  verdict.admits ? 'admits' : undecided.includes(verdict.policy) ? 'undecided' : 'refuses';
