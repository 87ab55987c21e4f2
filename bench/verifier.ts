import { importJWK, jwtVerify } from 'jose';
import { mintAccessToken } from '../lib/exchange/access-token.ts';
import { createLocalSigner, generateSigningKey } from '../lib/signers/local.ts';
import { createAccessTokenVerifier } from '../lib/verify/verifier.ts';
import { AUDIENCE, STS_ISSUER, SUBJECT, stsDocuments } from './fixtures.ts';
import { median, opsPerSecond } from './stats.ts';

/**
 * The downstream verifier (lib/verify/verifier.ts: discovery and JWKS fetched once through an injected
 * fetch, keys imported once, no revocation check) against bare jose `jwtVerify` with the same
 * imported key and the minimal pinned options (issuer, audience, algorithm), over the same
 * distinct ES256 access tokens, one at a time, in alternating rounds.
 */
export interface VerifierResult {
  readonly josePerSecond: number;
  readonly verifierPerSecond: number;
  /** Median over rounds of verifier/jose measured back to back. */
  readonly ratio: number;
  readonly rounds: number;
  readonly opsPerRound: number;
}

export interface VerifierOptions {
  readonly rounds: number;
  readonly opsPerRound: number;
  /** Distinct tokens, used in turn. */
  readonly tokens: number;
  readonly log?: (line: string) => void;
}

export async function benchVerifier(options: VerifierOptions): Promise<VerifierResult> {
  const signer = await createLocalSigner(generateSigningKey('ES256'), 'ES256');
  const iat = Math.floor(Date.now() / 1000);
  const tokens: string[] = [];
  for (let i = 0; i < options.tokens; i++) {
    const minted = await mintAccessToken(signer, {
      iss: STS_ISSUER,
      sub: SUBJECT,
      aud: AUDIENCE,
      clientId: 'deploy',
      scope: 'read',
      act: undefined,
      iat,
      lifetime: 900,
      copied: { repository: 'acme/app', run_id: '8123456789' },
    });
    tokens.push(minted.token);
  }
  const [jwk] = await signer.publicKeys();

  const verifier = createAccessTokenVerifier({
    issuer: STS_ISSUER,
    audience: AUDIENCE,
    fetch: stsDocuments(jwk!),
  });
  await verifier.ready();
  const key = await importJWK(jwk!, 'ES256');
  const joseOptions = { issuer: STS_ISSUER, audience: AUDIENCE, algorithms: ['ES256'] };
  const bare = (token: string) => jwtVerify(token, key, joseOptions);
  const ours = (token: string) => verifier.verify(token);

  const ops = options.opsPerRound;
  await opsPerSecond(tokens, Math.min(ops, 2000), bare);
  await opsPerSecond(tokens, Math.min(ops, 2000), ours);
  const joses: number[] = [];
  const verifiers: number[] = [];
  const ratios: number[] = [];
  for (let round = 0; round < options.rounds; round++) {
    let joseRate: number;
    let verifierRate: number;
    if (round % 2 === 0) {
      joseRate = await opsPerSecond(tokens, ops, bare);
      verifierRate = await opsPerSecond(tokens, ops, ours);
    } else {
      verifierRate = await opsPerSecond(tokens, ops, ours);
      joseRate = await opsPerSecond(tokens, ops, bare);
    }
    joses.push(joseRate);
    verifiers.push(verifierRate);
    ratios.push(verifierRate / joseRate);
    options.log?.(
      `  verifier round ${round + 1}/${options.rounds}: jose ${joseRate.toFixed(0)}/s, verifier ${verifierRate.toFixed(0)}/s`,
    );
  }
  return {
    josePerSecond: median(joses),
    verifierPerSecond: median(verifiers),
    ratio: median(ratios),
    rounds: options.rounds,
    opsPerRound: ops,
  };
}
