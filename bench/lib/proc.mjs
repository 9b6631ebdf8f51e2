// Process helpers for the bench: start a server (optionally pinned with taskset), wait for its
// LISTENING line, read CPU time and peak RSS of its whole process tree from /proc, stop it.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';

/** Servers started and not yet exited, so an interrupted bench can stop them all. */
const running = new Set();

/** SIGKILLs every server still running (the bench was interrupted). */
export function killAll() {
  for (const child of running) child.kill('SIGKILL');
}

const TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** `taskset -c CORES` prefix when taskset exists and a core list is given. */
export function pinned(cores, command, args) {
  if (cores === undefined || !hasTaskset()) return [command, args];
  return ['taskset', ['-c', cores, command, ...args]];
}

let tasksetPresent;
export function hasTaskset() {
  tasksetPresent ??= spawnSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' }).status === 0;
  return tasksetPresent;
}

/** A free loopback port (for servers that cannot report the port they bound, like nginx). */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/**
 * Spawns a server and resolves { child, port } once it printed `LISTENING <port>` (or, with
 * `waitPort`, once that port accepts connections). Rejects after `timeoutMs` or when it exits.
 */
export function startServer({ command, args, cores, env, cwd, waitPort, timeoutMs = 60_000, log }) {
  const [cmd, argv] = pinned(cores, command, args);
  const child = spawn(cmd, argv, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  child.once('exit', () => running.delete(child));
  let output = '';
  const keep = (chunk) => {
    output += chunk;
    if (output.length > 20_000) output = output.slice(-20_000);
    log?.write(chunk);
  };
  child.stderr.on('data', keep);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`did not start within ${timeoutMs} ms`)), timeoutMs);
    const fail = (err) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`${command} ${args.join(' ')}: ${err.message}\n${output.slice(-2000)}`));
    };
    child.once('exit', (code, signal) => fail(new Error(`exited early (${code ?? signal})`)));
    const done = (port) => {
      clearTimeout(timer);
      child.removeAllListeners('exit');
      resolve({ child, port, output: () => output });
    };
    child.stdout.on('data', (chunk) => {
      keep(chunk);
      const m = /LISTENING (\d+)/.exec(output) ?? /serving .* on http:\/\/127\.0\.0\.1:(\d+)/.exec(output);
      if (m && waitPort === undefined) done(Number(m[1]));
    });
    if (waitPort !== undefined) {
      const deadline = Date.now() + timeoutMs;
      const poll = () => {
        probe(waitPort).then((ok) => {
          if (ok) done(waitPort);
          else if (Date.now() < deadline && child.exitCode === null) setTimeout(poll, 50);
        });
      };
      poll();
    }
  });
}

function probe(port) {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** Stops a child: SIGTERM, then SIGKILL after `graceMs`. Resolves when it has exited. */
export function stop(child, graceMs = 3000) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** pid and every descendant (taskset execs, so the pid is the server's own). */
export function processTree(pid) {
  const children = new Map();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readStat(Number(name));
    if (stat === null) continue;
    if (!children.has(stat.ppid)) children.set(stat.ppid, []);
    children.get(stat.ppid).push(Number(name));
  }
  const out = [];
  const walk = (p) => {
    out.push(p);
    for (const c of children.get(p) ?? []) walk(c);
  };
  walk(pid);
  return out;
}

function readStat(pid) {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command (which may contain spaces) start after the last ')'.
    const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { ppid: Number(rest[1]), utime: Number(rest[11]), stime: Number(rest[12]) };
  } catch {
    return null;
  }
}

/** CPU seconds (user + system) used so far by the process tree. */
export function cpuSeconds(pids) {
  let ticks = 0;
  for (const pid of pids) {
    const s = readStat(pid);
    if (s !== null) ticks += s.utime + s.stime;
  }
  return ticks / TICKS;
}

/** Sum of VmRSS (current) or VmHWM (peak) over the tree, in bytes. */
export function memory(pids, field = 'VmRSS') {
  let kb = 0;
  for (const pid of pids) {
    try {
      const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (m) kb += Number(m[1]);
    } catch {
      // exited
    }
  }
  return kb * 1024;
}

export const procAvailable = existsSync('/proc/self/stat');
