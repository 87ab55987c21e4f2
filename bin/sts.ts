// `sts`: exchange, introspect and revoke tokens, explain policy decisions offline, validate a
// policy file, and mint development tokens from the local server. Exit codes: 0 success,
// 2 bad usage, 3 refused (or inactive, not admitted, invalid), 4 service failure, 1 bug.

import { parseArgs } from 'node:util';
import { TokenExchangeError } from '../lib/client/http.ts';
import {
  type Command,
  createIo,
  EXIT,
  type ExitCode,
  type Io,
  json,
  UsageError,
  type Values,
} from './cli-io.ts';
import { devToken, exchange, introspect, revoke } from './service-commands.ts';

const USAGE = `usage: sts <command> [options]

commands:
  exchange     exchange a subject token for a token for one audience (RFC 8693)
  introspect   ask whether a token is active (RFC 7662; needs the admin bearer)
  revoke       revoke a token (RFC 7009)
  explain      offline: which policy admits a token for a target, or why each refuses
  config validate <file>...   check policy files (for CI)
  dev-token    mint a development subject token from the local server

common options:
  --endpoint <url>   service base URL (or STS_ENDPOINT)
  --json             machine-readable output
  -h, --help         help for a command

exchange:   --subject-token <token|file|->  (or STS_SUBJECT_TOKEN)  --audience <aud> | --resource <uri>
            [--scope <s>]... [--actor-token <token|file|->] (or STS_ACTOR_TOKEN)
            [--subject-token-type <urn>] [--actor-token-type <urn>] [--requested-token-type <urn>]
introspect: --token <token|file|->  (or STS_TOKEN)  --admin-token <t> (or STS_ADMIN_TOKEN)  [--token-type-hint <h>]
revoke:     --token <token|file|->  (or STS_TOKEN)  [--token-type-hint <h>]
explain:    --config <file> --token <token|claims.json|file|-> --audience <target> [--scope <s>]...
            [--actor-token <token|claims.json|file|->] [--subject-issuer <name>] [--actor-issuer <name>]
dev-token:  [--sub <subject>] [--aud <audience>] [--lifetime <seconds|5m>] [--claims <json|file>]

Tokens are written to stdout only. Prefer files, stdin ("-") or the environment over arguments
(command lines are visible to other users of the machine).

exit codes: 0 ok, 2 bad usage, 3 refused / inactive / not admitted / invalid config,
            4 service unavailable or failed, 1 unexpected error`;

const COMMON = {
  endpoint: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** Offline commands load the policy engine and its schema only when they run. */
const offline =
  (name: 'explain' | 'configCommand'): Command =>
  async (values, positionals, io) =>
    (await import('./offline-commands.ts'))[name](values, positionals, io);

const COMMANDS: Record<string, { run: Command; options: Record<string, unknown> }> = {
  exchange: {
    run: exchange,
    options: {
      'subject-token': { type: 'string' },
      'subject-token-type': { type: 'string' },
      'actor-token': { type: 'string' },
      'actor-token-type': { type: 'string' },
      audience: { type: 'string' },
      resource: { type: 'string' },
      scope: { type: 'string', multiple: true },
      'requested-token-type': { type: 'string' },
    },
  },
  introspect: {
    run: introspect,
    options: {
      token: { type: 'string' },
      'admin-token': { type: 'string' },
      'token-type-hint': { type: 'string' },
    },
  },
  revoke: { run: revoke, options: { token: { type: 'string' }, 'token-type-hint': { type: 'string' } } },
  explain: {
    run: offline('explain'),
    options: {
      config: { type: 'string' },
      token: { type: 'string' },
      audience: { type: 'string' },
      scope: { type: 'string', multiple: true },
      'actor-token': { type: 'string' },
      'subject-issuer': { type: 'string' },
      'actor-issuer': { type: 'string' },
    },
  },
  config: { run: offline('configCommand'), options: {} },
  'dev-token': {
    run: devToken,
    options: {
      sub: { type: 'string' },
      aud: { type: 'string' },
      lifetime: { type: 'string' },
      claims: { type: 'string' },
    },
  },
};

function report(io: Io, error: unknown, asJson: boolean): ExitCode {
  if (error instanceof TokenExchangeError) {
    const exit = error.refused ? EXIT.refused : EXIT.unavailable;
    if (asJson) {
      io.err(json({ error: error.code, error_description: error.description, status: error.status }, true));
    } else {
      const what = error.refused ? 'refused' : 'service failure';
      const status = error.status && !error.description.startsWith('HTTP ') ? ` (HTTP ${error.status})` : '';
      io.err(`sts: ${what}: ${error.code}: ${error.description}${status}\n`);
    }
    return exit;
  }
  if (
    error instanceof UsageError ||
    (error as { code?: unknown })?.code?.toString().startsWith('ERR_PARSE_ARGS')
  ) {
    io.err(`sts: ${(error as Error).message}\n(see sts --help)\n`);
    return EXIT.usage;
  }
  io.err(`sts: unexpected error: ${(error as Error)?.message ?? String(error)}\n`);
  return EXIT.internal;
}

/** Runs one command line; resolves with the exit code. */
export async function run(argv: readonly string[], io: Io = createIo()): Promise<ExitCode> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '-h' || name === '--help' || name === 'help') {
    (name === undefined ? io.err : io.out)(`${USAGE}\n`);
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  const command = COMMANDS[name];
  if (!command) {
    io.err(`sts: unknown command "${name}"\n(see sts --help)\n`);
    return EXIT.usage;
  }
  const asJson = rest.includes('--json');
  try {
    const { values, positionals } = parseArgs({
      args: [...rest],
      options: { ...COMMON, ...command.options } as never,
      allowPositionals: name === 'config',
      strict: true,
    }) as { values: Values; positionals: string[] };
    if (values.help) {
      io.out(`${USAGE}\n`);
      return EXIT.ok;
    }
    return await command.run(values, positionals, io);
  } catch (error) {
    return report(io, error, asJson);
  }
}
