// Load generators: Debian's wrk when installed (closed loop, C, cheapest per request), otherwise
// autocannon from npm. Both run as child processes, pinned to the load-generator core when asked,
// and return the same summary: { requests, seconds, rps, p50Ms, p99Ms, errors, non2xx }.
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pinned } from './proc.mjs';

const require = createRequire(import.meta.url);

export function wrkVersion() {
  const r = spawnSync('wrk', ['-v'], { encoding: 'utf8' });
  if (r.error) return null;
  const m = /wrk (\S+)/.exec(`${r.stdout}${r.stderr}`);
  return m ? m[1] : 'unknown';
}

export function autocannonBin() {
  return join(require.resolve('autocannon/package.json'), '..', 'autocannon.js');
}

function lua(s) {
  return JSON.stringify(s); // a JSON string literal is a valid Lua string literal for our ASCII input
}

/** Writes the wrk script for one request shape; its done() prints one WRKJSON line. */
function wrkScript(dir, name, request) {
  const lines = [`wrk.method = ${lua(request.method)}`];
  if (request.body !== undefined) lines.push(`wrk.body = ${lua(request.body)}`);
  for (const [k, v] of Object.entries(request.headers)) lines.push(`wrk.headers[${lua(k)}] = ${lua(v)}`);
  lines.push(`done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRKJSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"p50_us":%d,"p99_us":%d}\\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end`);
  const file = join(dir, `${name}.lua`);
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

function run(command, args, cores, timeoutMs) {
  const [cmd, argv] = pinned(cores, command, args);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    // Bounded: a load generator that hangs is killed.
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`${command} exited ${code}: ${err.slice(-500)}`));
    });
  });
}

/**
 * One closed-loop run: `connections` connections for `seconds`, against url. With `rate`
 * (requests/s over all connections) it is an open-loop run at that fixed rate instead (rate.mjs).
 */
export async function generateLoad({ tool, url, request, connections, seconds, cores, dir, name, rate }) {
  if (rate !== undefined) {
    const rateScript = join(import.meta.dirname ?? new URL('.', import.meta.url).pathname, 'rate.mjs');
    const out = await run(process.execPath, [rateScript, url, request.method, JSON.stringify(request.headers), request.body ?? '', String(rate), String(seconds), String(connections)], cores, (seconds + 30) * 1000);
    return JSON.parse(out.trim().split('\n').pop());
  }
  if (tool === 'wrk') {
    const script = wrkScript(dir, name, request);
    const out = await run('wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, '--timeout', '10s', '-s', script, url], cores, (seconds + 30) * 1000);
    const m = /WRKJSON (\{.*\})/.exec(out);
    if (!m) throw new Error(`wrk printed no summary:\n${out}`);
    const j = JSON.parse(m[1]);
    const secs = j.duration_us / 1e6;
    return {
      requests: j.requests,
      seconds: secs,
      rps: j.requests / secs,
      p50Ms: j.p50_us / 1000,
      p99Ms: j.p99_us / 1000,
      errors: j.connect + j.read + j.write + j.timeout,
      non2xx: j.status,
    };
  }
  const args = [autocannonBin(), '--json', '-c', String(connections), '-d', String(seconds), '-m', request.method, '-t', '10'];
  for (const [k, v] of Object.entries(request.headers)) args.push('-H', `${k}=${v}`);
  if (request.body !== undefined) args.push('-b', request.body);
  args.push(url);
  const out = await run(process.execPath, args, cores, (seconds + 30) * 1000);
  const j = JSON.parse(out.slice(out.indexOf('{')));
  const secs = j.duration;
  const requests = j.requests.total;
  return {
    requests,
    seconds: secs,
    rps: requests / secs,
    p50Ms: j.latency.p50,
    p99Ms: j.latency.p99,
    errors: j.errors + j.timeouts,
    non2xx: j.non2xx,
  };
}
