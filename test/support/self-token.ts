import type { Config } from '../../lib/config/config.ts';
import {
  type AccessTokenClaims,
  type MintedToken,
  mintAccessToken,
} from '../../lib/exchange/access-token.ts';
import type { Clock } from '../../lib/shared/clock.ts';
import type { Signer } from '../../lib/signers/signer.ts';
import type { TokenStore } from '../../lib/stores/store.ts';

export interface SelfTokenDeps {
  readonly config: Config;
  readonly signer: Signer;
  readonly store: TokenStore;
  readonly clock: Clock;
}

export interface SelfTokenOptions extends Partial<AccessTokenClaims> {
  /** Whether to write the TOKEN# record as the exchange does (default true). */
  readonly record?: boolean;
}

/**
 * Mints a token as this service does after an exchange (by default for the service's own issuer
 * as `aud`, so it can be presented again) and records its jti in the store.
 */
export async function issueSelfToken(
  deps: SelfTokenDeps,
  options: SelfTokenOptions = {},
): Promise<MintedToken> {
  const { record = true, ...overrides } = options;
  const claims: AccessTokenClaims = {
    iss: deps.config.issuer,
    sub: 'repo:acme/app:ref:refs/heads/main',
    aud: deps.config.issuer,
    clientId: 'test',
    scope: undefined,
    act: undefined,
    iat: Math.floor(deps.clock() / 1000),
    lifetime: 300,
    copied: {},
    ...overrides,
  };
  const minted = await mintAccessToken(deps.signer, claims);
  if (record) {
    await deps.store.recordIssued({
      jti: minted.jti,
      sub: claims.sub,
      aud: claims.aud,
      clientId: claims.clientId,
      scope: claims.scope,
      iat: claims.iat,
      exp: claims.iat + claims.lifetime,
      subjectIssuer: 'test',
      originIssuer: 'https://issuer.test',
      policy: 'test',
      ancestors: [],
      actors: [],
    });
  }
  return minted;
}
