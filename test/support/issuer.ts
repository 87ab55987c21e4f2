import { randomUUID } from 'node:crypto';
import { type JWTHeaderParameters, SignJWT } from 'jose';
import type { Clock } from '../../lib/shared/clock.ts';
import { createFakeFetch, type FakeFetch, type FetchHandler } from './fetch.ts';
import { generateTestKey, type TestAlgorithm, type TestKey } from './keys.ts';

/**
 * A fake OIDC issuer: generated keys, a discovery document and a JWKS served through a FakeFetch,
 * and real JWTs signed with jose.
 */
export interface FakeIssuer {
  /** The issuer URL (`iss` of its tokens). */
  readonly issuer: string;
  /** Where its JWKS is served; its discovery document points here. */
  readonly jwksUri: string;
  /** `<issuer>/.well-known/openid-configuration`, answering `{issuer, jwks_uri}`. */
  readonly discoveryUrl: string;
  /** The fetch serving discovery and JWKS (shared when one was passed in). */
  readonly fetch: FakeFetch;
  /** The key that signs by default. */
  readonly key: TestKey;
  /** Every key the JWKS publishes (mutable: push, splice, or replace to rotate). */
  readonly published: TestKey[];
  /**
   * Signs a JWT with default claims (iss, sub, aud, iat, nbf, exp in 10 min, jti) overridden by
   * `claims`; a claim set to `undefined` is left out. Header `{alg, kid, typ: "JWT"}` plus `header`.
   */
  token(claims?: Record<string, unknown>, options?: TokenOptions): Promise<string>;
  /** Replaces the JWKS handler (outage, junk, slowness); `serveJwks()` restores it. */
  jwksHandler(handler: FetchHandler): void;
  /** Serves the published keys at `jwksUri` again. */
  serveJwks(): void;
}

export interface TokenOptions {
  /** Header parameters added to (or replacing) `{alg, kid, typ: "JWT"}`. */
  readonly header?: Partial<JWTHeaderParameters>;
  /** Signing key (default: the issuer's key); it need not be published. */
  readonly key?: TestKey;
}

export interface FakeIssuerOptions {
  /** The time its tokens are issued at. */
  readonly clock: Clock;
  /** Default: GITHUB_ISSUER. */
  readonly issuer?: string;
  /** Algorithm of its key (default RS256, as GitHub). */
  readonly alg?: TestAlgorithm;
  /** Default `aud` of its tokens. */
  readonly audience?: string;
  /** Default `sub` of its tokens. */
  readonly subject?: string;
  /** Share one FakeFetch between several issuers. */
  readonly fetch?: FakeFetch;
}

/** The GitHub Actions issuer URL, the default of fake issuers. */
export const GITHUB_ISSUER = 'https://token.actions.githubusercontent.com';

/** Creates a fake issuer whose discovery and JWKS are served by `options.fetch` (or a new FakeFetch). */
export async function createFakeIssuer(options: FakeIssuerOptions): Promise<FakeIssuer> {
  const issuer = options.issuer ?? GITHUB_ISSUER;
  const base = issuer.replace(/\/$/, '');
  const jwksUri = `${base}/.well-known/jwks`;
  const discoveryUrl = `${base}/.well-known/openid-configuration`;
  const fake = options.fetch ?? createFakeFetch();
  const key = await generateTestKey(options.alg ?? 'RS256');
  const published = [key];
  const serveJwks = () => fake.on(jwksUri, () => Response.json({ keys: published.map((each) => each.jwk) }));
  fake.on(discoveryUrl, () => Response.json({ issuer, jwks_uri: jwksUri }));
  serveJwks();

  return {
    issuer,
    jwksUri,
    discoveryUrl,
    fetch: fake,
    key,
    published,
    async token(claims = {}, { header = {}, key: signingKey = key } = {}) {
      const now = Math.floor(options.clock() / 1000);
      const payload: Record<string, unknown> = {
        iss: issuer,
        sub: options.subject ?? 'repo:acme/app:ref:refs/heads/main',
        aud: options.audience ?? 'https://sts.test',
        iat: now,
        nbf: now,
        exp: now + 600,
        jti: randomUUID(),
        ...claims,
      };
      for (const name of Object.keys(payload)) if (payload[name] === undefined) delete payload[name];
      return new SignJWT(payload)
        .setProtectedHeader({ alg: signingKey.alg, kid: signingKey.kid, typ: 'JWT', ...header })
        .sign(signingKey.privateKey);
    },
    jwksHandler: (handler) => fake.on(jwksUri, handler),
    serveJwks,
  };
}
