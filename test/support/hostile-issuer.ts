import {
  constants,
  createHmac,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
  randomBytes,
  sign,
} from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createServer as createTcpServer, type Socket } from 'node:net';
import { calculateJwkThumbprint, type JWK } from 'jose';
import type { Clock } from '../../lib/shared/clock.ts';

/**
 * An external OIDC issuer on loopback for hostile-input and fault tests: its discovery document
 * and JWKS answer as told (serve, fail, hang, junk), every request is counted, and `token` signs
 * anything, including what jose refuses to produce (alg none, HS256 with a public key, crit,
 * duplicate keys, bytes that are not UTF-8). Also: a recorder that counts requests it should never
 * get, and a TCP server that accepts connections and never answers.
 */
export type KeyName = 'rsa' | 'ec' | 'ed' | 'weak' | 'attacker';

export interface IssuerKey {
  readonly kid: string;
  readonly alg: string;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  readonly jwk: JWK;
}

/** How an endpoint answers: `serve` (the real document), a fixed reply, `hang` (never), `drop` (reset). */
export type Behaviour =
  | 'serve'
  | 'hang'
  | 'drop'
  | {
      readonly status?: number;
      readonly type?: string;
      readonly body: string | Buffer;
      readonly location?: string;
    };

export interface TokenSpec {
  /** Merged over the default header `{alg: "RS256", kid, typ: "JWT"}`; `undefined` values are removed. */
  readonly header?: Record<string, unknown>;
  /** The header as raw JSON text (instead of `header`). */
  readonly headerText?: string;
  /** Merged over the default claims; `undefined` values are removed. */
  readonly claims?: Record<string, unknown>;
  /** The payload as raw text or bytes (instead of `claims`). */
  readonly payload?: string | Buffer;
  /** Signing key (default: the key matching the header alg); raw bytes sign HS*. */
  readonly key?: KeyName | KeyObject | Uint8Array;
  /** Signature algorithm, if not the header's. */
  readonly signAs?: string;
  /** Replaces the signature segment. */
  readonly signature?: string;
}

export interface HostileIssuer {
  readonly issuer: string;
  readonly jwksUri: string;
  readonly requests: { discovery: number; jwks: number; other: number };
  readonly keys: Readonly<Record<KeyName, IssuerKey>>;
  /** Keys the JWKS publishes (default: rsa, ec, ed, weak; never attacker). */
  published: KeyName[];
  discovery: Behaviour;
  jwks: Behaviour;
  /** Default `aud` of tokens (the STS base URL once known). */
  audience: string;
  /** Default claims at the issuer's clock: iss, sub, aud, iat, nbf, exp (+5 min), jti. */
  claims(extra?: Record<string, unknown>): Record<string, unknown>;
  token(spec?: TokenSpec): string;
  close(): Promise<void>;
}

export const b64url = (value: string | Buffer): string => Buffer.from(value).toString('base64url');

async function issuerKey(alg: string, privateKey: KeyObject, kid?: string): Promise<IssuerKey> {
  const publicKey = createPublicKey(privateKey);
  const exported = publicKey.export({ format: 'jwk' }) as JWK;
  const id = kid ?? (await calculateJwkThumbprint(exported, 'sha256'));
  return { kid: id, alg, privateKey, publicKey, jwk: { ...exported, kid: id, alg, use: 'sig' } };
}

/** JWS signature bytes of `input` for `alg` (RS*, PS*, ES*, EdDSA, HS* with raw key bytes). */
export function jwsSign(alg: string, key: KeyObject | Uint8Array, input: string): Buffer {
  const data = Buffer.from(input);
  const bits = alg.slice(2) === '512' ? '512' : alg.slice(2) === '384' ? '384' : '256';
  const hash = `sha${bits}`;
  if (alg.startsWith('HS'))
    return createHmac(hash, key as Uint8Array)
      .update(data)
      .digest();
  const privateKey = key as KeyObject;
  if (alg === 'EdDSA') return sign(null, data, privateKey);
  if (alg.startsWith('ES')) return sign(hash, data, { key: privateKey, dsaEncoding: 'ieee-p1363' });
  if (alg.startsWith('PS')) {
    return sign(hash, data, {
      key: privateKey,
      padding: constants.RSA_PKCS1_PSS_PADDING,
      saltLength: constants.RSA_PSS_SALTLEN_DIGEST,
    });
  }
  return sign(hash, data, privateKey);
}

const withoutUndefined = (value: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined));

function answer(response: ServerResponse, behaviour: Behaviour, document: () => unknown): void {
  if (behaviour === 'hang') return;
  if (behaviour === 'drop') {
    response.socket?.destroy();
    return;
  }
  if (behaviour === 'serve') {
    response.writeHead(200, { 'Content-Type': 'application/json' });
    response.end(JSON.stringify(document()));
    return;
  }
  const headers: Record<string, string> = { 'Content-Type': behaviour.type ?? 'application/json' };
  if (behaviour.location) headers.Location = behaviour.location;
  response.writeHead(behaviour.status ?? 200, headers);
  response.end(behaviour.body);
}

/** Generates the keys of an issuer (RSA 2048, P-256, Ed25519, RSA 1024 and an attacker's RSA 2048). */
export async function generateIssuerKeys(): Promise<Readonly<Record<KeyName, IssuerKey>>> {
  return {
    rsa: await issuerKey('RS256', generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey),
    ec: await issuerKey('ES256', generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey),
    ed: await issuerKey('EdDSA', generateKeyPairSync('ed25519').privateKey),
    weak: await issuerKey(
      'RS256',
      generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey,
      'weak-1024',
    ),
    attacker: await issuerKey('RS256', generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey),
  };
}

/** Starts an issuer on 127.0.0.1 whose tokens' times come from `clock`; `keys` may be shared. */
export async function startHostileIssuer(
  clock: Clock = Date.now,
  keys?: Readonly<Record<KeyName, IssuerKey>>,
): Promise<HostileIssuer> {
  keys ??= await generateIssuerKeys();
  const sockets = new Set<Socket>();
  const server: Server = createServer((request: IncomingMessage, response: ServerResponse) => {
    if (request.url === '/.well-known/openid-configuration') {
      state.requests.discovery++;
      return answer(response, state.discovery, () => ({
        issuer: state.issuer,
        jwks_uri: state.jwksUri,
        response_types_supported: ['id_token'],
      }));
    }
    if (request.url === '/jwks') {
      state.requests.jwks++;
      return answer(response, state.jwks, () => ({ keys: state.published.map((name) => keys[name].jwk) }));
    }
    state.requests.other++;
    response.writeHead(404).end();
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const keyFor = (alg: string): KeyName => (alg.startsWith('ES') ? 'ec' : alg === 'EdDSA' ? 'ed' : 'rsa');

  const state: HostileIssuer = {
    issuer: base,
    jwksUri: `${base}/jwks`,
    requests: { discovery: 0, jwks: 0, other: 0 },
    keys,
    published: ['rsa', 'ec', 'ed', 'weak'],
    discovery: 'serve',
    jwks: 'serve',
    audience: 'unset',
    claims(extra = {}) {
      const now = Math.floor(clock() / 1000);
      return withoutUndefined({
        iss: base,
        sub: 'user:alice',
        aud: state.audience,
        iat: now,
        nbf: now,
        exp: now + 300,
        jti: randomBytes(12).toString('base64url'),
        ...extra,
      });
    },
    token(spec = {}) {
      const header = withoutUndefined({ alg: 'RS256', typ: 'JWT', ...spec.header });
      if (!spec.header || !('kid' in spec.header)) {
        header.kid = keys[keyFor(String(header.alg))].kid;
      }
      const headerText = spec.headerText ?? JSON.stringify(header);
      const payload = spec.payload ?? JSON.stringify(state.claims(spec.claims));
      const input = `${b64url(headerText)}.${b64url(payload)}`;
      if (spec.signature !== undefined) return `${input}.${spec.signature}`;
      const alg = spec.signAs ?? String(header.alg);
      const key = spec.key ?? keyFor(alg);
      const material = typeof key === 'string' ? keys[key].privateKey : key;
      return `${input}.${jwsSign(alg, material, input).toString('base64url')}`;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
  return state;
}

/** An HTTP server that must never be called: counts every request it gets (and answers 404). */
export interface Recorder {
  readonly url: string;
  readonly requests: string[];
  close(): Promise<void>;
}

export async function startRecorder(): Promise<Recorder> {
  const requests: string[] = [];
  const server = createServer((request, response) => {
    requests.push(`${request.method} ${request.url}`);
    response.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A TCP server that accepts connections and never answers: a hung dependency. */
export interface HangingServer {
  readonly url: string;
  /** Connections accepted so far. */
  readonly connections: () => number;
  close(): Promise<void>;
}

export async function startHangingServer(): Promise<HangingServer> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server = createTcpServer((socket) => {
    accepted++;
    sockets.add(socket);
    socket.on('error', () => {});
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    connections: () => accepted,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
