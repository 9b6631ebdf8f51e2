#!/usr/bin/env node
// Runs the test suites with node's own test runner (TypeScript through tsx).
//   (no flag)   unit + integration tests: every *.test.ts except *.browser.test.ts
//   --browser   only the Chromium suites (*.browser.test.ts)
//   --all       both; this is what `npm test` and CI run
// Browser suites need Debian's chromium; it is installed here when missing, because
// Playwright's own browser download cannot work on these machines.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const args = new Set(process.argv.slice(2));
const wantBrowser = args.has('--browser') || args.has('--all');
const wantUnit = !args.has('--browser') || args.has('--all');

function collect(dir, out) {
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const full = join(dir, name);
    if (statSync(full).isDirectory()) collect(full, out);
    else if (name.endsWith('.test.ts')) out.push(relative(root, full));
  }
  return out;
}

const all = [...collect(join(root, 'src'), []), ...collect(join(root, 'test'), [])].sort();
const files = all.filter((f) => (f.endsWith('.browser.test.ts') ? wantBrowser : wantUnit));

if (wantBrowser && files.some((f) => f.endsWith('.browser.test.ts'))) ensureChromium();

if (files.length === 0) {
  console.error('run-tests: no test files found');
  process.exit(1);
}

const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-concurrency=2', ...files],
  { cwd: root, stdio: 'inherit', env: { ...process.env, NODE_ENV: 'test' } },
);
process.exit(result.status ?? 1);

function ensureChromium() {
  const path = process.env.GATEHOUSE_CHROMIUM ?? '/usr/bin/chromium';
  if (existsSync(path)) return;
  // apt-get needs root: run it directly as root, else through sudo (which may ask for a password).
  const asRoot = process.getuid?.() === 0;
  console.log(`run-tests: ${path} is missing; installing Debian's chromium (${asRoot ? '' : 'sudo '}apt-get)`);
  const run = (cmdArgs) => {
    const [cmd, args] = asRoot ? ['apt-get', cmdArgs] : ['sudo', ['DEBIAN_FRONTEND=noninteractive', 'apt-get', ...cmdArgs]];
    const r = spawnSync(cmd, args, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    if (r.status !== 0) {
      console.error(`run-tests: '${cmd} ${args.join(' ')}' failed${r.error ? ` (${r.error.message})` : ''}; the browser suites need chromium at ${path}`);
      process.exit(1);
    }
  };
  run(['update']);
  run(['install', '-y', '--no-install-recommends', 'chromium']);
  if (!existsSync(path)) {
    console.error(`run-tests: chromium is installed but ${path} does not exist (GATEHOUSE_CHROMIUM names another path?)`);
    process.exit(1);
  }
}
