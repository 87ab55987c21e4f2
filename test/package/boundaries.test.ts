import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { describe, expect, it } from 'vitest';

// Each consumer entry point, bundled as a user's bundler would (minified ESM for Node): it may
// contain only its own audience's folder and lib/shared, and only the packages it declares
// (no zod, AWS SDK, Powertools or middy in the SDK's and the verifier's bundles). The minified
// size is printed and held under a budget about 20 % above the measurement when the entry points
// were split (client 10.9 kB, verifier 32.6 kB of which 5.7 kB is the refusal-reason registry,
// root 42.2 kB, all with jose; before the split the verifier dragged in server code and the root
// barrel weighed 141 kB with zod).

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const pkg = (await import('../../package.json', { with: { type: 'json' } })).default as {
  exports: Record<string, { types: string; default: string } | string>;
};

interface Entry {
  readonly subpath: string;
  readonly source: string;
  /** lib/ folders its bundle may contain. */
  readonly folders: readonly string[];
  /** Packages its bundle may contain. */
  readonly packages: readonly string[];
  /** Packages left to the consumer (peer dependencies). */
  readonly external?: readonly string[];
  /** Bytes, minified, dependencies included. */
  readonly budget: number;
}

const ENTRIES: readonly Entry[] = [
  {
    subpath: './client',
    source: 'lib/client/index.ts',
    folders: ['client', 'shared'],
    packages: ['jose'],
    // DPoP (issue 16): jose's SignJWT, key generation/import/export and thumbprints: 30.8 kB.
    budget: 36_000,
  },
  {
    // The caller's AWS identity (SigV4): the AWS SDK's signer and credential chain are optional peers.
    subpath: './client/aws',
    source: 'lib/client/aws-identity.ts',
    folders: ['client', 'shared'],
    packages: [],
    external: ['@aws-sdk/credential-provider-node', '@smithy/signature-v4'],
    budget: 3_000,
  },
  {
    subpath: './verifier',
    source: 'lib/verify/index.ts',
    folders: ['verify', 'shared'],
    packages: ['jose'],
    // DPoP proof checks (embedded-JWK verification, thumbprints, nonces) and validation
    // metrics: 51.8 kB.
    budget: 60_000,
  },
  {
    subpath: '.',
    source: 'lib/index.ts',
    folders: ['client', 'verify', 'shared'],
    packages: ['jose'],
    // 68.3 kB with DPoP.
    budget: 80_000,
  },
  {
    subpath: './verifier/dynamodb',
    source: 'lib/verify/dynamodb.ts',
    folders: ['verify', 'shared'],
    packages: [],
    external: ['@aws-sdk/client-dynamodb'],
    budget: 3_000,
  },
  {
    subpath: './policy',
    source: 'lib/policy/index.ts',
    folders: ['policy', 'config', 'shared'],
    packages: ['zod'],
    budget: 135_000,
  },
];

/** The package a node_modules path belongs to (`zod`, `@aws-sdk/client-kms`). */
const packageOf = (path: string): string => {
  const parts = path.slice(path.lastIndexOf('node_modules/') + 'node_modules/'.length).split('/');
  return parts[0]!.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
};

describe.each(ENTRIES)('the $subpath entry point', (entry) => {
  it('is what the exports map publishes', () => {
    const target = pkg.exports[entry.subpath];
    const compiled = entry.source.replace(/\.ts$/, '');
    expect(target).toEqual({ types: `./dist/${compiled}.d.ts`, default: `./dist/${compiled}.js` });
  });

  it('bundles only its own audience, lib/shared and its declared packages, under its size budget', async () => {
    const result = await build({
      entryPoints: [entry.source],
      absWorkingDir: ROOT,
      bundle: true,
      minify: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      write: false,
      metafile: true,
      external: [...(entry.external ?? [])],
      logLevel: 'silent',
    });
    const inputs = Object.keys(result.metafile.inputs).map((path) => relative(ROOT, join(ROOT, path)));
    const foreign = inputs.filter(
      (path) =>
        !path.includes('node_modules/') &&
        !entry.folders.some((folder) => path.startsWith(`lib/${folder}/`)) &&
        path !== entry.source,
    );
    expect(foreign, 'files from another audience').toEqual([]);
    const packages = [...new Set(inputs.filter((path) => path.includes('node_modules/')).map(packageOf))];
    expect(
      packages.filter((name) => !entry.packages.includes(name)),
      'undeclared packages',
    ).toEqual([]);
    const bytes = result.outputFiles[0]!.contents.byteLength;
    console.log(`bundle ${entry.subpath}: ${bytes} bytes minified (budget ${entry.budget})`);
    expect(bytes).toBeLessThanOrEqual(entry.budget);
  });
});
