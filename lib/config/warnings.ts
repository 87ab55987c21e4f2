// Warnings about a valid policy file: shapes the service accepts but a reviewer should look at
// twice. `sts config validate` prints them (they do not fail validation):
// - a pattern that starts or ends with a single `*`, whose reach changed when `*` stopped
//   spanning `:` (write `**` to keep the old meaning, see docs/configuration.md "Patterns");
// - a `self` policy (or `self` actor rule) without `rootPolicy`, which admits a token of any
//   chain: a token minted only for this service's own audience, meant for delegation, would reach
//   every audience of that policy (docs/revocation.md "Chains");
// - a policy `maxLifetime` at or above `tokenLifetime.default`: it only ever lowers a lifetime
//   (RFC 8693 has no parameter to ask for a longer one), so there it does nothing.

import { spanChanged } from '../policy/pattern.ts';
import { SELF_ISSUER } from '../shared/claims.ts';
import type { Config, Matcher } from './config.ts';

const UNITS = [
  [86_400, 'd'],
  [3600, 'h'],
  [60, 'm'],
] as const;

/** Seconds as the config file writes them: `900` is `15m`. */
const seconds = (value: number): string => {
  const unit = UNITS.find(([size]) => value % size === 0);
  return unit ? `${value / unit[0]}${unit[1]}` : `${value}s`;
};

/** The warnings for a parsed config, each naming the field, in file order. */
export function configWarnings(config: Config): string[] {
  const warnings: string[] = [];
  const patterns = (at: string, matcher: Matcher) => {
    if (spanChanged(matcher.subject))
      warnings.push(
        `${at}.subject: "${matcher.subject}" starts or ends with a single *, which no longer spans ":"; write ** if it should`,
      );
    for (const [name, pattern] of Object.entries(matcher.claims)) {
      if (spanChanged(pattern))
        warnings.push(
          `${at}.claims.${name}: "${pattern}" starts or ends with a single *, which no longer spans ":"; write ** if it should`,
        );
    }
  };
  const chain = (at: string, matcher: Matcher & { readonly issuer: string }) => {
    if (matcher.issuer === SELF_ISSUER && matcher.rootPolicy === undefined)
      warnings.push(
        `${at}: issuer "self" without rootPolicy admits a token of any chain, including one minted only for this service's audience; name the policy chains must start from`,
      );
  };
  const { tokenLifetime } = config;
  config.policies.forEach((policy, index) => {
    const at = `policies[${index}]`;
    patterns(at, policy);
    chain(at, policy);
    if (policy.maxLifetime !== undefined && policy.maxLifetime >= tokenLifetime.default)
      warnings.push(
        `${at}.maxLifetime: ${seconds(policy.maxLifetime)} is not below tokenLifetime.default (${seconds(tokenLifetime.default)}), so it changes nothing: a token lives min(tokenLifetime.default, maxLifetime, tokenLifetime.max), and a request cannot ask for longer`,
      );
    policy.actors?.forEach((actor, actorIndex) => {
      patterns(`${at}.actors[${actorIndex}]`, actor);
      chain(`${at}.actors[${actorIndex}]`, actor);
    });
  });
  return warnings;
}
