import { createLocalJWKSet, decodeProtectedHeader, type JWK, jwtVerify } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { PUBLIC_CACHE } from '../../../lambdas/http.ts';
import { parseConfig } from '../../../lib/config/config.ts';
import { mintAccessToken } from '../../../lib/exchange/access-token.ts';
import { createKmsSigner } from '../../../lib/signers/kms.ts';
import type { Signer } from '../../../lib/signers/signer.ts';
import { type FakeKey, type FakeKms, fakeKey, fakeKms } from './fake-kms.ts';

/**
 * docs/key-rotation.md, walked stage by stage with KMS signers on a fake KMS that signs for real.
 *
 * The model: a deployment (a new STS_KMS_KEY_IDS) rolls out over ROLLOUT seconds, during which
 * containers of the old and the new deployment both sign and both serve the JWKS. A verifier may
 * hold a JWKS fetched up to CACHE seconds ago (`Cache-Control: max-age`) and accepts a token up
 * to LEEWAY seconds past `exp`. Tokens live `tokenLifetime.max`. The property: every token minted
 * at any moment verifies against every JWKS any verifier may hold while the token is acceptable,
 * including JWKS fetched before the token was minted and JWKS served by later deployments.
 */
const CACHE = Number(/max-age=(\d+)/.exec(PUBLIC_CACHE['Cache-Control'])![1]);
const MAX = parseConfig({
  issuer: 'https://sts.example.com',
  policies: [{ name: 'p', issuer: 'self', subject: 's', audiences: ['a'] }],
}).tokenLifetime.max;
const ROLLOUT = 60;
const LEEWAY = 60;
const STEP = 30;
const T0 = 1_750_000_000;
const ISSUER = 'https://sts.example.com';
const AUDIENCE = 'https://api.example.com';

interface Deployment {
  readonly at: number;
  readonly keyIds: readonly string[];
}
interface Stage extends Deployment {
  readonly index: number;
  readonly signer: Signer;
  readonly jwks: ReturnType<typeof createLocalJWKSet>;
  readonly published: readonly JWK[];
  /** Containers of this deployment sign and serve until the next one has rolled out. */
  readonly until: number;
}

let a: FakeKey;
let b: FakeKey;
let c: FakeKey;
beforeAll(() => {
  a = fakeKey('ECC_NIST_P256', 'sts-2024');
  b = fakeKey('ECC_NIST_P256', 'sts-2025');
  c = fakeKey('RSA_2048', 'sts-2026'); // the second rotation also moves from ES256 to PS256
});

/** The runbook's deployments; `timing` lets the negative controls cut corners. */
function runbook(timing: {
  activateAfter: number;
  retireAfter: number;
  publishFirst?: boolean;
}): Deployment[] {
  const C = `${c.alias}#PS256`;
  const publish = timing.publishFirst !== false;
  const steps: { keyIds: string[]; after: number }[] = [
    { keyIds: [a.arn], after: 0 },
    ...(publish ? [{ keyIds: [a.arn, b.alias], after: 600 }] : []), // 1. publish B
    { keyIds: [b.alias, a.arn], after: publish ? timing.activateAfter : 600 }, // 2. activate B
    { keyIds: [b.alias], after: timing.retireAfter }, // 3. retire A
    { keyIds: [b.alias, C], after: 600 }, // 1. publish C
    { keyIds: [C, b.alias], after: timing.activateAfter }, // 2. activate C
    { keyIds: [C], after: timing.retireAfter }, // 3. retire B
  ];
  let at = T0;
  return steps.map(({ keyIds, after }) => {
    at += after;
    return { at, keyIds };
  });
}

/** Mints tokens all along the runbook and verifies each against every JWKS a verifier may hold. */
async function walk(deployments: Deployment[], kms: FakeKms) {
  const stages: Stage[] = [];
  for (const [index, deployment] of deployments.entries()) {
    const signer = await createKmsSigner({ client: kms.client, keyIds: deployment.keyIds });
    const published = await signer.publicKeys();
    const next = deployments[index + 1];
    const until = next ? next.at + ROLLOUT : Number.POSITIVE_INFINITY;
    stages.push({
      ...deployment,
      index,
      signer,
      published,
      jwks: createLocalJWKSet({ keys: [...published] }),
      until,
    });
  }
  const last = deployments.at(-1)!.at + MAX + CACHE + ROLLOUT;
  const moments = new Set<number>();
  for (let t = T0; t <= last; t += STEP) moments.add(t);
  for (const { at } of deployments)
    for (const t of [at - 1, at, at + ROLLOUT - 1, at + ROLLOUT]) moments.add(t);

  const failures: string[] = [];
  let verified = 0;
  for (const minted of [...moments].sort((x, y) => x - y)) {
    for (const by of stages.filter((stage) => stage.at <= minted && minted < stage.until)) {
      const { token } = await mintAccessToken(by.signer, {
        iss: ISSUER,
        sub: `minted-${minted}`,
        aud: AUDIENCE,
        clientId: 'rotation',
        scope: undefined,
        act: undefined,
        iat: minted,
        lifetime: MAX,
        copied: {},
      });
      expect(decodeProtectedHeader(token).kid).toBe((await by.signer.activeKey()).kid);
      const acceptableUntil = minted + MAX + LEEWAY;
      for (const held of stages) {
        // Served at some f in [minted - CACHE, acceptableUntil): someone may verify this token with it.
        const firstFetch = Math.max(held.at, minted - CACHE);
        if (firstFetch >= Math.min(held.until, acceptableUntil)) continue;
        const at = Math.max(minted, firstFetch);
        try {
          await jwtVerify(token, held.jwks, {
            issuer: ISSUER,
            audience: AUDIENCE,
            algorithms: ['ES256', 'PS256'],
            currentDate: new Date(at * 1000),
            clockTolerance: LEEWAY,
          });
          verified++;
        } catch (error) {
          failures.push(
            `minted at +${minted - T0}s by stage ${by.index}, held JWKS of stage ${held.index} at +${at - T0}s: ${(error as Error).name}`,
          );
        }
      }
    }
  }
  return { failures, verified, stages };
}

describe('key rotation runbook (docs/key-rotation.md)', () => {
  const safe = { activateAfter: ROLLOUT + CACHE, retireAfter: ROLLOUT + MAX + CACHE };

  it('keeps every token verifiable through two rotations, the second changing ES256 to PS256', async () => {
    const kms = fakeKms([a, b, c]);
    const { failures, verified, stages } = await walk(runbook(safe), kms);
    expect(failures).toEqual([]);
    expect(verified).toBeGreaterThan(500);
    // Published keys never sign: every Sign went to the active key of a live deployment.
    const signedWith = new Set(kms.calls().sign.map((call) => call.KeyId));
    expect(signedWith).toEqual(new Set([a.arn, b.arn, c.arn]));
    // The JWKS of each stage is exactly the listed keys, active first.
    expect(stages.map((stage) => stage.published.map((jwk) => jwk.alg))).toEqual([
      ['ES256'],
      ['ES256', 'ES256'],
      ['ES256', 'ES256'],
      ['ES256'],
      ['ES256', 'PS256'],
      ['PS256', 'ES256'],
      ['PS256'],
    ]);
    expect(stages[1]!.published.map((jwk) => jwk.kid)).toEqual(
      [...stages[2]!.published.map((jwk) => jwk.kid)].reverse(),
    );
  });

  // Negative controls: the same walk catches each shortcut the runbook forbids.
  it.each([
    { name: 'activating a key without publishing it first', timing: { ...safe, publishFirst: false } },
    {
      name: 'activating before the published JWKS has outlived caches',
      timing: { ...safe, activateAfter: ROLLOUT },
    },
    {
      name: 'retiring a key as soon as the longest token lifetime has passed',
      timing: { ...safe, retireAfter: MAX },
    },
  ])('fails when $name', async ({ timing }) => {
    const { failures } = await walk(runbook(timing), fakeKms([a, b, c]));
    expect(failures.length).toBeGreaterThan(0);
    // ... and for the one reason the runbook guards against: a verifier's JWKS lacks the token's key.
    expect(failures.filter((failure) => !failure.endsWith('JWKSNoMatchingKey'))).toEqual([]);
  });
});
