// The verifier of this service's own tokens (lib/exchange/own-token.ts), as introspection and
// revocation use it: the pre-check, `iss` = this service, pinned algorithms, `typ: at+jwt`, the
// signature, exact `exp`, the optional audience, and `ignoreTime` for revocation by the holder.

import { describe, expect, it } from 'vitest';
import { createOwnTokenVerifier } from '../../../lib/exchange/own-token.ts';
import type { OAuthError } from '../../../lib/shared/errors.ts';
import type { Signer } from '../../../lib/signers/signer.ts';
import { MemoryStore } from '../../../lib/stores/memory.ts';
import { frozenClock } from '../../support/clock.ts';
import { buildConfig, STS_ISSUER } from '../../support/config.ts';
import { b64url, testSigner } from '../../support/keys.ts';
import { issueSelfToken } from '../../support/self-token.ts';

async function setup() {
  const clock = frozenClock();
  const config = buildConfig();
  const signer = await testSigner();
  const store = new MemoryStore();
  const verify = createOwnTokenVerifier({ config, signer, clock });
  const mint = (options: Parameters<typeof issueSelfToken>[1] = {}) =>
    issueSelfToken({ config, signer, store, clock }, options);
  return { clock, config, signer, verify, mint };
}

/** A token signed by `signer` with any header and payload (not through the minting code). */
async function signedBy(signer: Signer, header: Record<string, unknown>, payload: Record<string, unknown>) {
  const { kid, alg } = await signer.activeKey();
  const input = `${b64url({ alg, kid, ...header })}.${b64url(payload)}`;
  const signature = await signer.sign(Buffer.from(input));
  return `${input}.${Buffer.from(signature).toString('base64url')}`;
}

const refusal = (promise: Promise<unknown>) =>
  promise.then(
    () => expect.unreachable('expected a refusal'),
    (error: unknown) => {
      const { code, status, reason } = error as OAuthError;
      expect([code, status]).toEqual(['invalid_token', 401]);
      return reason;
    },
  );

describe('createOwnTokenVerifier', () => {
  it('admits a token this service minted and returns its claims', async () => {
    const { verify, mint } = await setup();
    const minted = await mint({ sub: 'alice' });
    expect(await verify(minted.token)).toMatchObject({ iss: STS_ISSUER, sub: 'alice', jti: minted.jti });
  });

  it('refuses what the pre-check refuses, before any signature', async () => {
    const { verify, config } = await setup();
    expect(await refusal(verify('not.a.jwt'))).toBe('malformed');
    expect(await refusal(verify('x'.repeat(config.maxTokenBytes + 1)))).toBe('too_large');
  });

  it('refuses a token of another issuer, a token without typ at+jwt, and another algorithm', async () => {
    const { verify, signer, clock } = await setup();
    const now = clock.seconds();
    const claims = { iss: STS_ISSUER, sub: 'alice', aud: STS_ISSUER, jti: 'j1', iat: now, exp: now + 60 };
    expect(
      await refusal(verify(await signedBy(signer, { typ: 'at+jwt' }, { ...claims, iss: 'https://x.test' }))),
    ).toBe('not_own_issuer');
    expect(await refusal(verify(await signedBy(signer, { typ: 'JWT' }, claims)))).toBe('self_not_at_jwt');
    expect(await refusal(verify(await signedBy(signer, { typ: 'at+jwt', alg: 'ES384' }, claims)))).toBe(
      'alg_not_allowed',
    );
    expect(
      await refusal(verify(await signedBy(signer, { typ: 'at+jwt', jku: 'https://x.test' }, claims))),
    ).toBe('header_jku');
  });

  it('refuses a token without jti, and one signed by a key it does not publish', async () => {
    const { verify, signer, clock } = await setup();
    const now = clock.seconds();
    const claims = { iss: STS_ISSUER, sub: 'alice', aud: STS_ISSUER, iat: now, exp: now + 60 };
    expect(await refusal(verify(await signedBy(signer, { typ: 'at+jwt' }, claims)))).toBe('missing_jti');
    const stranger = await testSigner();
    const forged = await signedBy(stranger, { typ: 'at+jwt' }, { ...claims, jti: 'j1' });
    expect(await refusal(verify(forged))).toBe('unknown_kid');
  });

  it('ends a token exactly at its exp (our own clock set it: no skew)', async () => {
    const { verify, mint, clock } = await setup();
    const minted = await mint({ lifetime: 60 });
    clock.advance(59);
    await verify(minted.token);
    clock.advance(1);
    expect(await refusal(verify(minted.token))).toBe('expired');
  });

  it('checks the audience only when asked to', async () => {
    const { verify, mint } = await setup();
    const minted = await mint({ aud: 'https://api.test' });
    await verify(minted.token);
    expect(await refusal(verify(minted.token, { audience: STS_ISSUER }))).toBe('claim_aud');
  });

  it('ignoreTime accepts an expired token of ours, never a forged one', async () => {
    const { verify, mint, clock } = await setup();
    const minted = await mint({ lifetime: 60 });
    clock.advance(3600);
    expect((await verify(minted.token, { ignoreTime: true })).jti).toBe(minted.jti);
    const [header, payload] = minted.token.split('.');
    const other = await signedBy(await testSigner(), { typ: 'at+jwt' }, {});
    const spliced = `${header}.${payload}.${other.split('.')[2]}`;
    expect(await refusal(verify(spliced, { ignoreTime: true }))).toBe('bad_signature');
  });
});
