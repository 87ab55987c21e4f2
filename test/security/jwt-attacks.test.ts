import { randomBytes } from 'node:crypto';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../lib/config/config.ts';
import { RESERVED_CLAIMS } from '../../lib/shared/claims.ts';
import { subjectKey } from '../../lib/shared/token-table.ts';
import { createLocalSigner, generateSigningKey } from '../../lib/signers/local.ts';
import type { Signer } from '../../lib/signers/signer.ts';
import { MemoryStore } from '../../lib/stores/memory.ts';
import {
  b64url,
  type HostileIssuer,
  type Recorder,
  startHostileIssuer,
  startRecorder,
} from '../support/hostile-issuer.ts';
import {
  ACCESS_TOKEN,
  API,
  adjustableClock,
  expectOAuthError,
  type Harness,
  type HttpAnswer,
  ID_TOKEN,
  JWT,
  REPORTS,
  securityConfig,
  startHarness,
} from '../support/sts-harness.ts';

/**
 * Known attacks on JWT validators, presented over real HTTP as subject_token and as actor_token:
 * every one is refused with 400 `invalid_request` (RFC 8693 §2.2.2) and records nothing. Tokens
 * are built byte by byte, so each carries exactly the flaw it is named for and is otherwise valid.
 */
const clock = adjustableClock();
const store = new MemoryStore();
let ext: HostileIssuer;
let recorder: Recorder;
let signer: Signer;
let harness: Harness;
let recorded = 0;

beforeAll(async () => {
  [ext, recorder, signer] = await Promise.all([
    startHostileIssuer(clock),
    startRecorder(),
    createLocalSigner(generateSigningKey('ES256'), 'ES256'),
  ]);
  harness = await startHarness({ config: securityConfig(ext), store, signer, clock });
});

afterAll(async () => {
  await harness?.close();
  await Promise.all([ext?.close(), recorder?.close()]);
});

beforeEach(() => {
  recorded = store.tokens.size;
});

function expectRefused(answer: HttpAnswer): void {
  expectOAuthError(answer, 400, 'invalid_request');
  expect(store.tokens.size).toBe(recorded);
}

function expectIssued(answer: HttpAnswer): Record<string, unknown> {
  expect(answer.status, answer.text).toBe(200);
  recorded++;
  expect(store.tokens.size).toBe(recorded);
  return decodeJwt(String(answer.body?.access_token));
}

type Role = 'subject' | 'actor';
const SUBS: Record<Role, string> = { subject: 'user:alice', actor: 'service:ci' };

/** Presents `token` in `role`; the other token, if any, is valid. */
function present(role: Role, token: string, type = JWT, extra: Record<string, string> = {}) {
  if (role === 'subject')
    return harness.exchange({ subject_token: token, subject_token_type: type, audience: API, ...extra });
  return harness.exchange({
    subject_token: ext.token(),
    subject_token_type: JWT,
    actor_token: token,
    actor_token_type: type,
    audience: API,
    ...extra,
  });
}

/** This service's signing key, for tokens that carry its signature but break a rule. */
async function signOwn(header: Record<string, unknown>, claims: Record<string, unknown>): Promise<string> {
  const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  return `${input}.${Buffer.from(await signer.sign(Buffer.from(input))).toString('base64url')}`;
}
const ownClaims = (extra: Record<string, unknown> = {}) => ({
  ...ext.claims({ iss: harness.sts.url, aud: harness.sts.url }),
  ...extra,
});
const ownKid = async () => (await signer.activeKey()).kid;

const sigOf = (token: string) => token.split('.')[2]!;
const segments = (token: string) => token.split('.') as [string, string, string];
/** A token's payload text with `text` spliced in right after the opening brace. */
const payloadWith = (sub: string, text: string) =>
  JSON.stringify(ext.claims({ sub })).replace(/^\{/, `{${text},`);
/** Payload bytes with `bytes` in place of the `email` claim's value. */
const payloadBytes = (sub: string, bytes: number[]) => {
  const [head, tail] = JSON.stringify(ext.claims({ sub, email: '@@' })).split('@@') as [string, string];
  return Buffer.concat([Buffer.from(head), Buffer.from(bytes), Buffer.from(tail)]);
};
const publicPem = (type: 'spki' | 'pkcs1') =>
  Buffer.from(ext.keys.rsa.publicKey.export({ type, format: 'pem' }) as string);

/** P-256 group order n: an ECDSA r or s must lie in [1, n-1]. */
const P256_N = Buffer.from('FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551', 'hex');
const zeros = (length: number) => Buffer.alloc(length);
const ecWithSignature = (sub: string, signature: (real: Buffer) => Buffer) => {
  const token = ext.token({ header: { alg: 'ES256' }, claims: { sub } });
  const real = Buffer.from(sigOf(token), 'base64url');
  const [h, p] = segments(token);
  return `${h}.${p}.${signature(real).toString('base64url')}`;
};

type Case = readonly [name: string, build: (sub: string) => string | Promise<string>, type?: string];

const CASES: readonly Case[] = [
  // alg none and symmetric confusion
  [
    'alg "none" with an empty signature',
    (sub) => ext.token({ header: { alg: 'none', kid: undefined }, claims: { sub }, signature: '' }),
  ],
  ...(['None', 'NONE', 'nOnE'] as const).map(
    (alg): Case => [
      `alg "${alg}" with an empty signature`,
      (sub) => ext.token({ header: { alg }, claims: { sub }, signature: '' }),
    ],
  ),
  [
    'alg "none" with the kid of a real key and a real signature',
    (sub) =>
      ext.token({
        header: { alg: 'none', kid: ext.keys.rsa.kid },
        claims: { sub },
        signature: sigOf(ext.token({ claims: { sub } })),
      }),
  ],
  [
    'HS256 signed with the issuer RSA public key (SPKI PEM)',
    (sub) =>
      ext.token({ header: { alg: 'HS256', kid: ext.keys.rsa.kid }, claims: { sub }, key: publicPem('spki') }),
  ],
  [
    'HS256 signed with the issuer RSA public key (PKCS#1 PEM)',
    (sub) =>
      ext.token({
        header: { alg: 'HS256', kid: ext.keys.rsa.kid },
        claims: { sub },
        key: publicPem('pkcs1'),
      }),
  ],
  [
    'HS256 signed with the issuer public JWK as text',
    (sub) =>
      ext.token({
        header: { alg: 'HS256', kid: ext.keys.rsa.kid },
        claims: { sub },
        key: Buffer.from(JSON.stringify(ext.keys.rsa.jwk)),
      }),
  ],
  [
    'HS512 signed with the issuer EC public key (SPKI DER)',
    (sub) =>
      ext.token({
        header: { alg: 'HS512', kid: ext.keys.ec.kid },
        claims: { sub },
        key: ext.keys.ec.publicKey.export({ type: 'spki', format: 'der' }),
      }),
  ],
  // valid signatures under algorithms off the issuer's list (RS256, ES256)
  [
    'PS256, validly signed by the issuer RSA key',
    (sub) => ext.token({ header: { alg: 'PS256', kid: ext.keys.rsa.kid }, claims: { sub }, key: 'rsa' }),
  ],
  [
    'RS384, validly signed by the issuer RSA key',
    (sub) => ext.token({ header: { alg: 'RS384', kid: ext.keys.rsa.kid }, claims: { sub }, key: 'rsa' }),
  ],
  [
    'RS512, validly signed by the issuer RSA key',
    (sub) => ext.token({ header: { alg: 'RS512', kid: ext.keys.rsa.kid }, claims: { sub }, key: 'rsa' }),
  ],
  [
    'EdDSA, validly signed by a published Ed25519 key',
    (sub) => ext.token({ header: { alg: 'EdDSA', kid: ext.keys.ed.kid }, claims: { sub }, key: 'ed' }),
  ],
  [
    'alg "rs256" (case changed)',
    (sub) => ext.token({ header: { alg: 'rs256' }, claims: { sub }, signAs: 'RS256' }),
  ],
  [
    'alg "RS256 " (trailing space)',
    (sub) => ext.token({ header: { alg: 'RS256 ' }, claims: { sub }, signAs: 'RS256' }),
  ],
  ['alg as an array', (sub) => ext.token({ header: { alg: ['RS256'] }, claims: { sub }, signAs: 'RS256' })],
  [
    'no alg at all',
    (sub) =>
      ext.token({ header: { alg: undefined, kid: ext.keys.rsa.kid }, claims: { sub }, signAs: 'RS256' }),
  ],
  [
    'alg ES256 with the kid of the RSA key',
    (sub) => ext.token({ header: { alg: 'ES256', kid: ext.keys.rsa.kid }, claims: { sub } }),
  ],
  // keys chosen by the token
  [
    'an embedded jwk (attacker key) signing the token',
    (sub) =>
      ext.token({
        header: { kid: ext.keys.attacker.kid, jwk: ext.keys.attacker.jwk },
        claims: { sub },
        key: 'attacker',
      }),
  ],
  [
    'an embedded jwk under the kid of the issuer key',
    (sub) =>
      ext.token({
        header: { kid: ext.keys.rsa.kid, jwk: ext.keys.attacker.jwk },
        claims: { sub },
        key: 'attacker',
      }),
  ],
  [
    'jku pointing at a loopback server',
    (sub) =>
      ext.token({
        header: { kid: ext.keys.attacker.kid, jku: `${recorder.url}/jwks.json` },
        claims: { sub },
        key: 'attacker',
      }),
  ],
  [
    'x5u pointing at a loopback server',
    (sub) =>
      ext.token({
        header: { kid: ext.keys.attacker.kid, x5u: `${recorder.url}/cert.pem` },
        claims: { sub },
        key: 'attacker',
      }),
  ],
  [
    'x5c carrying an attacker key',
    (sub) =>
      ext.token({
        header: {
          x5c: [ext.keys.attacker.publicKey.export({ type: 'spki', format: 'der' }).toString('base64')],
        },
        claims: { sub },
        key: 'attacker',
      }),
  ],
  [
    'jku on a token validly signed by the issuer',
    (sub) => ext.token({ header: { jku: `${recorder.url}/jwks` }, claims: { sub } }),
  ],
  [
    'x5u on a token validly signed by the issuer',
    (sub) => ext.token({ header: { x5u: `${recorder.url}/x5u` }, claims: { sub } }),
  ],
  ['the issuer kid, signed by an attacker key', (sub) => ext.token({ claims: { sub }, key: 'attacker' })],
  [
    'RS256 signed by a published 1024-bit RSA key',
    (sub) => ext.token({ header: { kid: 'weak-1024' }, claims: { sub }, key: 'weak' }),
  ],
  // header parameters that change how the token is read
  [
    'an unknown crit extension',
    (sub) => ext.token({ header: { crit: ['urn:example:x'], 'urn:example:x': 1 }, claims: { sub } }),
  ],
  [
    'crit naming a registered parameter',
    (sub) => ext.token({ header: { crit: ['exp'], exp: 1 }, claims: { sub } }),
  ],
  ['an empty crit list', (sub) => ext.token({ header: { crit: [] }, claims: { sub } })],
  [
    'b64: false with crit ["b64"]',
    (sub) => ext.token({ header: { b64: false, crit: ['b64'] }, claims: { sub } }),
  ],
  ['b64: false without crit', (sub) => ext.token({ header: { b64: false }, claims: { sub } })],
  ['zip: DEF', (sub) => ext.token({ header: { zip: 'DEF' }, claims: { sub } })],
  ['enc in a JWS header', (sub) => ext.token({ header: { enc: 'A256GCM' }, claims: { sub } })],
  ['a nested JWT (cty: JWT)', (sub) => ext.token({ header: { cty: 'JWT' }, claims: { sub } })],
  ['a nested JWT (cty: jwt)', (sub) => ext.token({ header: { cty: 'jwt' }, claims: { sub } })],
  // serialization
  [
    'JWS JSON serialization (flattened)',
    (sub) => {
      const [protectedHeader, payload, signature] = segments(ext.token({ claims: { sub } }));
      return JSON.stringify({ protected: protectedHeader, payload, signature });
    },
  ],
  [
    'JWS JSON serialization (general)',
    (sub) => {
      const [protectedHeader, payload, signature] = segments(ext.token({ claims: { sub } }));
      return JSON.stringify({ payload, signatures: [{ protected: protectedHeader, signature }] });
    },
  ],
  [
    'a five-part JWE',
    () =>
      [
        b64url(JSON.stringify({ alg: 'RSA-OAEP-256', enc: 'A256GCM', kid: ext.keys.rsa.kid })),
        ...[1, 2, 3, 4].map(() => randomBytes(16).toString('base64url')),
      ].join('.'),
  ],
  ['a valid token plus an extra segment', (sub) => `${ext.token({ claims: { sub } })}.AAAA`],
  ['a valid token plus a trailing dot', (sub) => `${ext.token({ claims: { sub } })}.`],
  [
    'a valid token without its signature segment',
    (sub) =>
      segments(ext.token({ claims: { sub } }))
        .slice(0, 2)
        .join('.'),
  ],
  [
    'a detached payload (empty middle segment)',
    (sub) => {
      const [h, , s] = segments(ext.token({ claims: { sub } }));
      return `${h}..${s}`;
    },
  ],
  [
    'an empty header segment',
    (sub) =>
      `.${segments(ext.token({ claims: { sub } }))
        .slice(1)
        .join('.')}`,
  ],
  // base64url
  [
    'the standard base64 alphabet in the signature',
    (sub) => {
      let token = ext.token({ claims: { sub } });
      while (!/[-_]/.test(sigOf(token))) token = ext.token({ claims: { sub } });
      return token.replaceAll('-', '+').replaceAll('_', '/');
    },
  ],
  ['padding on the signature', (sub) => `${ext.token({ claims: { sub } })}==`],
  [
    'padding on the header',
    (sub) => {
      const [h, p, s] = segments(ext.token({ claims: { sub } }));
      return `${h}=.${p}.${s}`;
    },
  ],
  [
    'a space inside the payload segment',
    (sub) => {
      const [h, p, s] = segments(ext.token({ claims: { sub } }));
      return `${h}.${p.slice(0, 10)} ${p.slice(10)}.${s}`;
    },
  ],
  [
    'a second spelling of a valid ES256 signature (unused base64url bits set)',
    (sub) => {
      const token = ext.token({ header: { alg: 'ES256' }, claims: { sub } });
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
      const last = alphabet.indexOf(token.at(-1)!);
      const respelled = `${token.slice(0, -1)}${alphabet[last | 0b0101]}`;
      expect(Buffer.from(sigOf(respelled), 'base64url')).toEqual(Buffer.from(sigOf(token), 'base64url'));
      expect(respelled).not.toBe(token);
      return respelled;
    },
  ],
  // JSON and text
  [
    'a duplicate "sub" in the payload',
    (sub) => ext.token({ payload: payloadWith(sub, '"sub":"user:admin"') }),
  ],
  [
    'a duplicate "iss" in the payload',
    (sub) => ext.token({ payload: payloadWith(sub, '"iss":"https://evil.example"') }),
  ],
  [
    'a duplicate key spelled with an escape ("\\u0073ub")',
    (sub) => ext.token({ payload: payloadWith(sub, '"\\u0073ub":"user:admin"') }),
  ],
  [
    'duplicate keys inside a nested claim',
    (sub) => ext.token({ payload: payloadWith(sub, '"x":{"a":1,"a":2}') }),
  ],
  [
    'a duplicate "alg" in the header',
    (sub) =>
      ext.token({
        headerText: `{"alg":"none","alg":"RS256","kid":"${ext.keys.rsa.kid}","typ":"JWT"}`,
        claims: { sub },
        signAs: 'RS256',
      }),
  ],
  [
    'payload bytes that are not UTF-8 (0xFF)',
    (sub) => ext.token({ payload: payloadBytes(sub, [0xff, 0xfe]) }),
  ],
  [
    'an overlong UTF-8 sequence in the payload',
    (sub) => ext.token({ payload: payloadBytes(sub, [0xc0, 0xaf]) }),
  ],
  [
    'a UTF-8 encoded lone surrogate in the payload',
    (sub) => ext.token({ payload: payloadBytes(sub, [0xed, 0xa0, 0x80]) }),
  ],
  [
    'Latin-1 text in the payload',
    (sub) => ext.token({ payload: payloadBytes(sub, [0x63, 0x61, 0x66, 0xe9]) }),
  ],
  ['a payload that is a JSON array', () => ext.token({ payload: '[]' })],
  ['a payload that is a JSON string', () => ext.token({ payload: '"user:alice"' })],
  [
    'a header that is not JSON',
    (sub) => ext.token({ headerText: 'RS256', claims: { sub }, signAs: 'RS256' }),
  ],
  [
    'a payload nested 5000 levels deep',
    (sub) =>
      ext.token({ payload: payloadWith(sub, `"x":${'['.repeat(5000)}${']'.repeat(5000)}`), key: 'attacker' }),
  ],
  // time
  [
    'expired an hour ago',
    (sub) => {
      const now = Math.floor(clock() / 1000);
      return ext.token({ claims: { sub, exp: now - 3600, iat: now - 3900, nbf: now - 3900 } });
    },
  ],
  [
    'expired 31 s ago (beyond the 30 s skew)',
    (sub) => ext.token({ claims: { sub, exp: Math.floor(clock() / 1000) - 31 } }),
  ],
  ['no exp', (sub) => ext.token({ claims: { sub, exp: undefined } })],
  ['exp as a string', (sub) => ext.token({ claims: { sub, exp: String(Math.floor(clock() / 1000) + 300) } })],
  ['exp null', (sub) => ext.token({ claims: { sub, exp: null } })],
  ['nbf an hour ahead', (sub) => ext.token({ claims: { sub, nbf: Math.floor(clock() / 1000) + 3600 } })],
  [
    'nbf 31 s ahead (beyond the skew)',
    (sub) => ext.token({ claims: { sub, nbf: Math.floor(clock() / 1000) + 31 } }),
  ],
  ['iat an hour ahead', (sub) => ext.token({ claims: { sub, iat: Math.floor(clock() / 1000) + 3600 } })],
  // issuer and audience
  ['iss with a trailing slash', (sub) => ext.token({ claims: { sub, iss: `${ext.issuer}/` } })],
  [
    'iss with an upper-case scheme',
    (sub) => ext.token({ claims: { sub, iss: ext.issuer.replace('http:', 'HTTP:') } }),
  ],
  ['iss as an array', (sub) => ext.token({ claims: { sub, iss: [ext.issuer] } })],
  ['no iss', (sub) => ext.token({ claims: { sub, iss: undefined } })],
  [
    'an issuer nobody trusts',
    (sub) => ext.token({ claims: { sub, iss: 'https://evil.example' }, key: 'attacker' }),
  ],
  ['no aud', (sub) => ext.token({ claims: { sub, aud: undefined } })],
  ['aud of another service', (sub) => ext.token({ claims: { sub, aud: 'https://other.example' } })],
  ['aud the downstream API instead of this service', (sub) => ext.token({ claims: { sub, aud: API } })],
  ['an empty aud array', (sub) => ext.token({ claims: { sub, aud: [] } })],
  ['no sub', () => ext.token({ claims: { sub: undefined } })],
  ['an empty sub', () => ext.token({ claims: { sub: '' } })],
  ['a numeric sub', () => ext.token({ claims: { sub: 42 } })],
  [
    'a validly signed token over maxTokenBytes',
    (sub) => ext.token({ claims: { sub, pad: 'x'.repeat(13_000) } }),
  ],
  [
    'one flipped bit in the signature',
    (sub) => ecWithSignature(sub, (real) => Buffer.from(real.map((byte, i) => (i === 40 ? byte ^ 1 : byte)))),
  ],
  // token-type confusion
  [
    'an external at+jwt presented as an ID token',
    (sub) => ext.token({ header: { typ: 'at+jwt' }, claims: { sub } }),
    ID_TOKEN,
  ],
  [
    'an external application/at+jwt presented as an ID token',
    (sub) => ext.token({ header: { typ: 'application/at+jwt' }, claims: { sub } }),
    ID_TOKEN,
  ],
  [
    "this service's issuer with typ JWT, signed with this service's key",
    async (sub) => signOwn({ alg: 'ES256', kid: await ownKid(), typ: 'JWT' }, ownClaims({ sub })),
    ACCESS_TOKEN,
  ],
  [
    "this service's issuer without typ, signed with this service's key",
    async (sub) => signOwn({ alg: 'ES256', kid: await ownKid() }, ownClaims({ sub })),
    ACCESS_TOKEN,
  ],
  [
    "an at+jwt of this service's issuer signed by an attacker key under this service's kid",
    async (sub) =>
      ext.token({
        header: { alg: 'RS256', kid: await ownKid(), typ: 'at+jwt' },
        claims: ownClaims({ sub }),
        key: 'attacker',
      }),
    ACCESS_TOKEN,
  ],
  [
    "an at+jwt signed with this service's key but never recorded (no TOKEN# item)",
    async (sub) => signOwn({ alg: 'ES256', kid: await ownKid(), typ: 'at+jwt' }, ownClaims({ sub })),
    ACCESS_TOKEN,
  ],
];

describe.each(['subject', 'actor'] as const)('attacks on the %s token: 400 invalid_request', (role) => {
  it('a valid token in this role is admitted (control)', async () => {
    expectIssued(await present(role, ext.token({ claims: { sub: SUBS[role] } })));
  });

  const cases = CASES.map(([name, build, type = JWT]): [string, Case[1], string] => [name, build, type]);
  it.each(cases)('%s', async (_name, build, type) => {
    expectRefused(await present(role, await build(SUBS[role]), type));
  });
});

describe('no outbound fetch is ever made for a URL in a token header', () => {
  it('jku, x5u and x5c sent as subject and actor tokens made the loopback recorder receive zero requests', async () => {
    const tokens = ['jku', 'x5u'].flatMap((name) =>
      ['user:alice', 'service:ci'].map((sub) =>
        ext.token({ header: { [name]: `${recorder.url}/${name}` }, claims: { sub }, key: 'attacker' }),
      ),
    );
    for (const token of tokens) {
      expectRefused(await present('subject', token));
      expectRefused(await present('actor', token));
    }
    expect(recorder.requests).toEqual([]);
    expect(ext.requests.other).toBe(0);
  });
});

describe('hostile kid values', () => {
  /** Path traversal, URL, SQL, NUL, 8 KB, unknown, empty, and kids that are not strings. */
  const kids = (): ReadonlyArray<unknown> => [
    '../../../../etc/passwd',
    '..%2F..%2F..%2Fetc%2Fpasswd',
    `${recorder.url}/jwks`,
    "' OR '1'='1' --",
    'kid\u0000.json',
    'k'.repeat(8 * 1024),
    randomBytes(16).toString('base64url'),
    '',
    1,
    { $ne: null },
    [ext.keys.rsa.kid],
  ];
  it('each is refused, and unknown kids refetch the JWKS at most once per 30 s cooldown', async () => {
    expectIssued(await present('subject', ext.token())); // keys cached
    const before = { ...ext.requests };
    const hostile = (sub: string) =>
      kids().map((kid) => ext.token({ header: { kid }, claims: { sub }, key: 'attacker' }));

    for (const token of hostile('user:alice')) expectRefused(await present('subject', token));
    for (const token of hostile('service:ci')) expectRefused(await present('actor', token));
    expect(ext.requests.jwks - before.jwks).toBeLessThanOrEqual(1);

    clock.advance(31); // past the cooldown: one refetch for the whole burst, not one per request
    const afterCooldown = ext.requests.jwks;
    for (const token of hostile('user:alice')) expectRefused(await present('subject', token));
    expect(ext.requests.jwks - afterCooldown).toBe(1);
    expect(ext.requests.discovery).toBe(before.discovery);
    expect(recorder.requests).toEqual([]);
  });
});

describe('ECDSA "psychic signatures" (CVE-2022-21449) and malformed ECDSA signatures', () => {
  const order = () => Buffer.from(P256_N);
  const SIGNATURES: ReadonlyArray<readonly [string, (real: Buffer) => Buffer]> = [
    ['r = s = 0', () => zeros(64)],
    ['r = 0, s valid', (real) => Buffer.concat([zeros(32), real.subarray(32)])],
    ['r valid, s = 0', (real) => Buffer.concat([real.subarray(0, 32), zeros(32)])],
    ['r = s = n (the group order)', () => Buffer.concat([order(), order()])],
    ['r = n, s valid', (real) => Buffer.concat([order(), real.subarray(32)])],
    ['r = s = 2^256 - 1', () => Buffer.alloc(64, 0xff)],
    ['r = s = 1', () => Buffer.concat([zeros(31), Buffer.from([1]), zeros(31), Buffer.from([1])])],
    ['63 bytes', (real) => real.subarray(1)],
    ['65 bytes', (real) => Buffer.concat([Buffer.from([0]), real])],
    [
      'a DER-encoded signature',
      (real) => {
        const int = (bytes: Buffer) => {
          const trimmed = bytes.subarray(bytes.findIndex((byte) => byte !== 0));
          const value = trimmed[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), trimmed]) : trimmed;
          return Buffer.concat([Buffer.from([2, value.length]), value]);
        };
        const body = Buffer.concat([int(real.subarray(0, 32)), int(real.subarray(32))]);
        return Buffer.concat([Buffer.from([0x30, body.length]), body]);
      },
    ],
  ];

  it.each(SIGNATURES)(
    'an ES256 token of the external issuer with %s: 400 invalid_request',
    async (_name, signature) => {
      expectRefused(await present('subject', ecWithSignature('user:alice', signature)));
      expectRefused(await present('actor', ecWithSignature('service:ci', signature)));
    },
  );

  it.each(SIGNATURES)(
    "an at+jwt of this service's own ES256 key with %s: 400 invalid_request",
    async (_name, signature) => {
      const token = await signOwn({ alg: 'ES256', kid: await ownKid(), typ: 'at+jwt' }, ownClaims());
      const real = Buffer.from(sigOf(token), 'base64url');
      const [h, p] = segments(token);
      expectRefused(
        await present('subject', `${h}.${p}.${signature(real).toString('base64url')}`, ACCESS_TOKEN),
      );
    },
  );
});

describe('time within the skew and exact issuer are accepted (controls)', () => {
  it('a token expired 10 s ago, inside the 30 s skew, is admitted', async () => {
    expectIssued(await present('subject', ext.token({ claims: { exp: Math.floor(clock() / 1000) - 10 } })));
  });
});

describe("this service's own tokens in the wrong place", () => {
  /** A token minted by this service for `audience` (the STS itself, for chaining). */
  async function ownToken(audience = harness.sts.url, scope = 'read'): Promise<string> {
    const answer = await present('subject', ext.token(), JWT, { audience, scope });
    expectIssued(answer);
    return String(answer.body?.access_token);
  }

  it('an at+jwt minted here, presented as an ID token (subject_token_type id_token): 400 invalid_request', async () => {
    const token = await ownToken();
    expectRefused(
      await harness.exchange({ subject_token: token, subject_token_type: ID_TOKEN, audience: REPORTS }),
    );
    expectIssued(
      await harness.exchange({ subject_token: token, subject_token_type: ACCESS_TOKEN, audience: REPORTS }),
    );
  });

  it('an at+jwt minted here, presented as an ID token in the actor role: 400 invalid_request', async () => {
    expectRefused(await present('actor', await ownToken(), ID_TOKEN));
  });

  it('an at+jwt minted here for a downstream API (aud is not this service): 400 invalid_request', async () => {
    const token = await ownToken(API);
    expectRefused(
      await harness.exchange({ subject_token: token, subject_token_type: ACCESS_TOKEN, audience: REPORTS }),
    );
  });

  it('an at+jwt minted here and revoked: 400 invalid_request', async () => {
    const token = await ownToken();
    await store.revokeToken(String(decodeJwt(token).jti), Math.floor(clock() / 1000));
    expectRefused(
      await harness.exchange({ subject_token: token, subject_token_type: ACCESS_TOKEN, audience: REPORTS }),
    );
  });

  it('an at+jwt minted here whose subject was revoked afterwards: 400 invalid_request', async () => {
    const token = await ownToken();
    await store.revokeSubject(ext.issuer, 'user:alice', Math.floor(clock() / 1000) + 1);
    try {
      expectRefused(
        await harness.exchange({ subject_token: token, subject_token_type: ACCESS_TOKEN, audience: REPORTS }),
      );
    } finally {
      store.subjects.delete(subjectKey(ext.issuer, 'user:alice'));
    }
  });
});

describe('delegation: act chains', () => {
  const actor = (name: string) => ext.token({ claims: { sub: `service:${name}` } });

  it('an act chain one deeper than maxDelegationDepth (3) is refused: 400 invalid_request', async () => {
    let subject = ext.token();
    let type = JWT;
    for (const name of ['one', 'two', 'three']) {
      const answer = await harness.exchange({
        subject_token: subject,
        subject_token_type: type,
        actor_token: actor(name),
        actor_token_type: JWT,
        audience: harness.sts.url,
      });
      expectIssued(answer);
      subject = String(answer.body?.access_token);
      type = ACCESS_TOKEN;
    }
    expect(decodeJwt(subject).act).toEqual({
      sub: 'service:three',
      iss: ext.issuer,
      act: { sub: 'service:two', iss: ext.issuer, act: { sub: 'service:one', iss: ext.issuer } },
    });
    const fourth = await harness.exchange({
      subject_token: subject,
      subject_token_type: ACCESS_TOKEN,
      actor_token: actor('four'),
      actor_token_type: JWT,
      audience: REPORTS,
    });
    expectRefused(fourth);
  });

  it('an external subject token carrying its own act claim (delegation no policy vetted): 400 invalid_request', async () => {
    const act = {
      sub: 'service:admin',
      act: { sub: 'service:a', act: { sub: 'service:b', act: { sub: 'c' } } },
    };
    expectRefused(await present('subject', ext.token({ claims: { act: { sub: 'service:admin' } } })));
    expectRefused(await present('subject', ext.token({ claims: { act } })));
    expectRefused(await present('subject', ext.token({ claims: { act: 'service:admin' } })));
    expectRefused(
      await present('subject', ext.token({ claims: { act: { sub: 'service:admin' } } }), JWT, {
        actor_token: actor('ci'),
        actor_token_type: JWT,
      }),
    );
  });

  it('an external actor token carrying its own act claim: 400 invalid_request', async () => {
    expectRefused(
      await present('actor', ext.token({ claims: { sub: 'service:ci', act: { sub: 'service:admin' } } })),
    );
  });
});

describe("reserved claims are always the service's", () => {
  it.each([...RESERVED_CLAIMS])('config refuses copyClaims naming the reserved claim %s', (name) => {
    const file = {
      issuer: 'https://sts.example.com',
      trustedIssuers: [{ name: 'ext', issuer: 'https://issuer.example.com' }],
      policies: [{ name: 'p', issuer: 'ext', subject: '**', audiences: [API], copyClaims: ['email', name] }],
    };
    expect(() => parseConfig(file)).toThrow(ConfigError);
  });

  it('a sender-constrained subject token (cnf) is refused, never turned into a bearer token', async () => {
    // A binding this service cannot check (mTLS, or a malformed jkt): refused outright.
    for (const cnf of [{ 'x5t#S256': 'A'.repeat(43) }, { jkt: 'thumbprint-of-the-holder-key' }]) {
      expectRefused(await present('subject', ext.token({ claims: { cnf } }), JWT));
    }
    // A DPoP binding without a proof by its key (test/http/dpop.test.ts covers it with one).
    const bound = ext.token({ claims: { cnf: { jkt: 'A'.repeat(43) } } });
    expectOAuthError(await present('subject', bound, JWT), 400, 'invalid_dpop_proof');
    expect(store.tokens.size).toBe(recorded);
  });

  it('a subject token carrying scope, client_id, aud, azp, may_act, acr, amr and more leaks none of them', async () => {
    const subject = ext.token({
      claims: {
        scope: 'admin root read write',
        client_id: 'evil-client',
        azp: 'evil-client',
        may_act: { sub: 'service:admin' },
        acr: 'urn:mace:incommon:iap:gold',
        amr: ['hwk'],
        auth_time: 1,
        nonce: 'n',
        sid: 's',
        typ: 'Bearer',
        email: 'alice@example.com',
        jti: 'subject-jti',
        nbf: Math.floor(clock() / 1000) - 100,
        iat: Math.floor(clock() / 1000) - 100,
      },
    });
    const answer = await present('subject', subject, JWT, { scope: 'read' });
    const claims = expectIssued(answer);
    const now = Math.floor(clock() / 1000);
    expect(Object.keys(claims).sort()).toEqual(
      ['aud', 'client_id', 'email', 'exp', 'iat', 'iss', 'jti', 'nbf', 'scope', 'sub'].sort(),
    );
    expect(claims).toMatchObject({
      iss: harness.sts.url,
      sub: 'user:alice',
      aud: API,
      client_id: 'users',
      scope: 'read',
      email: 'alice@example.com',
    });
    expect(claims.jti).not.toBe('subject-jti');
    expect(Math.abs(Number(claims.iat) - now)).toBeLessThanOrEqual(2);
    expect(claims.nbf).toBe(claims.iat);
    expect(Number(claims.exp) - Number(claims.iat)).toBe(300);
    expect(store.tokens.get(String(claims.jti))).toMatchObject({
      clientId: 'users',
      scope: 'read',
      aud: API,
    });
  });
});
