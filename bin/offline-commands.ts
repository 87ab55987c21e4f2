// The offline `sts` commands, `explain` and `config validate`: they load the policy engine and
// its schema, so `sts.ts` imports this module only when one of them runs.

import { readFileSync } from 'node:fs';
import { type Config, ConfigError, loadConfigFile, parseConfigText } from '../lib/config/config.ts';
import { configWarnings } from '../lib/config/warnings.ts';
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
} from './cli-io.ts';
import { decodePresented, explainOffline, formatReport, type Presented } from './explain.ts';

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
  const report = explainOffline({
    config,
    subject,
    subjectIssuer: str(values, 'subject-issuer'),
    actor,
    actorIssuer: str(values, 'actor-issuer'),
    audience,
    scopes: scopesOf(list(values, 'scope')),
    now: Math.floor(Date.now() / 1000),
  });
  io.out(values.json ? json(report, true) : formatReport(report));
  return report.admitted ? EXIT.ok : EXIT.refused;
};

export const configCommand: Command = async (values, positionals, io) => {
  const [sub, ...files] = positionals;
  if (sub !== 'validate' || files.length === 0) throw new UsageError('usage: sts config validate <file>...');
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
      io.out(`OK ${result.file} (${result.policies} policies)\n`);
      for (const warning of result.warnings ?? []) io.err(`warning: ${result.file}: ${warning}\n`);
    } else
      io.err(`invalid configuration ${result.file}:\n${result.problems.map((p) => `  - ${p}\n`).join('')}`);
  }
  return results.every((result) => result.valid) ? EXIT.ok : EXIT.refused;
};
