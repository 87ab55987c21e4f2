#!/usr/bin/env node
// Launcher of the `sts` CLI. From the published package it runs the compiled CLI
// (dist/bin/sts.js: plain Node, no tsx). In a checkout of this repository, where bin/sts.ts sits
// next to this file, it runs that TypeScript source through tsx (a dev dependency), so
// `npx sts ...` and `node bin/sts.js ...` always run the code you are reading, never a stale build.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const source = new URL('./sts.ts', import.meta.url);
let cli;
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register({ tsconfig: fileURLToPath(new URL('../tsconfig.json', import.meta.url)) });
  cli = await import(source.href);
} else {
  cli = await import('../dist/bin/sts.js');
}
process.exitCode = await cli.run(process.argv.slice(2));
