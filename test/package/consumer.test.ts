import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { BUNDLED_HANDLERS } from '../../cdk/handler-code.ts';
import { HANDLERS } from '../../lambdas/routes.ts';

// The package as its users get it: `npm pack` (which builds dist/ through `prepack`), then ONE
// `npm install` of the tarball into a fresh project, next to the peers a user would add (pinned to
// this repository's lock file, so npm's cache usually serves them). Then, from that project:
// (a) plain Node ESM imports every subpath, (b) require() loads every subpath (Node 20.19+
// require(esm)), (c) a strict TypeScript consumer (exactOptionalPropertyTypes, skipLibCheck
// false) type-checks its use of the SDK, verifier and construct, (d) `npx sts` runs compiled,
// (e) a plain-JavaScript CDK app synthesizes the construct from the prebuilt bundles.
// The install needs the npm registry: when it cannot be reached, every test here is SKIPPED
// with the reason (never passed).

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const FIXTURES = fileURLToPath(new URL('./consumer/', import.meta.url));
const EXAMPLE_CONFIG = join(ROOT, 'cdk', 'example.sts.config.json');
/** What a consumer installs beside the package: TypeScript, the construct's and the middlewares' peers. */
const PEERS = [
  'typescript',
  'aws-cdk-lib',
  'constructs',
  '@middy/core',
  '@aws-sdk/client-dynamodb',
  '@types/node',
];
/** Each step runs tools on a shared machine: generous, so a slow moment is not a failure. */
const TEST_TIMEOUT = 600_000;
const NETWORK_ERROR =
  /E(NOTFOUND|AI_AGAIN|CONNREFUSED|CONNRESET|TIMEDOUT|NETUNREACH|HOSTUNREACH)|network|socket hang up/i;

/** npm's environment without what `npm test` sets for its own run (its prefix, its scripts). */
const npmEnv = Object.fromEntries(
  Object.entries(process.env).filter(([name]) => !/^npm_(config_|lifecycle_|package_)/i.test(name)),
);

let work = '';
let project = '';
let skipReason: string | undefined;
let packed: { readonly filename: string; readonly files: readonly { readonly path: string }[] };

const lockedVersion = (name: string): string => {
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { version: string }>;
  };
  return lock.packages[`node_modules/${name}`]!.version;
};

async function registryProblem(): Promise<string | undefined> {
  try {
    await run('npm', ['ping'], { cwd: tmpdir(), env: npmEnv, timeout: 30_000 });
    return undefined;
  } catch (error) {
    const { stderr, message, killed } = error as { stderr?: string; message: string; killed?: boolean };
    if (killed) return 'npm registry unreachable (npm ping: no answer within 30 s)';
    const lines = (stderr || message).trim().split('\n');
    const reason = lines.filter((line) => !line.startsWith('npm notice')).pop() ?? lines.pop();
    return `npm registry unreachable (npm ping: ${reason})`;
  }
}

beforeAll(async () => {
  skipReason = await registryProblem();
  if (skipReason) {
    console.warn(`consumer test SKIPPED: ${skipReason}`);
    return;
  }
  work = mkdtempSync(join(tmpdir(), 'sts-consumer-'));
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', work], {
    cwd: ROOT,
    env: npmEnv,
    maxBuffer: 64 * 1024 * 1024,
  });
  packed = (JSON.parse(stdout.slice(stdout.indexOf('[\n'))) as (typeof packed)[])[0]!;

  project = join(work, 'project');
  mkdirSync(project);
  cpSync(FIXTURES, project, { recursive: true });
  cpSync(EXAMPLE_CONFIG, join(project, 'sts.config.json'));
  const dependencies = Object.fromEntries([
    ['serverless-sts', `file:${join(work, packed.filename)}`],
    ...PEERS.map((name) => [name, lockedVersion(name)]),
  ]);
  writeFileSync(
    join(project, 'package.json'),
    JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, type: 'module', dependencies }),
  );
  try {
    await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--ignore-scripts'], {
      cwd: project,
      env: npmEnv,
      timeout: 600_000,
    });
  } catch (error) {
    const { stderr = '' } = error as { stderr?: string };
    if (!NETWORK_ERROR.test(stderr)) throw error;
    skipReason = `npm install could not reach the registry: ${stderr.trim().split('\n').slice(-3).join(' ')}`;
    console.warn(`consumer test SKIPPED: ${skipReason}`);
  }
}, 900_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

/** Runs a command in the consumer project; resolves with its output whatever the exit code. */
async function inProject(file: string, args: readonly string[], timeout = 300_000) {
  try {
    const { stdout, stderr } = await run(file, [...args], {
      cwd: project,
      env: npmEnv,
      timeout,
      maxBuffer: 64 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const { code, stdout = '', stderr = '' } = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof code === 'number' ? code : -1, stdout, stderr };
  }
}

const skipped = (context: TestContext) => context.skip(skipReason !== undefined, skipReason);

describe.concurrent('the packed package, installed as a dependency', () => {
  it(
    'ships the build, the CLI, the bundles, README and LICENSE, and no sources or tests',
    (context) => {
      skipped(context);
      const files = packed.files.map((file) => file.path);
      for (const required of ['LICENSE', 'README.md', 'package.json', 'bin/sts.js', 'dist/bin/sts.js']) {
        expect(files).toContain(required);
      }
      for (const handler of BUNDLED_HANDLERS) expect(files).toContain(`dist/lambda/${handler}/index.mjs`);
      expect(files.filter((file) => /^(test|bench|\.ci|local|scripts|lib|lambdas|cdk)\//.test(file))).toEqual(
        [],
      );
      expect(files.filter((file) => file.endsWith('.ts') && !file.endsWith('.d.ts'))).toEqual([]);
    },
    TEST_TIMEOUT,
  );

  it(
    '(a) loads every subpath with plain Node ESM',
    async (context) => {
      skipped(context);
      const result = await inProject(process.execPath, ['imports.mjs']);
      expect(result.stderr).toBe('');
      const kinds = JSON.parse(result.stdout) as Record<string, Record<string, string>>;
      expect(kinds.client).toMatchObject({ StsClient: 'function', tokenExchangeMiddleware: 'function' });
      expect(kinds.verifier).toMatchObject({
        createAccessTokenVerifier: 'function',
        accessTokenAuth: 'function',
      });
      expect(kinds.dynamodb).toMatchObject({ dynamoRevocationLookup: 'function' });
      expect(kinds.policy).toMatchObject({ parseConfig: 'function', compilePolicies: 'function' });
      expect(kinds.cdk).toMatchObject({ TokenService: 'function' });
      expect(kinds.root).toMatchObject({ StsClient: 'function', createAccessTokenVerifier: 'function' });
    },
    TEST_TIMEOUT,
  );

  it(
    '(b) loads every subpath with require() (require(esm), Node 20.19+)',
    async (context) => {
      skipped(context);
      const result = await inProject(process.execPath, ['require.cjs']);
      expect(result.code, result.stderr).toBe(0);
      const loaded = JSON.parse(result.stdout) as Record<string, string[]>;
      expect(loaded['/client']).toContain('StsClient');
      expect(loaded['/verifier']).toContain('createAccessTokenVerifier');
      expect(loaded['/verifier/dynamodb']).toContain('dynamoRevocationLookup');
      expect(loaded['/policy']).toContain('parseConfig');
      expect(loaded['/cdk']).toContain('TokenService');
      expect(loaded['.']).toContain('StsClient');
    },
    TEST_TIMEOUT,
  );

  it(
    '(c) type-checks a strict TypeScript consumer (exactOptionalPropertyTypes, skipLibCheck false)',
    async (context) => {
      skipped(context);
      const result = await inProject(process.execPath, ['node_modules/typescript/bin/tsc', '-p', '.']);
      const errors = result.stdout.split('\n').filter((line) => /^\S.*error TS\d+/.test(line));
      // aws-cdk-lib's own declarations do not hold under exactOptionalPropertyTypes (a class whose
      // optional property implements a required one); they are not ours to fix. Every other
      // declaration, ours included, and the consumer's code are checked in full.
      const ours = errors.filter((line) => !line.startsWith('node_modules/aws-cdk-lib/'));
      expect(ours).toEqual([]);
      expect(result.code === 0 || errors.length > 0, result.stderr).toBe(true);
    },
    TEST_TIMEOUT,
  );

  it(
    '(d) runs the compiled CLI: npx sts --help, --version, config validate, explain',
    async (context) => {
      skipped(context);
      writeFileSync(join(project, 'broken.json'), '{"issuer":"http://sts.example.com","policies":[]}');
      // The example config's policy, asked for by a GitHub-like token's claims (explain decodes, offline).
      const claims = JSON.stringify({
        iss: 'https://token.actions.githubusercontent.com',
        sub: 'repo:example-org/example-app:environment:prod',
        aud: 'https://sts.example.com',
        repository_owner: 'example-org',
      });
      const [help, version, valid, invalid, explained] = await Promise.all([
        inProject('npx', ['--no-install', 'sts', '--help']),
        inProject('npx', ['--no-install', 'sts', '--version']),
        inProject('npx', ['--no-install', 'sts', 'config', 'validate', 'sts.config.json']),
        inProject('npx', ['--no-install', 'sts', 'config', 'validate', 'broken.json']),
        inProject('npx', [
          '--no-install',
          'sts',
          'explain',
          '--config',
          'sts.config.json',
          '--token',
          claims,
          '--audience',
          'https://deploy.example.internal',
          '--scope',
          'deploy:write',
        ]),
      ]);
      expect(explained).toMatchObject({ code: 0 });
      expect(explained.stdout).toContain(
        'ADMITTED by policy "deploy-prod" (lifetime 120s, scope "deploy:write")',
      );
      expect(help).toMatchObject({ code: 0 });
      expect(help.stdout).toContain('usage: sts <command>');
      expect(version.stdout.trim()).toBe(
        JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version,
      );
      expect(valid).toMatchObject({ code: 0, stdout: 'OK sts.config.json (1 policy)\n' });
      expect(valid.stderr).not.toContain('warning:'); // the example config is the one we publish
      expect(invalid.code).toBe(3);
      expect(invalid.stderr).toContain('issuer: expected an https URL');
    },
    TEST_TIMEOUT,
  );

  it(
    '(e) synthesizes the construct in a plain-JavaScript CDK app, from the prebuilt bundles',
    async (context) => {
      skipped(context);
      const config = JSON.parse(readFileSync(EXAMPLE_CONFIG, 'utf8')) as {
        tokenLifetime: { default: string };
      };
      writeFileSync(
        join(project, 'other.json'),
        JSON.stringify({ ...config, tokenLifetime: { ...config.tokenLifetime, default: '4m' } }),
      );
      writeFileSync(join(project, 'invalid.json'), '{"issuer":"https://sts.example.com"}');
      const [outA, outB] = [join(work, 'out-a'), join(work, 'out-b')];
      const result = await inProject(process.execPath, [
        'cdk-app.mjs',
        'sts.config.json',
        'other.json',
        'invalid.json',
        outA,
        outB,
      ]);
      expect(result.code, result.stderr).toBe(0);
      interface Synth {
        functions: { handler: string; runtime: string }[];
        handlers: string[];
        assets: { hash: string; files: string[]; config: string }[];
      }
      const { a, b, refused } = JSON.parse(result.stdout) as {
        a: Synth;
        b: Synth;
        refused?: { name: string };
      };
      // The default deployment: one function per routed handler (no prober, KMS signing mode).
      expect(a.handlers).toEqual([...HANDLERS].sort());
      expect(a.functions).toHaveLength(HANDLERS.length);
      for (const fn of a.functions) expect(fn).toEqual({ handler: 'index.handler', runtime: 'nodejs22.x' });
      // One asset per function: the prebuilt bundle and the validated policy file, together.
      expect(a.assets).toHaveLength(HANDLERS.length);
      for (const asset of a.assets) {
        expect(asset.files).toEqual(['index.mjs', 'index.mjs.map', 'sts.config.json']);
        expect(asset.config).toBe(readFileSync(EXAMPLE_CONFIG, 'utf8'));
      }
      // Another policy file is another asset: the hash covers the config as well as the code.
      const hashesA = new Set(a.assets.map((asset) => asset.hash));
      expect(b.assets.filter((asset) => hashesA.has(asset.hash))).toEqual([]);
      expect(JSON.parse(b.assets[0]!.config).tokenLifetime.default).toBe('4m');
      // An invalid policy file fails the synth, as the service would fail at start.
      expect(refused?.name).toBe('ConfigError');

      // The shipped bundle runs as deployed (a local key instead of KMS; no AWS here).
      const asset = join(outA, `asset.${a.assets[0]!.hash}`);
      const loaded = await run(
        process.execPath,
        [
          '--input-type=module',
          '-e',
          "const m = await import('./index.mjs'); process.stdout.write(typeof m.handler);",
        ],
        { cwd: asset, env: { PATH: process.env.PATH, STS_CONFIG: join(asset, 'sts.config.json') } },
      );
      expect(loaded.stdout).toBe('function');
    },
    TEST_TIMEOUT,
  );
});
