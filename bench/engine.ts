import { generateKeyPairSync, sign } from 'node:crypto';
import { importJWK, jwtVerify } from 'jose';
import type { Form } from '../lib/exchange/form.ts';
import { createTokenExchange } from '../lib/exchange/token-exchange.ts';
import { TOKEN_TYPE } from '../lib/shared/claims.ts';
import { systemClock } from '../lib/shared/clock.ts';
import { createLogger } from '../lib/shared/log.ts';
import { createLocalSigner, generateSigningKey } from '../lib/signers/local.ts';
import { MemoryStore } from '../lib/stores/memory.ts';
import {
  AUDIENCE,
  benchConfig,
  jwksFetch,
  type RsaKey,
  STS_ISSUER,
  SUBJECT_ISSUER,
  type TokenPool,
} from './fixtures.ts';
import { median, opsPerSecond } from './stats.ts';

/**
 * The exchange engine in process, one request at a time (one core: jose's WebCrypto verify runs
 * on a libuv thread, but the loop waits for it), against the crypto floor measured the same way
 * in the same rounds: one jose `jwtVerify` of the same subject token with an imported key, plus
 * one node:crypto ES256 signature over a signing input of the size the engine signs.
 *
 * The engine runs as the Lambda does: local ES256 signer, MemoryStore, the issuer's JWKS fetched
 * once through an injected fetch and cached, and the audit log at level `info` serialized with
 * JSON.stringify for every exchange but written to a no-op sink instead of stdout (so the run
 * measures the engine, not the terminal).
 */
export interface EngineResult {
  readonly floorPerSecond: number;
  readonly enginePerSecond: number;
  /** Median over rounds of engine/floor measured back to back. */
  readonly ratio: number;
  readonly rounds: number;
  readonly opsPerRound: number;
}

export interface EngineOptions {
  readonly rounds: number;
  readonly opsPerRound: number;
  readonly log?: (line: string) => void;
}

export function exchangeForm(subjectToken: string): Form {
  return new Map([
    ['grant_type', ['urn:ietf:params:oauth:grant-type:token-exchange']],
    ['subject_token', [subjectToken]],
    ['subject_token_type', [TOKEN_TYPE.jwt]],
    ['audience', [AUDIENCE]],
    ['scope', ['read']],
  ]);
}

export async function benchEngine(
  subjectIssuerKey: RsaKey,
  pool: TokenPool,
  options: EngineOptions,
): Promise<EngineResult> {
  const ops = options.opsPerRound;
  await pool.ensure(ops);
  const tokens = pool.tokens.slice(0, ops);
  const forms = tokens.map(exchangeForm);

  const store = new MemoryStore();
  const exchange = createTokenExchange({
    config: benchConfig(),
    signer: await createLocalSigner(generateSigningKey('ES256'), 'ES256'),
    store,
    clock: systemClock,
    logger: createLogger('info', () => {}),
    fetch: jwksFetch([subjectIssuerKey.jwk]),
  });
  const reset = () => {
    // One-time subject tokens: each round presents the same tokens to an empty store.
    store.seen.clear();
    store.tokens.clear();
  };

  const first = await exchange.exchange(forms[0]!);
  const [header, payload] = first.access_token.split('.');
  const signingInput = Buffer.from(`${header}.${payload}`);
  const floorSigningKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
  const verifyKey = await importJWK(subjectIssuerKey.jwk, 'RS256');
  const verifyOptions = { issuer: SUBJECT_ISSUER, audience: STS_ISSUER, algorithms: ['RS256'] };

  const floor = async (token: string) => {
    await jwtVerify(token, verifyKey, verifyOptions);
    sign('sha256', signingInput, { key: floorSigningKey, dsaEncoding: 'ieee-p1363' });
  };
  const engine = (form: Form) => exchange.exchange(form);

  // Warm-up: both paths until the JIT has settled, then a clean store.
  reset();
  await opsPerSecond(tokens, Math.min(ops, 1000), floor);
  await opsPerSecond(forms, Math.min(ops, 1000), engine);

  const floors: number[] = [];
  const engines: number[] = [];
  const ratios: number[] = [];
  for (let round = 0; round < options.rounds; round++) {
    reset();
    let floorRate: number;
    let engineRate: number;
    if (round % 2 === 0) {
      floorRate = await opsPerSecond(tokens, ops, floor);
      engineRate = await opsPerSecond(forms, ops, engine);
    } else {
      engineRate = await opsPerSecond(forms, ops, engine);
      floorRate = await opsPerSecond(tokens, ops, floor);
    }
    floors.push(floorRate);
    engines.push(engineRate);
    ratios.push(engineRate / floorRate);
    options.log?.(
      `  engine round ${round + 1}/${options.rounds}: floor ${floorRate.toFixed(0)}/s, engine ${engineRate.toFixed(0)}/s`,
    );
  }
  reset();
  return {
    floorPerSecond: median(floors),
    enginePerSecond: median(engines),
    ratio: median(ratios),
    rounds: options.rounds,
    opsPerRound: ops,
  };
}
