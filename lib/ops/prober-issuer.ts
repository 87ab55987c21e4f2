// The prober's own trusted issuer: how the scheduled prober (lambdas/prober.ts) gets subject
// tokens without any long-lived secret. Its key is a KMS key only the prober's role may Sign with
// (cdk/prober.ts); its public key is published by this service at PROBER_JWKS_PATH (the
// `prober-jwks` route, which reads it with GetPublicKey); and when the prober is on
// (`STS_PROBER=on`), the service trusts that issuer for exactly one subject through one policy that
// grants one audience no relying party accepts and one scope. Subject tokens live two minutes and
// are one-time (SEEN#), so a captured one cannot be replayed, and a token minted for the prober
// is worth nothing beyond the prober's own checks. docs/operations.md explains the design.
import {
  type Config,
  ConfigError,
  type PolicyConfig,
  parseConfig,
  type TrustedIssuerConfig,
} from '../config/config.ts';
import { newJti } from '../exchange/access-token.ts';
import type { Clock } from '../shared/clock.ts';
import { epochSeconds } from '../shared/clock.ts';
import type { Signer } from '../signers/signer.ts';

/** Name of the prober's trusted issuer, and of its one policy. */
export const PROBER_NAME = 'sts-prober';
/** The one subject the prober policy admits. */
export const PROBER_SUBJECT = 'sts-prober';
/** The one scope the prober policy grants; the negative probe asks for PROBER_DENIED_SCOPE. */
export const PROBER_SCOPE = 'probe';
export const PROBER_DENIED_SCOPE = 'probe:denied';
/** The audience of the prober's access tokens: a URN no relying party serves. */
export const PROBER_AUDIENCE = 'urn:serverless-sts:prober';
/** Where this service publishes the prober issuer's public key (route table: `prober-jwks`). */
export const PROBER_JWKS_PATH = '/prober/jwks.json';
/** Seconds a prober subject token lives. */
export const PROBER_TOKEN_LIFETIME = 120;

const base = (issuer: string) => issuer.replace(/\/+$/, '');

/** The prober issuer's URL (`iss` of its subject tokens) for this service's issuer. */
export const proberIssuerUrl = (issuer: string): string => `${base(issuer)}/prober`;

/**
 * `config` plus the prober's trusted issuer and policy. Refuses a config that already has an
 * issuer or policy of that name, or the prober issuer's URL under another name.
 */
export function withProber(config: Config): Config {
  const issuer = proberIssuerUrl(config.issuer);
  const problems: string[] = [];
  if (config.trustedIssuers.some((trusted) => trusted.name === PROBER_NAME || trusted.issuer === issuer))
    problems.push(`trustedIssuers: "${PROBER_NAME}" (${issuer}) is reserved for the prober (STS_PROBER=on)`);
  if (config.policies.some((policy) => policy.name === PROBER_NAME))
    problems.push(`policies: "${PROBER_NAME}" is reserved for the prober (STS_PROBER=on)`);
  if (problems.length > 0) throw new ConfigError('with the prober', problems);
  // Parsed like any policy file, so the entries get every default a real one gets.
  const prober = parseConfig(
    {
      issuer: config.issuer,
      trustedIssuers: [
        {
          name: PROBER_NAME,
          issuer,
          audiences: [config.issuer],
          algorithms: ['ES256'],
          jwksUri: `${base(config.issuer)}${PROBER_JWKS_PATH}`,
          oneTimeUse: true,
        },
      ],
      policies: [
        {
          name: PROBER_NAME,
          issuer: PROBER_NAME,
          subject: PROBER_SUBJECT,
          audiences: [PROBER_AUDIENCE],
          scopes: [PROBER_SCOPE],
          maxLifetime: '1m',
        },
      ],
    },
    'the prober issuer',
  );
  const trusted: TrustedIssuerConfig = prober.trustedIssuers[0]!;
  const policy: PolicyConfig = prober.policies[0]!;
  return freeze({
    ...config,
    trustedIssuers: [...config.trustedIssuers, trusted],
    policies: [...config.policies, policy],
  });
}

/** `config`, with the prober's issuer and policy when the prober is on (`STS_PROBER=on`). */
export function configWithProber(config: Config, prober: boolean): Config {
  return prober ? withProber(config) : config;
}

const freeze = <T>(value: T): T => {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const child of Object.values(value)) freeze(child);
    Object.freeze(value);
  }
  return value;
};

const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');

/**
 * A prober subject token for the service at `issuer`, signed by `signer` (KMS on AWS: the prober
 * issuer's key; a local key in tests): ES256, `typ: JWT`, two minutes, a fresh jti.
 */
export async function mintProberToken(signer: Signer, issuer: string, clock: Clock): Promise<string> {
  const key = await signer.activeKey();
  if (key.alg !== 'ES256') throw new TypeError(`the prober issuer signs with ES256, not ${key.alg}`);
  const iat = epochSeconds(clock);
  const claims = {
    iss: proberIssuerUrl(issuer),
    sub: PROBER_SUBJECT,
    aud: issuer,
    iat,
    nbf: iat,
    exp: iat + PROBER_TOKEN_LIFETIME,
    jti: newJti(),
  };
  const signingInput = `${b64({ alg: key.alg, kid: key.kid, typ: 'JWT' })}.${b64(claims)}`;
  const signature = await signer.sign(Buffer.from(signingInput));
  return `${signingInput}.${Buffer.from(signature).toString('base64url')}`;
}
