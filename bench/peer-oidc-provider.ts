import { generateKeyPairSync } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { calculateJwkThumbprint, type JWK } from 'jose';
import Provider from 'oidc-provider';
import { AUDIENCE, PEER_CLIENT_ID, PEER_ISSUER } from './fixtures.ts';

/**
 * The peer: node-oidc-provider 9 issuing RFC 9068 JWT access tokens signed ES256 through the
 * client_credentials grant, the client authenticating with private_key_jwt (RS256 assertions,
 * `jti` checked for replay in the provider's in-memory adapter). One request costs the same
 * cryptography as one of our exchanges: an RS256 verification and an ES256 signature.
 */
export interface PeerServer {
  readonly url: string;
  close(): Promise<void>;
}

export async function startPeer(clientJwk: JWK): Promise<PeerServer> {
  const signingKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
  const publicPart = { kty: signingKey.kty, crv: signingKey.crv, x: signingKey.x, y: signingKey.y } as JWK;
  const kid = await calculateJwkThumbprint(publicPart);
  const provider = new Provider(PEER_ISSUER, {
    clients: [
      {
        client_id: PEER_CLIENT_ID,
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'private_key_jwt',
        token_endpoint_auth_signing_alg: 'RS256',
        // The provider holds only the ES256 key, so the (unused) ID token alg must be ES256 too.
        id_token_signed_response_alg: 'ES256',
        jwks: { keys: [clientJwk] },
        scope: 'read',
      },
    ],
    jwks: { keys: [{ ...signingKey, kid, alg: 'ES256', use: 'sig' }] },
    scopes: ['read'],
    cookies: { keys: ['bench-cookie-key-not-used-by-client-credentials'] },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => AUDIENCE,
        getResourceServerInfo: (_ctx: unknown, resource: string) => {
          if (resource !== AUDIENCE) throw new Provider.errors.InvalidTarget();
          return {
            scope: 'read',
            audience: AUDIENCE,
            accessTokenTTL: 300,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'ES256' } },
          };
        },
      },
    },
    ttl: { ClientCredentials: 300 },
  });
  const server: Server = createServer(provider.callback());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
