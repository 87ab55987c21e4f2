// The built-in development issuer of the local server: an OIDC-style issuer at `<base>/dev`
// whose tokens the development config trusts, so a newcomer can mint a subject token with curl.
// It exists only in the local server; it is not in the route table and is never deployed.

import { createPrivateKey, type KeyObject } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { type JWK, SignJWT } from 'jose';
import { newJti } from '../lib/exchange/access-token.ts';
import { generateSigningKey, publicJwk } from '../lib/signers/local.ts';

export const DEV_ISSUER_PATH = '/dev';

export interface DevIssuer {
  readonly issuer: string;
  readonly jwk: JWK;
  /** Mints a development subject token. */
  mint(input: DevTokenInput): Promise<string>;
  /** Answers the dev issuer's routes, or undefined when the path is not one of them. */
  route(
    method: string,
    path: string,
    form: URLSearchParams,
  ): Promise<{ status: number; type: string; body: string } | undefined>;
}

export interface DevTokenInput {
  readonly sub: string;
  readonly aud: string;
  /** Seconds (default 600). */
  readonly lifetime?: number;
  readonly claims?: Record<string, unknown>;
}

function loadKey(path: string): KeyObject {
  try {
    return createPrivateKey({ key: JSON.parse(readFileSync(path, 'utf8')) as never, format: 'jwk' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const key = generateSigningKey('ES256');
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, JSON.stringify(key.export({ format: 'jwk' })), { mode: 0o600 });
  return key;
}

export async function createDevIssuer(
  base: string,
  keyPath: string,
  defaultAudience: string,
): Promise<DevIssuer> {
  const issuer = `${base}${DEV_ISSUER_PATH}`;
  const key = loadKey(keyPath);
  const jwk = await publicJwk(key, 'ES256');

  const mint = async ({ sub, aud, lifetime = 600, claims = {} }: DevTokenInput) =>
    new SignJWT({ ...claims })
      .setProtectedHeader({ alg: 'ES256', kid: jwk.kid!, typ: 'JWT' })
      .setIssuer(issuer)
      .setSubject(sub)
      .setAudience(aud)
      .setIssuedAt()
      .setNotBefore('0s')
      .setExpirationTime(`${Math.max(1, Math.min(lifetime, 86_400))}s`)
      .setJti(newJti())
      .sign(key);

  const jsonBody = (value: unknown) => ({
    status: 200,
    type: 'application/json',
    body: JSON.stringify(value),
  });

  return {
    issuer,
    jwk,
    mint,
    async route(method, path, form) {
      if (method === 'GET' && path === `${DEV_ISSUER_PATH}/.well-known/openid-configuration`) {
        return jsonBody({ issuer, jwks_uri: `${issuer}/jwks.json`, token_endpoint: `${issuer}/token` });
      }
      if (method === 'GET' && path === `${DEV_ISSUER_PATH}/jwks.json`) return jsonBody({ keys: [jwk] });
      if (method === 'POST' && path === `${DEV_ISSUER_PATH}/token`) {
        let claims: Record<string, unknown> = {};
        try {
          claims = JSON.parse(form.get('claims') ?? '{}') as Record<string, unknown>;
        } catch {
          return { status: 400, type: 'text/plain', body: 'claims must be a JSON object\n' };
        }
        const token = await mint({
          sub: form.get('sub') || 'dev-user',
          aud: form.get('aud') || defaultAudience,
          lifetime: Number(form.get('lifetime') ?? 600) || 600,
          claims,
        });
        return { status: 200, type: 'text/plain', body: token };
      }
      return undefined;
    },
  };
}
