/**
 * `gatehouse start --workers N` with real processes: a node:cluster primary and its workers, on
 * port 0 (every worker's listen(0) maps to the one handle the primary opened, so they share the
 * port the first worker reports), serving a real folder, replacing a worker that dies, and
 * shutting down gracefully on SIGTERM.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Client } from 'undici';
import { main, type CliIo } from '../src/cli.ts';

const FOLDER = fileURLToPath(new URL('./fixtures/gateway-e2e', import.meta.url));
const CLI = fileURLToPath(new URL('../src/cli.ts', import.meta.url));

/** Runs the CLI from source (not dist/) in a child process, the way bin/gatehouse.js would. */
function startCli(args: string[]): { child: ChildProcess; out: () => string } {
  const code = `import { main } from ${JSON.stringify(CLI)}; process.exitCode = await main(process.argv.slice(1));`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code, ...args], {
    env: { ...process.env, NODE_ENV: 'test', GATEHOUSE_LOG_LEVEL: 'debug' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  child.stdout?.on('data', (c: Buffer) => (text += c.toString()));
  child.stderr?.on('data', (c: Buffer) => (text += c.toString()));
  return { child, out: () => text };
}

async function waitFor(out: () => string, pattern: RegExp, timeoutMs = 30_000): Promise<RegExpMatchArray> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const m = pattern.exec(out());
    if (m) return m;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${pattern}; output so far:\n${out()}`);
}

/** One request on a fresh connection, so the primary's round-robin hands each to the next worker. */
async function teapot(url: string): Promise<{ status: number; text: string }> {
  const client = new Client(url);
  try {
    const res = await client.request({ path: '/mock/teapot', method: 'GET' });
    return { status: res.statusCode, text: await res.body.text() };
  } finally {
    await client.close();
  }
}

function parentOf(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return null;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const exited = (child: ChildProcess) => new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));

test('start --workers 2 serves from two processes on one port 0, replaces a dead worker, and stops on SIGTERM', { timeout: 90_000 }, async () => {
  const { child, out } = startCli(['start', '--config', FOLDER, '--host', '127.0.0.1', '--port', '0', '--workers', '2']);
  const done = exited(child);
  try {
    const banner = await waitFor(out, /workers: 2 \(node:cluster, pids (\d+), (\d+)\)/);
    const url = (await waitFor(out, /serving 6 API\(s\) from .* on (http:\/\/127\.0\.0\.1:\d+)/))[1] as string;
    assert.doesNotMatch(url, /:0$/, 'the banner shows the port the OS chose, not 0');
    const pids = [Number(banner[1]), Number(banner[2])];
    for (const pid of pids) assert.equal(parentOf(pid), child.pid, `worker ${pid} is a child of the primary`);

    for (let i = 0; i < 6; i++) assert.deepEqual(await teapot(url), { status: 418, text: 'short and stout' });
    // Debug logs carry the worker id: both workers answered some of the six connections.
    await waitFor(out, /"worker":1[,}].*"msg":"request"/);
    await waitFor(out, /"worker":2[,}].*"msg":"request"/);

    // A worker killed while serving is replaced; the port keeps answering meanwhile.
    process.kill(pids[0] as number, 'SIGKILL');
    await waitFor(out, new RegExp(`worker ${pids[0]} exited \\(SIGKILL\\); starting another`));
    for (let i = 0; i < 4; i++) assert.equal((await teapot(url)).status, 418);

    child.kill('SIGTERM');
    assert.equal(await done, 0, out());
    assert.match(out(), /gatehouse: shutting down/);
    assert.equal(alive(pids[1] as number), false, 'the surviving worker exited with the primary');
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});

test('start --workers 2: keys generated for subscriptions without one are the same in every worker and printed once', { timeout: 90_000 }, async () => {
  const { child, out } = startCli(['start', '--config', fileURLToPath(new URL('./fixtures/subscriptions', import.meta.url)), '--host', '127.0.0.1', '--port', '0', '--workers', '2']);
  const done = exited(child);
  try {
    await waitFor(out, /workers: 2 \(node:cluster/);
    const url = (await waitFor(out, /on (http:\/\/127\.0\.0\.1:\d+)/))[1] as string;
    const key = (await waitFor(out, /^ {4}gold-generated \(product gold\): primary (\S+) {2}secondary \S+$/m))[1] as string;
    assert.equal(out().match(/gold-generated/g)?.length, 1, 'printed once, by the primary');
    // Fresh connections go round-robin to both workers: each must accept the primary's key.
    for (let i = 0; i < 6; i++) {
      const client = new Client(url);
      try {
        const res = await client.request({ path: '/catalog/items', method: 'GET', headers: { 'ocp-apim-subscription-key': key } });
        await res.body.dump();
        // The backend of the fixture is down (500); a worker that did not know the key would answer 401.
        assert.equal(res.statusCode, 500, `request ${i}`);
        const keyless = await client.request({ path: '/catalog/items', method: 'GET' });
        await keyless.body.dump();
        assert.equal(keyless.statusCode, 401);
      } finally {
        await client.close();
      }
    }
    await waitFor(out, /"worker":1[,}].*"msg":"request"/);
    await waitFor(out, /"worker":2[,}].*"msg":"request"/);
    child.kill('SIGTERM');
    assert.equal(await done, 0, out());
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
});

test('start --workers 2 refuses a broken folder once, in the primary, before forking', { timeout: 60_000 }, async () => {
  const { child, out } = startCli(['start', '--config', fileURLToPath(new URL('./fixtures/broken', import.meta.url)), '--port', '0', '--workers', '2']);
  assert.equal(await exited(child), 1);
  const text = out();
  assert.match(text, /refusing to start: 8 error\(s\)/);
  assert.equal(text.match(/GH_POLICY_UNKNOWN_ELEMENT/g)?.length, 1, 'each diagnostic printed once');
  assert.doesNotMatch(text, /workers:/);
});

test('--workers must be a positive integer', async () => {
  for (const bad of ['0', '257', '1.5', 'two']) {
    const err: string[] = [];
    const io: CliIo = { out: () => {}, err: (t) => err.push(t) };
    const code = await main(['start', '--config', FOLDER, '--workers', bad], io);
    assert.equal(code, 2, bad);
    assert.match(err.join('\n'), /GH_CLI_USAGE --workers must be an integer from 1 to 256/);
  }
});
