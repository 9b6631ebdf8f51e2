#!/usr/bin/env node
// The `gatehouse` command. Runs the compiled CLI from dist/ (built by `npm ci` through the
// `prepare` script); falls back to the TypeScript sources through tsx in a dev checkout.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const dist = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
if (existsSync(dist)) {
  const { main } = await import(pathToFileURL(dist).href);
  process.exitCode = await main(process.argv.slice(2));
} else {
  const { register } = await import('tsx/esm/api');
  register();
  const { main } = await import('../src/cli.ts');
  process.exitCode = await main(process.argv.slice(2));
}
