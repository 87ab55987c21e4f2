// The cost of a DPoP proof check (RFC 9449): the downstream verifier's `verify` of a bearer token
// against its `verifyDpop` of a bound token with a fresh proof (ath, htm/htu, iat, signature by
// the embedded jwk, thumbprint, replay cache), and the bare proof check (lib/shared/dpop.ts) as
// the token endpoint runs it before its SEEN#dpop# write. Proofs are signed before each round
// (each is used once: a replay would be refused) and rounds alternate their order.

import { generateDpopKey, signDpopProof } from '../lib/client/dpop.ts';
import { mintAccessToken } from '../lib/exchange/access-token.ts';
import { verifyDpopProof } from '../lib/shared/dpop.ts';
import { createLocalSigner, generateSigningKey } from '../lib/signers/local.ts';
import { createAccessTokenVerifier } from '../lib/verify/verifier.ts';
import { AUDIENCE, STS_ISSUER, SUBJECT, stsDocuments } from './fixtures.ts';
import { median, opsPerSecond } from './stats.ts';

export interface DpopResult {
  /** Verifications per second of a bearer token (`verify`). */
  readonly bearerPerSecond: number;
  /** Verifications per second of a bound token and its proof (`verifyDpop`). */
  readonly dpopPerSecond: number;
  /** Proof checks per second alone (`verifyDpopProof`, as the token endpoint runs it). */
  readonly proofPerSecond: number;
  /** Microseconds a proof adds to one downstream verification (median over rounds). */
  readonly addedMicros: number;
  readonly rounds: number;
  readonly opsPerRound: number;
}

export interface DpopOptions {
  readonly rounds: number;
  readonly opsPerRound: number;
  readonly log?: (line: string) => void;
}

const URL_ = `${AUDIENCE}/orders`;

export async function benchDpop(options: DpopOptions): Promise<DpopResult> {
  const signer = await createLocalSigner(generateSigningKey('ES256'), 'ES256');
  const key = await generateDpopKey('ES256');
  const iat = Math.floor(Date.now() / 1000);
  const mint = async (jkt: string | undefined) =>
    (
      await mintAccessToken(signer, {
        iss: STS_ISSUER,
        sub: SUBJECT,
        aud: AUDIENCE,
        clientId: 'deploy',
        scope: 'read',
        act: undefined,
        iat,
        lifetime: 900,
        copied: { repository: 'acme/app' },
        jkt,
      })
    ).token;
  const bearer = await mint(undefined);
  const bound = await mint(key.jkt);
  const [jwk] = await signer.publicKeys();
  const verifier = createAccessTokenVerifier({
    issuer: STS_ISSUER,
    audience: AUDIENCE,
    fetch: stsDocuments(jwk!),
  });
  await verifier.ready();

  const ops = options.opsPerRound;
  const proofs = async (accessToken?: string) =>
    Promise.all(
      Array.from({ length: ops }, () => signDpopProof(key, { method: 'GET', url: URL_, accessToken })),
    );
  const seen = new Set<string>();
  const markUsed = async (id: string) => !seen.has(id) && Boolean(seen.add(id));
  const check = { method: 'GET', url: URL_, clock: Date.now, maxAgeSeconds: 300, clockSkew: 30, markUsed };
  const runBearer = () => opsPerSecond([bearer], ops, (token) => verifier.verify(token));
  const runDpop = async () =>
    opsPerSecond(await proofs(bound), ops, (proof) =>
      verifier.verifyDpop(bound, { proof, method: 'GET', url: URL_ }),
    );
  const runProof = async () => opsPerSecond(await proofs(), ops, (proof) => verifyDpopProof(proof, check));

  await runBearer();
  await runDpop();
  await runProof();
  const bearers: number[] = [];
  const dpops: number[] = [];
  const bare: number[] = [];
  const added: number[] = [];
  for (let round = 0; round < options.rounds; round++) {
    let b: number;
    let d: number;
    if (round % 2 === 0) {
      b = await runBearer();
      d = await runDpop();
    } else {
      d = await runDpop();
      b = await runBearer();
    }
    const p = await runProof();
    bearers.push(b);
    dpops.push(d);
    bare.push(p);
    added.push(1e6 / d - 1e6 / b);
    options.log?.(
      `  dpop round ${round + 1}/${options.rounds}: bearer ${b.toFixed(0)}/s, dpop ${d.toFixed(0)}/s, proof alone ${p.toFixed(0)}/s`,
    );
  }
  return {
    bearerPerSecond: median(bearers),
    dpopPerSecond: median(dpops),
    proofPerSecond: median(bare),
    addedMicros: median(added),
    rounds: options.rounds,
    opsPerRound: ops,
  };
}
