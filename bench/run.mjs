#!/usr/bin/env node
// `npm run bench`: gatehouse against its peers and the limits, in one run on one machine.
// A benchmark, not a test: it asserts nothing about speed, it measures and writes
// docs/performance.md + docs/performance.svg (full run) or .bench-out/quick.md (--quick).
//
//   npm run bench                   full run (~15–20 min on 2 cores)
//   npm run bench -- --quick        scenarios 1 and 2, gatehouse + Node limit + fastify, 1 short run each (< 1 min)
//   npm run bench -- --scenarios preflight,get --contenders gatehouse,node-limit --runs 1 --seconds 3
//   npm run bench -- --profile      also writes CPU profiles of gatehouse (.bench-out/profiles)
//   (partial runs add --latency for the fixed-rate p99 pass and --soak SECONDS for the memory run)
//   npm run bench -- --report .bench-out/results-full.json [--spread earlier.json,…]   rewrites the page from a saved run
//
// Traffic goes only to 127.0.0.1 ports this script's own servers bound. Every loop is bounded
// and every child is stopped before it exits. See docs/performance.md for the method.
import { Buffer } from 'node:buffer';
import { spawnSync } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { cpus, totalmem, release } from 'node:os';
import { join } from 'node:path';
import { setInterval, clearInterval } from 'node:timers';
import { parseArgs } from 'node:util';
import { request as undiciRequest } from 'undici';
import { fileURLToPath } from 'node:url';
import { writeMainFolder, writeScaleFolder, SCALE_PATH } from './lib/apiops.mjs';
import { generateLoad, wrkVersion } from './lib/load.mjs';
import { nginxBinary, writeNginxConfig } from './lib/nginx.mjs';
import { cpuSeconds, freePort, hasTaskset, killAll, memory, processTree, startServer, stop } from './lib/proc.mjs';
import { writeReport } from './lib/report.mjs';
import { CORS } from './servers/common.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const OUT = join(ROOT, '.bench-out');

const { values: opts } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    scenarios: { type: 'string' },
    contenders: { type: 'string' },
    runs: { type: 'string' },
    seconds: { type: 'string' },
    warmup: { type: 'string' },
    tool: { type: 'string' },
    profile: { type: 'boolean', default: false },
    soak: { type: 'string' },
    latency: { type: 'boolean', default: false },
    'latency-only': { type: 'string' },
    'no-build': { type: 'boolean', default: false },
    report: { type: 'string' },
    spread: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});
if (opts.report) {
  // Rewrites the page from a saved run (after editing bench/notes.md or the report code).
  const data = JSON.parse(readFileSync(opts.report, 'utf8'));
  // --spread A.json,B.json: earlier runs whose gatehouse ratios are shown next to this one's.
  if (opts.spread) data.spread = opts.spread.split(',').map((f) => JSON.parse(readFileSync(f, 'utf8')));
  console.log(`bench: wrote ${writeReport(data, { root: ROOT, full: data.mode === 'full' }).join(', ')}`);
  process.exit(0);
}
if (opts.help) {
  console.log(readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(1, 16).map((l) => l.replace(/^\/\/ ?/, '')).join('\n'));
  process.exit(0);
}

const quick = opts.quick;
const RUNS = Number(opts.runs ?? (quick ? 1 : 3));
const SECONDS = Number(opts.seconds ?? (quick ? 3 : 4));
const WARMUP = Number(opts.warmup ?? (quick ? 1 : 2));
const full = !quick && opts.scenarios === undefined && opts.contenders === undefined;
const SOAK = Number(opts.soak ?? (full ? 60 : 0));
const LATENCY = full || opts.latency;

// ── Machine, cores, tools ───────────────────────────────────────────────────────────────────
const cores = cpus().length;
const pin = cores >= 2 && hasTaskset();
/** Server under test alone on the last core; load generator + backend on core 0. */
const SERVER_CORE = pin ? String(cores - 1) : undefined;
const LOAD_CORE = pin ? '0' : undefined;
const nginx = nginxBinary();
const wrk = wrkVersion();
const tool = opts.tool ?? (wrk ? 'wrk' : 'autocannon');
if (tool === 'wrk' && !wrk) {
  console.error('bench: --tool wrk asked for, but wrk is not installed (apt-get install wrk)');
  process.exit(2);
}

// ── Scenarios ───────────────────────────────────────────────────────────────────────────────
const ORIGIN = CORS.origin;
const POST_BODY = JSON.stringify({ items: Array.from({ length: 15 }, (_, i) => ({ id: i, name: `item-${i}`, qty: i * 3 })), note: '' });
const KIB_BODY = POST_BODY.slice(0, -2) + 'x'.repeat(1024 - POST_BODY.length) + '"}';

const SCENARIOS = [
  {
    id: 'preflight', n: '1', title: 'CORS preflight answered by the gateway', folder: 'main', routes: 'api', connections: 64,
    request: { method: 'OPTIONS', path: '/api/items/42', headers: { Origin: ORIGIN, 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'content-type' } },
    check: (r) => r.status >= 200 && r.status < 300 && r.headers['access-control-allow-origin'] === ORIGIN && /GET/.test(r.headers['access-control-allow-methods'] ?? ''),
  },
  {
    id: 'get', n: '2', title: 'GET with Origin proxied, CORS headers added', folder: 'main', routes: 'api', connections: 64,
    request: { method: 'GET', path: '/api/items/42', headers: { Origin: ORIGIN } },
    check: (r, c) => r.status === 200 && r.body.includes('"widget"') && (c === 'direct' || r.headers['access-control-allow-origin'] === ORIGIN),
  },
  {
    id: 'post', n: '3', title: 'POST with a 1 KiB JSON body', folder: 'main', routes: 'api', connections: 64,
    request: { method: 'POST', path: '/api/items', body: KIB_BODY, headers: { Origin: ORIGIN, 'Content-Type': 'application/json' } },
    check: (r, c) => r.status === 200 && r.body === '{"ok":true,"bytes":1024}' && (c === 'direct' || r.headers['access-control-allow-origin'] === ORIGIN),
  },
  {
    id: 'jsonp', n: '4', title: 'JSONP-wrapped response', folder: 'main', routes: 'api', connections: 64,
    request: { method: 'GET', path: '/api/jsonp/items/42?cb=render', headers: { Origin: ORIGIN } },
    check: (r, c) => r.status === 200 && (c === 'direct' ? r.body.startsWith('{') : r.body.startsWith('render({') && r.body.endsWith(');')),
  },
  {
    id: 'route-1', n: '5a', title: 'Routing: 1 API × 1 operation', folder: 'one', routes: 'one', connections: 64,
    request: { method: 'GET', path: SCALE_PATH, headers: { Origin: ORIGIN } },
    check: (r) => r.status === 200 && r.headers['access-control-allow-origin'] === ORIGIN,
  },
  {
    id: 'route-4000', n: '5b', title: 'Routing: 200 APIs × 20 operations, <base/> chains', folder: 'scale', routes: 'scale', connections: 64,
    request: { method: 'GET', path: SCALE_PATH, headers: { Origin: ORIGIN } },
    check: (r) => r.status === 200 && r.headers['access-control-allow-origin'] === ORIGIN,
  },
  {
    id: 'big', n: '6', title: '1 MiB response streamed', folder: 'main', routes: 'api', connections: 16,
    request: { method: 'GET', path: '/api/big', headers: { Origin: ORIGIN } },
    check: (r, c) => r.status === 200 && r.bytes === 1024 * 1024 && (c === 'direct' || r.headers['access-control-allow-origin'] === ORIGIN),
  },
];

// ── Contenders ──────────────────────────────────────────────────────────────────────────────
const node = process.execPath;
const CONTENDERS = [
  {
    id: 'direct', label: 'backend directly',
    skip: (s) => (s.id === 'preflight' ? 'the backend does not answer preflights; the limit for proxied calls only' : s.id.startsWith('route') ? 'routes nothing: its figure is scenario 2' : null),
    start: () => startServer({ command: node, args: [join(ROOT, 'bench/servers/backend.mjs'), '--port', '0'], cores: SERVER_CORE }),
  },
  {
    id: 'node-limit', label: 'Node limit (node:http + undici)',
    skip: (s) => (s.id === 'route-4000' ? 'routes nothing: its figure is 5a' : null),
    start: (_s, backend) => startServer({ command: node, args: [join(ROOT, 'bench/servers/node-limit.mjs'), '--port', '0', '--backend', backend], cores: SERVER_CORE }),
  },
  {
    id: 'gatehouse', label: 'gatehouse',
    skip: () => null,
    start: (s) => startGatehouse(s, 1, SERVER_CORE),
  },
  {
    id: 'fastify', label: 'fastify + @fastify/cors + @fastify/http-proxy',
    skip: () => null,
    start: (s, backend) => startServer({ command: node, args: [join(ROOT, 'bench/servers/fastify.mjs'), '--port', '0', '--backend', backend, '--routes', s.routes], cores: SERVER_CORE }),
  },
  {
    id: 'express', label: 'express + cors + http-proxy-middleware',
    skip: () => null,
    start: (s, backend) => startServer({ command: node, args: [join(ROOT, 'bench/servers/express.mjs'), '--port', '0', '--backend', backend, '--routes', s.routes], cores: SERVER_CORE }),
  },
  {
    id: 'nginx', label: `nginx ${nginx?.version ?? ''}`.trim(),
    skip: (s) => (!nginx ? 'nginx is not installed (apt-get install nginx-light)' : s.id === 'jsonp' ? 'nginx has no JSONP wrapping without extra modules' : null),
    start: async (s, backend) => {
      const port = await freePort();
      const dir = join(OUT, 'nginx', s.id);
      const conf = writeNginxConfig(dir, { port, backendPort: new URL(backend).port, routes: s.routes });
      return startServer({ command: nginx.bin, args: ['-p', dir, '-e', join(dir, 'error.log'), '-c', conf, '-g', 'daemon off;'], cores: SERVER_CORE, waitPort: port });
    },
  },
  // Before/after: GATEHOUSE_BEFORE=DIR names another checkout with a built dist/ (e.g. the commit
  // before an optimisation), measured in the same run, interleaved with the current one.
  {
    id: 'gatehouse-before', label: `gatehouse before (${process.env.GATEHOUSE_BEFORE_LABEL ?? process.env.GATEHOUSE_BEFORE ?? ''})`, group: 'before',
    skip: () => null,
    start: (s) => startGatehouse(s, 1, SERVER_CORE, process.env.GATEHOUSE_BEFORE),
    enabled: () => process.env.GATEHOUSE_BEFORE !== undefined,
  },
  // Routing at scale against 1 API in the same scenario, interleaved, so the comparison does not
  // depend on what else the machine did between two scenarios: this one serves the 1 × 1 folder.
  {
    id: 'gatehouse-1api', label: 'gatehouse serving the 1 API × 1 operation folder (5a), same path', group: 'routing',
    skip: (s) => (s.id === 'route-4000' ? null : 'only next to 5b'),
    start: (s) => startGatehouse({ ...s, folder: 'one' }, 1, SERVER_CORE),
  },
  // The --workers figures: both cores, nothing pinned (load generator and backend share them).
  {
    id: 'gatehouse-w1', label: 'gatehouse, 1 process, unpinned', group: 'workers',
    skip: (s) => (s.id === 'preflight' || s.id === 'get' ? null : 'worker figures are taken for scenarios 1 and 2'),
    start: (s) => startGatehouse(s, 1, undefined),
    unpinned: true,
  },
  {
    id: 'gatehouse-w2', label: 'gatehouse --workers 2, unpinned', group: 'workers',
    skip: (s) => (s.id === 'preflight' || s.id === 'get' ? null : 'worker figures are taken for scenarios 1 and 2'),
    start: (s) => startGatehouse(s, 2, undefined),
    unpinned: true,
  },
];

let folders;
async function startGatehouse(scenario, workers, coresList, root = ROOT) {
  const port = await freePort();
  const args = [];
  if (opts.profile && workers === 1) args.push('--cpu-prof', '--cpu-prof-dir', join(OUT, 'profiles'), '--cpu-prof-name', `gatehouse-${scenario.id}-${Date.now()}.cpuprofile`);
  args.push(join(root, 'bin/gatehouse.js'), 'start', '--config', folders[scenario.folder], '--host', '127.0.0.1', '--port', String(port), '--workers', String(workers));
  return startServer({ command: node, args, cores: coresList, env: { NODE_ENV: 'production', GATEHOUSE_LOG_LEVEL: 'warn' }, waitPort: port, timeoutMs: 120_000 });
}

// ── Helpers ─────────────────────────────────────────────────────────────────────────────────
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** One request with node's fetch, to check the contender answers correctly before it is measured. */
async function probe(port, request) {
  const res = await undiciRequest(`http://127.0.0.1:${port}${request.path}`, { method: request.method, headers: request.headers, body: request.body, headersTimeout: 10_000, bodyTimeout: 10_000 });
  const buf = Buffer.from(await res.body.arrayBuffer());
  return { status: res.statusCode, headers: res.headers, body: buf.length < 65536 ? buf.toString('utf8') : '', bytes: buf.length };
}

function ensureBuilt() {
  if (opts['no-build']) return;
  const newest = (dir) => {
    let t = 0;
    for (const name of readdirSync(dir)) {
      const full = join(dir, name);
      const st = statSync(full);
      t = Math.max(t, st.isDirectory() ? newest(full) : name.endsWith('.ts') && !name.endsWith('.test.ts') ? st.mtimeMs : 0);
    }
    return t;
  };
  const built = join(ROOT, 'dist/cli.js');
  if (existsSync(built) && statSync(built).mtimeMs >= newest(join(ROOT, 'src'))) return;
  console.log('bench: building dist/ (npm run build) — the bench measures the compiled gateway');
  const r = spawnSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error('bench: the build failed');
    process.exit(1);
  }
}

function versions() {
  const pkg = (name) => {
    try {
      return JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')).version;
    } catch {
      return 'not installed';
    }
  };
  const git = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).stdout.trim();
  const dirty = spawnSync('git', ['status', '--porcelain', '--', 'src'], { cwd: ROOT, encoding: 'utf8' }).stdout.trim() !== '';
  return {
    gatehouse: `${JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version} (${git}${dirty ? ' + uncommitted src changes' : ''})`,
    node: process.version,
    undici: pkg('undici'),
    fastify: pkg('fastify'),
    '@fastify/cors': pkg('@fastify/cors'),
    '@fastify/http-proxy': pkg('@fastify/http-proxy'),
    express: pkg('express'),
    cors: pkg('cors'),
    'http-proxy-middleware': pkg('http-proxy-middleware'),
    autocannon: pkg('autocannon'),
    wrk: wrk ?? 'not installed',
    nginx: nginx?.version ?? 'not installed',
  };
}

function machine() {
  const cpu = cpus()[0]?.model ?? 'unknown';
  let os = release();
  try {
    os = `${/PRETTY_NAME="([^"]+)"/.exec(readFileSync('/etc/os-release', 'utf8'))?.[1] ?? ''}, kernel ${release()}`;
  } catch {
    // not Linux
  }
  return { cpu, cores, memoryGiB: Math.round(totalmem() / 2 ** 30), os, pinning: pin ? `server under test on core ${SERVER_CORE}; load generator and backend on core ${LOAD_CORE} (taskset)` : 'none (one core or no taskset)' };
}

// ── Measuring ───────────────────────────────────────────────────────────────────────────────
/**
 * Measures every contender in one scenario. All of them are started, checked and warmed up first;
 * then run i of every contender, then run i + 1 …: a burst of load from elsewhere on a shared
 * machine is spread over the contenders instead of landing on one contender's three runs.
 * Idle servers wait on the same core and cost nothing.
 */
async function measureScenario(scenario, contenders, backendUrl, log) {
  const out = {};
  const live = [];
  try {
    for (const contender of contenders) {
      const why = contender.skip(scenario);
      if (why) {
        out[contender.id] = { skipped: why };
        continue;
      }
      let server;
      try {
        server = await contender.start(scenario, backendUrl);
      } catch (err) {
        out[contender.id] = { skipped: `failed to start: ${String(err.message).split('\n')[0]}` };
        continue;
      }
      let checked;
      try {
        checked = await probe(server.port, scenario.request);
      } catch (err) {
        checked = { status: 0, error: err.message };
      }
      if (!scenario.check(checked, contender.id)) {
        log.write(`${contender.id} ${scenario.id}: wrong answer ${JSON.stringify(checked).slice(0, 600)}\n`);
        out[contender.id] = { skipped: `answered wrongly (status ${checked.status}); see .bench-out/bench.log` };
        await stop(server.child);
        continue;
      }
      const url = `http://127.0.0.1:${server.port}${scenario.request.path}`;
      const base = { tool, url, request: scenario.request, connections: scenario.connections, cores: contender.unpinned ? undefined : LOAD_CORE, dir: OUT, name: scenario.id };
      live.push({ contender, server, base, runs: [] });
    }
    for (const l of live) await generateLoad({ ...l.base, seconds: WARMUP });
    for (let i = 0; i < RUNS; i++) {
      for (const l of live) {
        const cpu0 = cpuSeconds(processTree(l.server.child.pid));
        const result = await generateLoad({ ...l.base, seconds: SECONDS });
        const cpu = cpuSeconds(processTree(l.server.child.pid)) - cpu0;
        l.runs.push({ ...result, cpuUsPerReq: result.requests > 0 ? (cpu * 1e6) / result.requests : NaN, cpuSeconds: cpu });
      }
    }
    for (const l of live) {
      const m = (k) => median(l.runs.map((r) => r[k]));
      out[l.contender.id] = {
        rps: m('rps'),
        cpuUsPerReq: m('cpuUsPerReq'),
        p50Ms: m('p50Ms'),
        p99Ms: m('p99Ms'),
        errors: l.runs.reduce((a, r) => a + r.errors + r.non2xx, 0),
        requests: l.runs.reduce((a, r) => a + r.requests, 0),
        peakRssMiB: memory(processTree(l.server.child.pid), 'VmHWM') / 2 ** 20,
        runs: l.runs,
      };
    }
  } finally {
    for (const l of live) await stop(l.server.child);
  }
  return out;
}

/** p99 at the same fixed rate for every contender (bench/lib/rate.mjs: open loop, latency from when each request was due). */
async function latencyAtRate(scenario, contender, backendUrl, rate) {
  if (contender.skip(scenario)) return null;
  const server = await contender.start(scenario, backendUrl).catch(() => null);
  if (server === null) return null;
  try {
    const url = `http://127.0.0.1:${server.port}${scenario.request.path}`;
    const base = { tool, url, request: scenario.request, connections: 16, cores: LOAD_CORE, dir: OUT, name: `${scenario.id}-rate` };
    await generateLoad({ ...base, seconds: WARMUP, rate });
    // p99 moves most from run to run on a shared machine: the median of RUNS runs, like the rest.
    const runs = [];
    for (let i = 0; i < RUNS; i++) runs.push(await generateLoad({ ...base, seconds: SECONDS, rate }));
    const m = (k) => median(runs.map((r) => r[k]));
    return { rate, rps: m('rps'), p50Ms: m('p50Ms'), p99Ms: m('p99Ms'), p99sMs: runs.map((r) => r.p99Ms), errors: runs.reduce((a, r) => a + r.errors + r.non2xx, 0) };
  } finally {
    await stop(server.child);
  }
}

/**
 * Streaming check: one 256 MiB response through gatehouse, read slowly, while its RSS is sampled
 * every 20 ms. A gateway that held the body whole would grow by ≥ 256 MiB; one that streams grows
 * by what the garbage collector has not reclaimed yet (the Node limit shows the same).
 */
async function streamingCheck(contender, backendUrl) {
  const server = await contender.start(SCENARIOS.find((x) => x.id === 'big'), backendUrl);
  try {
    const url = `http://127.0.0.1:${server.port}/api/huge`;
    await probe(server.port, { method: 'GET', path: '/api/big', headers: {} });
    const rss = () => memory(processTree(server.child.pid)) / 2 ** 20;
    const before = rss();
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, rss())), 20);
    let bytes = 0;
    const res = await undiciRequest(url, { headersTimeout: 10_000, bodyTimeout: 10_000 });
    let next = 1 << 20;
    for await (const chunk of res.body) {
      bytes += chunk.length;
      // A slow reader: a pause every MiB lets a buffering gateway pile the body up in memory.
      if (bytes >= next) {
        next += 1 << 20;
        await new Promise((r) => setTimeout(r, 5));
      }
    }
    clearInterval(sampler);
    peak = Math.max(peak, rss());
    return { bytes, status: res.statusCode, rssBeforeMiB: before, rssPeakMiB: peak, growthMiB: peak - before };
  } finally {
    await stop(server.child);
  }
}

/** Gatehouse under scenario 2 for SOAK seconds: RSS every second. */
async function soak(scenario, backendUrl, seconds) {
  const server = await startGatehouse(scenario, 1, SERVER_CORE);
  try {
    const url = `http://127.0.0.1:${server.port}${scenario.request.path}`;
    const samples = [];
    const sampler = setInterval(() => samples.push(memory(processTree(server.child.pid)) / 2 ** 20), 1000);
    const r = await generateLoad({ tool, url, request: scenario.request, connections: scenario.connections, seconds, cores: LOAD_CORE, dir: OUT, name: 'soak' });
    clearInterval(sampler);
    return { seconds, requests: r.requests, rps: r.rps, samples };
  } finally {
    await stop(server.child);
  }
}

// ── Main ────────────────────────────────────────────────────────────────────────────────────
async function main() {
  const started = Date.now();
  mkdirSync(OUT, { recursive: true });
  ensureBuilt();
  const log = createWriteStream(join(OUT, 'bench.log'));

  let scenarios = SCENARIOS;
  let contenders = CONTENDERS.filter((c) => c.enabled === undefined || c.enabled());
  if (quick) {
    scenarios = SCENARIOS.filter((s) => s.id === 'preflight' || s.id === 'get');
    contenders = contenders.filter((c) => ['node-limit', 'gatehouse', 'fastify'].includes(c.id));
  }
  if (opts.scenarios) {
    const want = opts.scenarios.split(',');
    scenarios = SCENARIOS.filter((s) => want.includes(s.id) || want.includes(s.n));
  }
  if (opts.contenders) {
    const want = opts.contenders.split(',');
    contenders = contenders.filter((c) => want.includes(c.id));
  }

  console.log(`bench: ${tool} (${tool === 'wrk' ? wrk : 'npm'}), ${RUNS} run(s) × ${SECONDS}s after ${WARMUP}s warm-up; ${pin ? `server on core ${SERVER_CORE}, load + backend on core ${LOAD_CORE}` : 'no pinning'}`);
  if (!nginx) console.log('bench: nginx is not installed — skipped (apt-get install nginx-light to include the C reference)');
  if (!wrk) console.log('bench: wrk is not installed — using autocannon (apt-get install wrk for a cheaper load generator)');

  const backend = await startServer({ command: node, args: [join(ROOT, 'bench/servers/backend.mjs'), '--port', '0'], cores: LOAD_CORE });
  const backendUrl = `http://127.0.0.1:${backend.port}`;
  const results = {};
  const latency = {};
  let soakResult = null;
  let streaming = null;
  try {
    folders = { main: join(OUT, 'apiops-main'), one: join(OUT, 'apiops-route-1'), scale: join(OUT, 'apiops-route-4000') };
    writeMainFolder(folders.main, backendUrl);
    writeScaleFolder(folders.one, backendUrl, 1, 1);
    writeScaleFolder(folders.scale, backendUrl, 200, 20);

    // --latency-only FILE: only the fixed-rate pass, at the rates of the saved run FILE, written into it.
    const into = opts['latency-only'] ? JSON.parse(readFileSync(opts['latency-only'], 'utf8')) : null;
    for (const s of into ? [] : scenarios) {
      results[s.id] = await measureScenario(s, contenders, backendUrl, log);
      for (const c of contenders) {
        const r = results[s.id][c.id];
        if (r.skipped) {
          if (!c.skip(s)) console.log(`  ${s.n} ${s.id.padEnd(10)} ${c.id.padEnd(13)} skipped: ${r.skipped}`);
        } else {
          console.log(`  ${s.n} ${s.id.padEnd(10)} ${c.id.padEnd(13)} ${r.rps.toFixed(0).padStart(7)} req/s  ${r.cpuUsPerReq.toFixed(1).padStart(6)} µs CPU/req  p50 ${r.p50Ms.toFixed(2)} ms  p99 ${r.p99Ms.toFixed(2)} ms  errors ${r.errors}  peak RSS ${r.peakRssMiB.toFixed(0)} MiB`);
        }
      }
    }

    // p99 at the same load: one fixed rate for every contender.
    if (LATENCY || into) {
      for (const id of ['preflight', 'get']) {
        const s = scenarios.find((x) => x.id === id);
        const limit = (into ?? { results })?.results[id]?.['node-limit'];
        if (!s || !limit || limit.skipped) continue;
        // 20 % of the Node limit's closed-loop rate, at most 5,000 req/s: a load every contender
        // sustains, and one the Node-based fixed-rate generator (on the load core) keeps up with.
        const rate = Math.max(500, Math.min(5000, Math.round((limit.rps * 0.2) / 500) * 500));
        latency[id] = {};
        for (const c of contenders) {
          if (c.group === 'workers' || c.id === 'direct') continue;
          const r = await latencyAtRate(s, c, backendUrl, rate);
          if (r) {
            latency[id][c.id] = r;
            console.log(`  ${s.n} ${id.padEnd(10)} ${c.id.padEnd(13)} at ${rate} req/s: p50 ${r.p50Ms.toFixed(2)} ms  p99 ${r.p99Ms.toFixed(2)} ms  errors ${r.errors}`);
          }
        }
      }
    }

    if (into) {
      into.latency = latency;
      into.latencyNote = `fixed-rate pass re-run on ${new Date().toISOString()} (bench --latency-only)`;
      writeFileSync(opts['latency-only'], JSON.stringify(into, null, 2));
      console.log(`bench: latency written into ${opts['latency-only']}; rewrite the page with --report`);
      return;
    }
    if ((full || scenarios.some((s) => s.id === 'big')) && contenders.some((c) => c.id === 'gatehouse')) {
      streaming = await streamingCheck(CONTENDERS.find((c) => c.id === (process.env.BENCH_STREAM_CONTENDER ?? 'gatehouse')), backendUrl);
      console.log(`  streaming: ${(streaming.bytes / 2 ** 20).toFixed(0)} MiB through gatehouse, RSS ${streaming.rssBeforeMiB.toFixed(0)} → peak ${streaming.rssPeakMiB.toFixed(0)} MiB (+${streaming.growthMiB.toFixed(1)})`);
    }

    if (SOAK > 0 && contenders.some((c) => c.id === 'gatehouse')) {
      soakResult = await soak(SCENARIOS[1], backendUrl, SOAK);
      const s = soakResult.samples;
      console.log(`  soak: ${SOAK}s of scenario 2, ${soakResult.rps.toFixed(0)} req/s, RSS ${s[0]?.toFixed(0)} → ${s[s.length - 1]?.toFixed(0)} MiB (max ${Math.max(...s).toFixed(0)})`);
    }
  } finally {
    await stop(backend.child);
    log.end();
  }

  const data = {
    date: new Date().toISOString(),
    minutes: (Date.now() - started) / 60000,
    mode: quick ? 'quick' : full ? 'full' : 'partial',
    settings: { tool, runs: RUNS, seconds: SECONDS, warmup: WARMUP, connections: Object.fromEntries(scenarios.map((s) => [s.id, s.connections])) },
    machine: machine(),
    versions: versions(),
    scenarios: scenarios.map(({ id, n, title, request }) => ({ id, n, title, method: request.method, path: request.path })),
    contenders: contenders.map(({ id, label, group }) => ({ id, label, group: group ?? 'main' })),
    results,
    latency,
    soak: soakResult,
    streaming,
  };
  writeFileSync(join(OUT, `results-${data.mode}.json`), JSON.stringify(data, null, 2));
  const written = writeReport(data, { root: ROOT, full });
  console.log(`bench: done in ${data.minutes.toFixed(1)} min; wrote ${written.join(', ')}`);
}

// Ctrl-C or a kill: stop every server this run started before leaving.
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    killAll();
    process.exit(130);
  });
}
await main();
