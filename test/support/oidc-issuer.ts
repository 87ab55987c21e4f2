import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { calculateJwkThumbprint, type JWK, type JWTPayload, SignJWT } from 'jose';

/**
 * An external OIDC issuer served over HTTP on loopback, as the STS sees GitHub or Okta:
 * discovery document, JWKS, and a `mint` that signs real RS256/ES256 JWTs. Counts requests.
 */
export interface TestIssuer {
  readonly issuer: string;
  readonly requests: { discovery: number; jwks: number };
  mint(
    claims: JWTPayload,
    options?: { alg?: 'RS256' | 'ES256'; header?: Record<string, unknown> },
  ): Promise<string>;
  close(): Promise<void>;
}

export async function startTestIssuer(): Promise<TestIssuer> {
  const keys: Record<'RS256' | 'ES256', { key: KeyObject; jwk: JWK }> = {} as never;
  for (const alg of ['RS256', 'ES256'] as const) {
    const pair =
      alg === 'RS256'
        ? generateKeyPairSync('rsa', { modulusLength: 2048 })
        : generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const jwk = pair.publicKey.export({ format: 'jwk' }) as JWK;
    keys[alg] = {
      key: pair.privateKey,
      jwk: { ...jwk, alg, use: 'sig', kid: await calculateJwkThumbprint(jwk) },
    };
  }
  const requests = { discovery: 0, jwks: 0 };
  let issuer = '';
  const server: Server = createServer((request, response) => {
    const body = (value: unknown) => {
      response.writeHead(200, { 'Content-Type': 'application/json' });
      response.end(JSON.stringify(value));
    };
    if (request.url === '/.well-known/openid-configuration') {
      requests.discovery++;
      return body({ issuer, jwks_uri: `${issuer}/keys`, response_types_supported: ['id_token'] });
    }
    if (request.url === '/keys') {
      requests.jwks++;
      return body({ keys: [keys.RS256.jwk, keys.ES256.jwk] });
    }
    response.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    issuer,
    requests,
    mint: async (claims, { alg = 'RS256', header = {} } = {}) => {
      const now = Math.floor(Date.now() / 1000);
      return new SignJWT({ iss: issuer, iat: now, nbf: now, exp: now + 300, ...claims })
        .setProtectedHeader({ alg, kid: keys[alg].jwk.kid!, typ: 'JWT', ...header })
        .sign(keys[alg].key);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
