import { execFile } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { RemovalPolicy } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { ContextError, servicePropsFromContext } from '../../cdk/context.ts';
import { chooseConfigPath, EXAMPLE_CONFIG, OBJECT_SOURCE } from '../../cdk/service-config.ts';
import { ConfigError, loadConfigFile, parseConfig } from '../../lib/config/config.ts';
import { exampleConfig, synthStack, tempConfigFile, testApp, testOutdir } from './synth.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The error a call throws (the test fails when it throws nothing). */
function thrown(call: () => unknown): Error {
  try {
    call();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected an error');
}

const invalid = {
  issuer: 'http://sts.example.com',
  trustedIssuers: [{ name: 'github', issuer: 'https://token.actions.githubusercontent.com' }],
  policies: [{ name: 'p', issuer: 'gitlab', subject: '**', audiences: [] }],
};

/** The example: the policy a reviewer reads admits main only; JSON.parse would admit everyone. */
const DUPLICATED_SUBJECT = `{
  "issuer": "https://sts.example.com",
  "trustedIssuers": [{ "name": "github", "issuer": "https://token.actions.githubusercontent.com" }],
  "policies": [
    { "name": "deploy", "issuer": "github",
      "subject": "repo:acme/app:ref:refs/heads/main",
      "audiences": ["https://deploy.acme.internal"],
      "subject": "*" }
  ]
}`;

describe('config at synth', () => {
  it('validates the example config the app falls back to', () => {
    expect(loadConfigFile(EXAMPLE_CONFIG).issuer).toBe('https://sts.example.com');
  });

  it.each([
    ['a schema violation', invalid],
    ['invalid JSON', '{ "issuer": '],
  ])('fails synth on %s with the very ConfigError the service prints', (_case, content) => {
    const path = tempConfigFile(content);
    const expected = thrown(() => loadConfigFile(path));
    expect(expected).toBeInstanceOf(ConfigError);
    const error = thrown(() => synthStack({ config: path }));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toBe(expected.message);
    expect(error.message).toMatch(/^invalid configuration .*sts\.config\.json:\n {2}- /);
  });

  it('fails synth on a duplicated key, naming its path (a reviewer reads the first, JSON.parse keeps the last)', () => {
    const path = tempConfigFile(DUPLICATED_SUBJECT);
    const error = thrown(() => synthStack({ config: path }));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toContain('policies[0].subject: the key "subject" appears twice');
  });

  it('fails synth on a missing file, naming it', () => {
    const error = thrown(() => synthStack({ config: join(tmpdir(), 'no-such-dir', 'sts.config.json') }));
    expect(error).toBeInstanceOf(ConfigError);
    expect(error.message).toContain('cannot read the file: ENOENT');
  });

  it('validates a config object as parseConfig does', () => {
    const error = thrown(() => synthStack({ config: invalid }));
    expect(error.message).toBe(thrown(() => parseConfig(invalid, OBJECT_SOURCE)).message);
    expect(error.message).toMatch(/^invalid configuration TokenService props\.config:\n/);
    expect(error.message).toContain('policies[0].audiences');
  });

  it('takes STS_CONFIG, then the config context key, then the example', () => {
    expect(chooseConfigPath('ctx.json', { STS_CONFIG: 'env.json' })).toEqual({
      path: 'env.json',
      from: 'STS_CONFIG',
    });
    expect(chooseConfigPath('ctx.json', {})).toEqual({ path: 'ctx.json', from: 'context config' });
    expect(chooseConfigPath(undefined, { STS_CONFIG: '' })).toEqual({
      path: EXAMPLE_CONFIG,
      from: 'example',
    });
    expect(() => chooseConfigPath(42, {})).toThrow(ConfigError);
  });

  it('makes `cdk synth` print the ConfigError message and exit 2, as `npm start` does', async () => {
    const path = tempConfigFile(invalid);
    const expected = thrown(() => loadConfigFile(path)).message;
    const run = promisify(execFile);
    const failure = await run(process.execPath, ['--import', 'tsx', 'cdk/app.ts'], {
      cwd: ROOT,
      env: { ...process.env, STS_CONFIG: path, CDK_OUTDIR: testOutdir() },
    }).catch((error: { code: number; stderr: string }) => error);
    expect(failure).toMatchObject({ code: 2 });
    expect((failure as { stderr: string }).stderr).toBe(`${expected}\n`);
  });
});

describe('context settings of the deployable stack', () => {
  const fromContext = (context: Record<string, unknown>) => {
    const app = testApp({ context });
    return servicePropsFromContext(app);
  };

  it('reads nothing when nothing is set', () => {
    expect(fromContext({})).toEqual({});
  });

  it('reads keys, throttling, retention and removal', () => {
    const props = fromContext({
      signingKey: 'k2',
      previousKey: { name: 'k1', keySpec: 'RSA_2048', algorithm: 'PS256' },
      rateLimit: '50',
      burstLimit: 75,
      logRetentionDays: 90,
      removalPolicy: 'destroy',
    });
    expect(props).toEqual({
      signingKey: { name: 'k2' },
      previousKey: { name: 'k1', keySpec: 'RSA_2048', algorithm: 'PS256' },
      throttle: { rateLimit: 50, burstLimit: 75 },
      logRetention: 90,
      tableRemovalPolicy: RemovalPolicy.DESTROY,
    });
  });

  it.each([
    [{ nextKey: { name: 'k', keySpec: 'RSA_1024' } }, /nextKey.keySpec/],
    [{ nextKey: { name: 'k', extra: true } }, /nextKey: expected a key name/],
    [{ rateLimit: 'fast' }, /rateLimit: expected a positive number/],
    [{ logRetentionDays: 42 }, /42 is not a CloudWatch Logs retention value/],
    [{ removalPolicy: 'snapshot' }, /removalPolicy/],
    [{ domainName: 'sts.example.com', hostedZoneId: 'Z1' }, /give both or neither/],
  ])('refuses bad context %#', (context, message) => {
    const error = thrown(() => fromContext(context));
    expect(error).toBeInstanceOf(ContextError);
    expect(error.message).toMatch(message);
  });

  it('lets the stack props win over context', () => {
    const { stack } = synthStack(
      { signingKey: { name: 'from-props' } },
      { context: { signingKey: 'from-context', nextKey: 'next' } },
    );
    expect([...stack.service.keys.keys()]).toEqual(['from-props', 'next']);
    expect(exampleConfig().issuer).toBe(stack.service.config.issuer);
  });
});
