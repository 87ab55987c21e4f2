import { createHmac } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, SignJWT } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { type DpopKey, generateDpopJwk, generateDpopKey, signDpopProof } from '../../../lib/client/dpop.ts';
import {
  accessTokenHash,
  boundJkt,
  type DpopProofCheck,
  dpopHtu,
  verifyDpopProof,
} from '../../../lib/shared/dpop.ts';
import { createDpopNonces } from '../../../lib/shared/dpop-nonce.ts';
import { OAuthError } from '../../../lib/shared/errors.ts';

const URL_ = 'https://sts.example.com/token';
const NOW = 1_800_000_000_000;
const clock = () => NOW;
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

let key: DpopKey;
let other: DpopKey;

function check(overrides: Partial<DpopProofCheck> = {}): DpopProofCheck {
  const seen = new Set<string>();
  return {
    method: 'POST',
    url: URL_,
    clock,
    maxAgeSeconds: 60,
    clockSkew: 5,
    markUsed: async (k) => {
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    },
    ...overrides,
  };
}

async function refusal(promise: Promise<unknown>): Promise<OAuthError> {
  const error = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(OAuthError);
  return error as OAuthError;
}

/** A proof signed with `key` but with header and claims as given (for the malformed cases). */
async function craft(header: Record<string, unknown>, claims: Record<string, unknown>, signer = key) {
  return new SignJWT(claims).setProtectedHeader(header as never).sign(signer.privateKey);
}

const proof = (overrides: Partial<Parameters<typeof signDpopProof>[1]> = {}) =>
  signDpopProof(key, { method: 'POST', url: URL_, now: NOW, ...overrides });

beforeAll(async () => {
  key = await generateDpopKey('ES256');
  other = await generateDpopKey('ES256');
});

describe('verifyDpopProof', () => {
  it('accepts a fresh proof and returns the RFC 7638 thumbprint of its key', async () => {
    const verified = await verifyDpopProof(await proof(), check());
    expect(verified.jkt).toBe(await calculateJwkThumbprint(key.publicJwk, 'sha256'));
    expect(verified.jkt).toBe(key.jkt);
  });

  it('accepts RSA (PS256) and EdDSA keys', async () => {
    for (const alg of ['PS256', 'EdDSA'] as const) {
      const k = await generateDpopKey(alg);
      const p = await signDpopProof(k, { method: 'POST', url: URL_, now: NOW });
      expect((await verifyDpopProof(p, check())).jkt).toBe(k.jkt);
    }
  });

  it('ignores query and fragment and normalises the URL (RFC 9449 §4.3 step 9)', async () => {
    const p = await proof({ url: 'HTTPS://STS.example.com:443/token?x=1' });
    await expect(
      verifyDpopProof(p, check({ url: 'https://sts.example.com/token?y=2' })),
    ).resolves.toBeTruthy();
    expect(dpopHtu('https://a.example/x/../token#f')).toBe('https://a.example/token');
    expect(dpopHtu('ftp://a.example/')).toBeUndefined();
  });

  const refused: Array<[string, () => Promise<string>, Partial<DpopProofCheck>, string]> = [
    [
      'a proof for another URL',
      () => proof({ url: 'https://sts.example.com/revoke' }),
      {},
      'dpop.htu_mismatch',
    ],
    ['a proof for another host', () => proof({ url: 'https://evil.example/token' }), {}, 'dpop.htu_mismatch'],
    ['a proof for another method', () => proof({ method: 'GET' }), {}, 'dpop.htm_mismatch'],
    ['a stale iat', () => proof({ now: NOW - 66_000 }), {}, 'dpop.iat_stale'],
    ['an iat in the future', () => proof({ now: NOW + 6_000 }), {}, 'dpop.iat_future'],
    ['two proofs in one header', async () => `${await proof()},${await proof()}`, {}, 'dpop.multiple_proofs'],
    ['an empty header', async () => ' ', {}, 'dpop.empty'],
    ['a token that is not a JWS', async () => 'abc.def', {}, 'dpop.malformed'],
    [
      'typ JWT',
      () =>
        craft(
          { typ: 'JWT', alg: 'ES256', jwk: key.publicJwk },
          { jti: 'a', htm: 'POST', htu: URL_, iat: NOW / 1000 },
        ),
      {},
      'dpop.typ',
    ],
    [
      'no jwk in the header',
      () => craft({ typ: 'dpop+jwt', alg: 'ES256' }, { jti: 'a', htm: 'POST', htu: URL_, iat: NOW / 1000 }),
      {},
      'dpop.jwk_missing',
    ],
    [
      'a jku header',
      () =>
        craft(
          { typ: 'dpop+jwt', alg: 'ES256', jwk: key.publicJwk, jku: 'https://evil.example/jwks' },
          { jti: 'a', htm: 'POST', htu: URL_, iat: NOW / 1000 },
        ),
      {},
      'dpop.header_jku',
    ],
    [
      'a proof signed by another key than its jwk',
      () =>
        craft(
          { typ: 'dpop+jwt', alg: 'ES256', jwk: key.publicJwk },
          { jti: 'a', htm: 'POST', htu: URL_, iat: NOW / 1000 },
          other,
        ),
      {},
      'dpop.bad_signature',
    ],
    ['no ath with an access token', () => proof(), { accessToken: 'tok' }, 'dpop.ath_missing'],
    [
      'an ath of another token',
      () => proof({ accessToken: 'other' }),
      { accessToken: 'tok' },
      'dpop.ath_mismatch',
    ],
    ['an alg outside the pinned list', () => proof(), { algorithms: ['RS256'] }, 'dpop.alg_not_allowed'],
  ];
  it.each(refused)('refuses %s', async (_name, make, overrides, reason) => {
    const error = await refusal(verifyDpopProof(await make(), check(overrides)));
    expect(error.code).toBe('invalid_dpop_proof');
    expect(error.status).toBe(400);
    expect(error.reason).toBe(reason);
  });

  it('refuses alg none', async () => {
    const header = b64({ typ: 'dpop+jwt', alg: 'none', jwk: key.publicJwk });
    const unsigned = `${header}.${b64({ jti: 'a', htm: 'POST', htu: URL_, iat: NOW / 1000 })}.`;
    const error = await refusal(verifyDpopProof(unsigned, check()));
    expect(error.code).toBe('invalid_dpop_proof');
    const withJunk = `${header}.${b64({ jti: 'a', htm: 'POST', htu: URL_, iat: NOW / 1000 })}.AAAA`;
    expect((await refusal(verifyDpopProof(withJunk, check()))).reason).toBe('dpop.alg_not_allowed');
  });

  it('refuses an HS256 proof (a symmetric key in the header)', async () => {
    const secret = Buffer.alloc(32, 7);
    const jwk = { kty: 'oct', k: secret.toString('base64url') };
    const input = `${b64({ typ: 'dpop+jwt', alg: 'HS256', jwk })}.${b64({ jti: 'a', htm: 'POST', htu: URL_, iat: NOW / 1000 })}`;
    const mac = createHmac('sha256', secret).update(input).digest('base64url');
    expect((await refusal(verifyDpopProof(`${input}.${mac}`, check()))).reason).toBe('dpop.alg_not_allowed');
  });

  it('refuses a private key in the header', async () => {
    const jwk = await generateDpopJwk('ES256');
    const { privateKey } = await generateKeyPair('ES256');
    const p = await new SignJWT({ jti: 'a', htm: 'POST', htu: URL_, iat: NOW / 1000 })
      .setProtectedHeader({ typ: 'dpop+jwt', alg: 'ES256', jwk })
      .sign(privateKey);
    expect((await refusal(verifyDpopProof(p, check()))).reason).toBe('dpop.jwk_private');
  });

  it('refuses a replayed jti, and the same jti under another key is another proof', async () => {
    const c = check();
    const p = await proof();
    await verifyDpopProof(p, c);
    expect((await refusal(verifyDpopProof(p, c))).reason).toBe('dpop.replayed');
    const sameJti = await craft(
      { typ: 'dpop+jwt', alg: 'ES256', jwk: other.publicJwk },
      { ...JSON.parse(Buffer.from(p.split('.')[1]!, 'base64url').toString()) },
      other,
    );
    await expect(verifyDpopProof(sameJti, c)).resolves.toBeTruthy();
  });

  it('keeps a replay record until the proof could no longer pass for age', async () => {
    let until = 0;
    const markUsed = async (_key: string, at: number) => {
      until = at;
      return true;
    };
    await verifyDpopProof(await proof(), check({ markUsed }));
    expect(until).toBe(NOW / 1000 + 60 + 10);
  });

  it('answers 401 when asked (resource servers)', async () => {
    const error = await refusal(verifyDpopProof(await proof({ method: 'GET' }), check({ status: 401 })));
    expect(error.status).toBe(401);
  });
});

describe('imported proof keys are reused, signatures never', () => {
  it('refuses a proof whose header is known but whose signature is not its own', async () => {
    const first = await proof();
    await verifyDpopProof(first, check()); // the key is now imported and kept
    const second = await proof();
    const swapped = `${second.slice(0, second.lastIndexOf('.'))}${first.slice(first.lastIndexOf('.'))}`;
    expect((await refusal(verifyDpopProof(swapped, check()))).reason).toBe('dpop.bad_signature');
    await expect(verifyDpopProof(second, check())).resolves.toMatchObject({ jkt: key.jkt });
  });

  it('still applies the key checks to another header with the same key (use, alg members)', async () => {
    await verifyDpopProof(await proof(), check());
    const claims = { jti: 'use-enc', htm: 'POST', htu: URL_, iat: NOW / 1000 };
    for (const extra of [{ use: 'enc' }, { alg: 'ES384' }]) {
      const jwk = { ...key.publicJwk, ...extra };
      const crafted = await craft({ typ: 'dpop+jwt', alg: 'ES256', jwk }, claims);
      expect((await refusal(verifyDpopProof(crafted, check()))).reason).toBe('dpop.bad_signature');
    }
  });

  it('stays bounded: after 600 other keys the first one is imported again, and still verifies', async () => {
    const firstKey = await generateDpopKey('ES256');
    const sign = (k: DpopKey) => signDpopProof(k, { method: 'POST', url: URL_, now: NOW });
    await expect(verifyDpopProof(await sign(firstKey), check())).resolves.toMatchObject({
      jkt: firstKey.jkt,
    });
    for (let i = 0; i < 600; i++) {
      const k = await generateDpopKey('ES256');
      await expect(verifyDpopProof(await sign(k), check())).resolves.toMatchObject({ jkt: k.jkt });
    }
    await expect(verifyDpopProof(await sign(firstKey), check())).resolves.toMatchObject({
      jkt: firstKey.jkt,
    });
  });
});

describe('proof size', () => {
  it('counts white space around the proof: a padded header value is too large', async () => {
    const padded = `${' '.repeat(8192)}${await proof()}`;
    expect((await refusal(verifyDpopProof(padded, check()))).reason).toBe('dpop.too_large');
    await expect(verifyDpopProof(` ${await proof()} `, check())).resolves.toMatchObject({ jkt: key.jkt });
  });
});

describe('server nonces', () => {
  const secret = Buffer.alloc(32, 1);
  it('asks for a nonce, accepts it, and accepts the previous step but not older ones', async () => {
    let now = NOW;
    const nonces = createDpopNonces({ secret, clock: () => now, stepSeconds: 300 });
    const missing = await refusal(verifyDpopProof(await proof(), check({ nonces })));
    expect(missing.code).toBe('use_dpop_nonce');
    expect(missing.headers['DPoP-Nonce']).toBe(nonces.current());
    const nonce = nonces.current();
    await expect(verifyDpopProof(await proof({ nonce }), check({ nonces }))).resolves.toBeTruthy();
    now += 300_000;
    expect(nonces.isValid(nonce)).toBe(true);
    now += 300_000;
    expect(nonces.isValid(nonce)).toBe(false);
    const stale = await refusal(
      verifyDpopProof(await proof({ nonce, now }), check({ nonces, clock: () => now })),
    );
    expect(stale.code).toBe('use_dpop_nonce');
    expect(stale.reason).toBe('dpop.nonce_stale');
  });

  it('shares nonces between instances with the same secret only', () => {
    const a = createDpopNonces({ secret, clock });
    const b = createDpopNonces({ secret: Buffer.from(secret), clock });
    const c = createDpopNonces({ secret: Buffer.alloc(32, 2), clock });
    expect(b.isValid(a.current())).toBe(true);
    expect(c.isValid(a.current())).toBe(false);
    expect(a.isValid('zz.AAAAAAAAAAAAAAAAAAAAAA')).toBe(false);
    expect(() => createDpopNonces({ secret: Buffer.alloc(16), clock })).toThrow(TypeError);
  });
});

describe('boundJkt and accessTokenHash', () => {
  it('reads cnf.jkt and calls other confirmation methods unsupported', async () => {
    const jkt = await calculateJwkThumbprint(await exportJWK((await generateKeyPair('ES256')).publicKey));
    expect(boundJkt(undefined)).toBeUndefined();
    expect(boundJkt({ jkt })).toBe(jkt);
    expect(boundJkt({ 'x5t#S256': jkt })).toBe('unsupported');
    expect(boundJkt({ jkt, 'x5t#S256': jkt })).toBe('unsupported');
    expect(boundJkt({ jkt: 'short' })).toBe('unsupported');
    expect(boundJkt('x')).toBe('unsupported');
  });

  it('hashes like RFC 9449 §7.1 example', () => {
    // RFC 9449 figure 12: the access token "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU" and its ath.
    expect(accessTokenHash('Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU')).toBe(
      'fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo',
    );
  });
});
