// The policy-file `sts` commands, `explain` and `config validate`: they load the policy engine and
// its schema, so `sts.ts` imports this module only when one of them runs. Both run offline;
// `explain --table` also reads the STS table (`TOKEN#` records, with the AWS SDK, loaded then).

import { readFileSync } from 'node:fs';
import { type Config, ConfigError, loadConfigFile, parseConfigText } from '../lib/config/config.ts';
import { configWarnings } from '../lib/config/warnings.ts';
import type { TokenRecordReader } from '../lib/shared/token-record.ts';
import {
  type Command,
  EXIT,
  type Io,
  json,
  list,
  readTokenArg,
  scopesOf,
  str,
  UsageError,
  withPeers,
} from './cli-io.ts';
import { explainExchange } from './explain.ts';
import { decodePresented, type Presented } from './explain-presented.ts';
import { formatReport } from './explain-text.ts';

/** A token, or a JSON object of bare claims given inline, as a file, or on stdin. */
async function presentedArg(io: Io, value: string, option: string): Promise<Presented> {
  const text = value.trimStart().startsWith('{') ? io.secret(value) : await readTokenArg(io, value, option);
  return decodePresented(text, option);
}

export const explain: Command = async (values, _positionals, io) => {
  const configPath = str(values, 'config');
  const tokenValue = str(values, 'token');
  const audience = str(values, 'audience');
  if (!configPath || !tokenValue || !audience) {
    throw new UsageError('explain needs --config, --token and --audience');
  }
  let config: Config;
  try {
    config = loadConfigFile(configPath);
  } catch (error) {
    if (error instanceof ConfigError) throw new UsageError(error.message);
    throw error;
  }
  const subject = await presentedArg(io, tokenValue, '--token');
  const actorValue = str(values, 'actor-token');
  const actor = actorValue ? await presentedArg(io, actorValue, '--actor-token') : undefined;
  const table = str(values, 'table');
  const reader = table === undefined ? undefined : await tableReader(io, table);
  try {
    const report = await explainExchange({
      config,
      subject,
      subjectIssuer: str(values, 'subject-issuer'),
      actor,
      actorIssuer: str(values, 'actor-issuer'),
      audience,
      scopes: scopesOf(list(values, 'scope')),
      now: Math.floor(Date.now() / 1000),
      records: reader?.records,
    });
    io.out(values.json ? json(report, true) : formatReport(report));
    return report.admitted ? EXIT.ok : EXIT.refused;
  } catch (error) {
    if (!(error instanceof TableReadError)) throw error;
    // The table was asked for and could not be read: no answer rather than an offline one.
    io.err(`sts: cannot read the table "${table}": ${error.message}\n`);
    return EXIT.unavailable;
  } finally {
    reader?.close();
  }
};

/**
 * Strongly consistent reads of the STS table's `TOKEN#` and `SUBJECT#` items (the downstream
 * verifier's reader), through the AWS SDK's default chain: credentials, `AWS_REGION`, and
 * `AWS_ENDPOINT_URL_DYNAMODB` (or `AWS_ENDPOINT_URL`) for DynamoDB Local or dynalite, which on a
 * loopback endpoint needs no credentials. Needs `dynamodb:GetItem` on the table, nothing else.
 */
async function tableReader(
  io: Io,
  tableName: string,
): Promise<{ readonly records: TokenRecordReader; close(): void }> {
  if (tableName.length === 0) throw new UsageError('--table: expected the STS table name');
  const sdk = await withPeers(
    '--table reads DynamoDB',
    ['@aws-sdk/client-dynamodb'],
    () => import('@aws-sdk/client-dynamodb'),
  );
  const { dynamoTableReader } = await import('../lib/verify/dynamodb.ts');
  const endpoint = io.env.AWS_ENDPOINT_URL_DYNAMODB || io.env.AWS_ENDPOINT_URL || undefined;
  const loopback =
    endpoint !== undefined && /^http:\/\/(127\.0\.0\.1|localhost|\[::1\])(:|\/|$)/.test(endpoint);
  const client = new sdk.DynamoDBClient({
    endpoint,
    region: io.env.AWS_REGION || io.env.AWS_DEFAULT_REGION || (loopback ? 'us-east-1' : undefined),
    ...(loopback && !io.env.AWS_ACCESS_KEY_ID
      ? { credentials: { accessKeyId: 'local', secretAccessKey: 'local' } }
      : {}),
    maxAttempts: 2,
  });
  const reader = dynamoTableReader({ client, tableName });
  const failed = (error: unknown) => {
    const { name, message } = error instanceof Error ? error : { name: 'Error', message: String(error) };
    return new TableReadError(`${name}: ${message}`, { cause: error });
  };
  const records: TokenRecordReader = {
    getToken: (jti) => reader.getToken(jti).catch((error: unknown) => Promise.reject(failed(error))),
    subjectRevokedBefore: (issuer, sub) =>
      reader.subjectRevokedBefore(issuer, sub).catch((error: unknown) => Promise.reject(failed(error))),
  };
  return { records, close: () => client.destroy() };
}

/** A read of the STS table failed (no credentials, no such table, unreachable endpoint...). */
class TableReadError extends Error {
  override readonly name = 'TableReadError';
}

export const configCommand: Command = async (values, positionals, io) => {
  const [sub, ...named] = positionals;
  if (sub !== 'validate') throw new UsageError('usage: sts config validate [<file>...]');
  // No file named: the one the service would load (STS_CONFIG), else ./sts.config.json.
  const files = named.length > 0 ? named : [io.env.STS_CONFIG || 'sts.config.json'];
  const results = files.map((file) => {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      throw new UsageError(`cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
    }
    try {
      const config = parseConfigText(text, file);
      const warnings = configWarnings(config);
      return {
        file,
        valid: true,
        policies: config.policies.length,
        problems: [] as readonly string[],
        warnings,
      };
    } catch (error) {
      if (error instanceof ConfigError) return { file, valid: false, problems: error.problems };
      throw error;
    }
  });
  for (const result of results) {
    if (values.json) io.out(json(result, true));
    else if (result.valid) {
      io.out(`OK ${result.file} (${result.policies} ${result.policies === 1 ? 'policy' : 'policies'})\n`);
      for (const warning of result.warnings ?? []) io.err(`warning: ${result.file}: ${warning}\n`);
    } else
      io.err(`invalid configuration ${result.file}:\n${result.problems.map((p) => `  - ${p}\n`).join('')}`);
  }
  return results.every((result) => result.valid) ? EXIT.ok : EXIT.refused;
};
