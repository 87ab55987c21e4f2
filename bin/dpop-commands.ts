// The `sts` DPoP commands (RFC 9449): `dpop-keygen` writes a private JWK to a file only its owner
// can read and prints the key's thumbprint (the `cnf.jkt` of tokens bound to it); `dpop-proof`
// prints the proof for one request, to send with `curl -H "DPoP: ..."`. `sts exchange
// --dpop-key <file>` uses the key (service-commands.ts).

import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { JWK } from 'jose';
import {
  type DpopKey,
  type DpopKeyAlgorithm,
  generateDpopJwk,
  importDpopKey,
  signDpopProof,
} from '../lib/client/dpop.ts';
import { type Command, EXIT, type Io, json, str, tokenOption, UsageError, type Values } from './cli-io.ts';

const ALGORITHMS: readonly DpopKeyAlgorithm[] = ['ES256', 'ES384', 'PS256', 'RS256', 'EdDSA'];

/** The DPoP key named by `--dpop-key <file>` (or STS_DPOP_KEY); undefined when neither is set. */
export async function dpopKeyOption(values: Values, io: Io): Promise<DpopKey | undefined> {
  const path = str(values, 'dpop-key') ?? io.env.STS_DPOP_KEY;
  if (!path) return undefined;
  let jwk: JWK;
  try {
    jwk = JSON.parse(readFileSync(path, 'utf8')) as JWK;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'not JSON';
    throw new UsageError(`--dpop-key: not a readable JWK file (${code})`);
  }
  try {
    return await importDpopKey(jwk);
  } catch (error) {
    throw new UsageError(`--dpop-key: ${(error as Error).message}`);
  }
}

export const dpopKeygen: Command = async (values, _positionals, io) => {
  const out = str(values, 'out');
  if (!out) throw new UsageError('--out <file> is required (the private key is written there, mode 0600)');
  const alg = (str(values, 'alg') ?? 'ES256') as DpopKeyAlgorithm;
  if (!ALGORITHMS.includes(alg)) throw new UsageError(`--alg: expected one of ${ALGORITHMS.join(', ')}`);
  if (existsSync(out)) throw new UsageError(`--out: ${out} exists; refusing to overwrite a key`);
  const jwk = await generateDpopJwk(alg);
  writeFileSync(out, `${JSON.stringify(jwk, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  const key = await importDpopKey(jwk);
  io.out(values.json ? json({ jkt: key.jkt, alg, file: out }, true) : `${key.jkt}\n`);
  return EXIT.ok;
};

export const dpopProof: Command = async (values, _positionals, io) => {
  const key = await dpopKeyOption(values, io);
  if (!key) throw new UsageError('--dpop-key <file> (or STS_DPOP_KEY) is required');
  const url = str(values, 'url');
  if (!url) throw new UsageError('--url is required');
  const accessToken = await tokenOption(io, str(values, 'token'), '--token', 'STS_TOKEN');
  try {
    const proof = await signDpopProof(key, {
      method: str(values, 'method') ?? 'GET',
      url,
      accessToken,
      nonce: str(values, 'nonce'),
    });
    io.out(`${proof}\n`);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  return EXIT.ok;
};
