// `sts`: exchange, introspect and revoke tokens, explain policy decisions, validate a
// policy file, and mint development tokens from the local server. Exit codes: 0 success,
// 2 bad usage, 3 refused (or inactive, not admitted, invalid), 4 service failure, 1 bug.

import { parseArgs } from 'node:util';
import { TokenExchangeError } from '../lib/client/http.ts';
import { quietSdkNodeNotice } from '../lib/shared/sdk-notice.ts';
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
import { dpopKeygen, dpopProof } from './dpop-commands.ts';
import { COMMAND_HELP, packageVersion, USAGE } from './help.ts';
import { devToken, exchange, introspect, revoke } from './service-commands.ts';

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
      'aws-identity': { type: 'string' },
      'aws-audience': { type: 'string' },
      'dpop-key': { type: 'string' },
    },
  },
  'dpop-keygen': { run: dpopKeygen, options: { out: { type: 'string' }, alg: { type: 'string' } } },
  'dpop-proof': {
    run: dpopProof,
    options: {
      'dpop-key': { type: 'string' },
      url: { type: 'string' },
      method: { type: 'string' },
      token: { type: 'string' },
      nonce: { type: 'string' },
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
      table: { type: 'string' },
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
  quietSdkNodeNotice();
  const [name, ...rest] = argv;
  if (name === undefined || name === '-h' || name === '--help' || name === 'help') {
    (name === undefined ? io.err : io.out)(`${USAGE}\n`);
    return name === undefined ? EXIT.usage : EXIT.ok;
  }
  if (name === '-v' || name === '--version' || name === 'version') {
    io.out(`${packageVersion()}\n`);
    return EXIT.ok;
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
      io.out(`${COMMAND_HELP[name] ?? USAGE}\n`);
      return EXIT.ok;
    }
    return await command.run(values, positionals, io);
  } catch (error) {
    return report(io, error, asJson);
  }
}
