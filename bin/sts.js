#!/usr/bin/env node
// Launcher of the `sts` CLI (bin/sts.ts): runs the TypeScript source through tsx, so a fresh
// clone works with `npx sts ...` or `node bin/sts.js ...` after `npm install`.
import { fileURLToPath } from 'node:url';
import { register } from 'tsx/esm/api';

register({ tsconfig: fileURLToPath(new URL('../tsconfig.json', import.meta.url)) });
const { run } = await import('./sts.ts');
process.exitCode = await run(process.argv.slice(2));
