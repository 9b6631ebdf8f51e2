/**
 * `gatehouse start --workers N`: N node:cluster workers serve one listening socket.
 *
 * The primary loads and compiles the folder once to refuse a broken one (every diagnostic, once)
 * and to print the banner; it never serves. Each worker loads the same folder itself (a compiled
 * snapshot holds closures and cannot cross processes) and listens on the same address: node:cluster
 * hands the one socket the primary opened to every worker, and the primary distributes connections
 * round-robin. `--port 0` works too: every worker's first listen(0) maps to the same shared handle,
 * so they all get the one port the primary's handle was given, and the first worker reports it.
 *
 * Shutdown (SIGINT/SIGTERM to the primary): each worker is asked to stop accepting, finishes the
 * requests in flight, closes its backend pool and exits; a worker still busy after
 * `SHUTDOWN_GRACE_MS` is killed. A worker that dies while serving is replaced, unless workers keep
 * dying right after they start (then the primary gives up and exits 1).
 */
import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { displayDiagnostics, type CliIo } from './cli.ts';
import { loadGatewayConfig } from './gateway.ts';
import { ConfigError } from './policy/diagnostics.ts';
import { generatedKeyLines } from './subscriptions/banner.ts';
import { generateDevKey } from './subscriptions/keys.ts';

/** What `gatehouse start --workers N` was given (the built-in demo always runs in one process). */
export interface ClusterOptions {
  readonly configDir: string;
  readonly overlayFile?: string | undefined;
  readonly port?: number | undefined;
  readonly host?: string | undefined;
  readonly workers: number;
}

/** What the primary tells each worker, as JSON in GATEHOUSE_WORKER_OPTIONS. */
export interface WorkerOptions {
  readonly configDir: string;
  readonly overlayFile?: string | undefined;
  readonly port?: number | undefined;
  readonly host?: string | undefined;
  /** Keys the primary generated for subscriptions without one, in generation order. */
  readonly generatedKeys: readonly string[];
}

/** Messages between primary and workers. */
export type WorkerMessage =
  | { readonly type: 'gatehouse:ready'; readonly url: string }
  | { readonly type: 'gatehouse:failed'; readonly code: string; readonly message: string };
export const SHUTDOWN_MESSAGE = 'gatehouse:shutdown';

export const WORKER_OPTIONS_ENV = 'GATEHOUSE_WORKER_OPTIONS';
/** How long a worker may take to finish its requests on shutdown before it is killed. */
export const SHUTDOWN_GRACE_MS = 10_000;
/** Workers dying within this long after they started count towards giving up. */
const EARLY_DEATH_MS = 5_000;
const MAX_EARLY_DEATHS = 3;

/** Default worker count: one per core in production (NODE_ENV=production), else 1. */
export function defaultWorkers(env: NodeJS.ProcessEnv = process.env): number {
  return env.NODE_ENV === 'production' ? availableParallelism() : 1;
}

/** The worker entry module next to this one (src/*.ts under tsx, dist/*.js when built). */
function workerEntry(): { exec: string; execArgv: string[] } {
  const fromSource = import.meta.url.endsWith('.ts');
  const exec = fileURLToPath(new URL(fromSource ? './cluster-worker.ts' : './cluster-worker.js', import.meta.url));
  // Keep the loader flags (tsx) and profiling flags; drop anything that evaluates code.
  const execArgv: string[] = [];
  const argv = process.execArgv;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string;
    if (a === '--import' || a === '--require' || a === '-r' || a === '--loader') {
      execArgv.push(a, argv[i + 1] ?? '');
      i++;
    } else if (a.startsWith('--import=') || a.startsWith('--require=') || a.startsWith('--loader=') || a.startsWith('--max-old-space-size') || a === '--enable-source-maps') {
      execArgv.push(a);
    }
  }
  if (fromSource && !execArgv.some((a) => a.includes('tsx'))) execArgv.push('--import', 'tsx');
  return { exec, execArgv };
}

/**
 * Runs the primary until SIGINT/SIGTERM. Returns the exit code; throws ConfigError (every
 * diagnostic) for a broken folder and the worker's listen error (EADDRINUSE …) when a worker cannot serve.
 */
export async function startCluster(io: CliIo, options: ClusterOptions): Promise<number> {
  // Refuse a broken folder before forking anything, so its diagnostics are printed once. Keys the
  // primary generates for subscriptions without one are recorded and handed to every worker in
  // the same order, so all workers accept the keys the banner prints.
  const generatedKeys: string[] = [];
  const generateKey = (): string => {
    const key = generateDevKey();
    generatedKeys.push(key);
    return key;
  };
  const loaded = await loadGatewayConfig({ configDir: options.configDir, overlayFile: options.overlayFile, generateKey });
  if (loaded.config === undefined || loaded.compiled === undefined || loaded.subscriptions === undefined || loaded.diagnostics.some((d) => d.severity === 'error')) {
    throw new ConfigError(loaded.diagnostics);
  }

  const workerOptions: WorkerOptions = { configDir: options.configDir, overlayFile: options.overlayFile, port: options.port, host: options.host, generatedKeys };
  const { exec, execArgv } = workerEntry();
  cluster.setupPrimary({ exec, execArgv, args: [] });
  const live = (): Worker[] => Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);

  let stopping = false;
  let earlyDeaths = 0;
  let onGiveUp: (why: string) => void = () => {};
  const fork = (): Worker => {
    const worker = cluster.fork({ [WORKER_OPTIONS_ENV]: JSON.stringify(workerOptions) });
    const bornAt = Date.now();
    worker.once('exit', (code, signal) => {
      if (stopping) return;
      if (Date.now() - bornAt < EARLY_DEATH_MS && ++earlyDeaths >= MAX_EARLY_DEATHS) {
        onGiveUp(`workers keep exiting right after they start (last: ${signal ?? code})`);
        return;
      }
      io.err(`gatehouse: worker ${worker.process.pid} exited (${signal ?? code}); starting another`);
      fork();
    });
    return worker;
  };

  // Start every worker and wait until each listens (or one fails).
  let url: string;
  try {
    url = await new Promise<string>((resolve, reject) => {
      let ready = 0;
      let first: string | null = null;
      onGiveUp = (why) => reject(new Error(why));
      for (let i = 0; i < options.workers; i++) {
        fork().on('message', (message: WorkerMessage) => {
          if (message.type === 'gatehouse:failed') {
            const err = new Error(message.message) as NodeJS.ErrnoException;
            err.code = message.code;
            reject(err);
          } else if (message.type === 'gatehouse:ready') {
            first ??= message.url;
            if (++ready === options.workers) resolve(first);
          }
        });
      }
    });
  } catch (err) {
    stopping = true;
    await stopWorkers(live());
    throw err;
  }

  const { config, compiled, subscriptions, diagnostics } = loaded;
  for (const line of displayDiagnostics(diagnostics.filter((d) => d.severity === 'warning'), options.configDir)) io.err(line);
  io.out(`gatehouse: serving ${config.apis.length} API(s) from ${config.root} on ${url}`);
  for (const api of compiled.apis) {
    const ops = api.operations.map((o) => `${o.runtime.method} ${o.runtime.urlTemplate}`).join(', ');
    io.out(`  /${api.loaded.path}${api.loaded.isCurrent ? '' : `;rev=${api.loaded.revision}`}  (${api.loaded.name})  ${ops}`);
  }
  io.out(`  cors terminate-unmatched-request default: ${config.overlay.compat.corsTerminateUnmatchedDefault} (compat.corsTerminateUnmatchedDefault)`);
  io.out(`  CORS on gateway errors (gatehouse extension): ${config.overlay.compat.corsOnGatewayErrors ? 'on' : 'off'}`);
  for (const text of generatedKeyLines(subscriptions)) io.out(text);
  io.out(`  workers: ${options.workers} (node:cluster, pids ${live().map((w) => w.process.pid).join(', ')}); the primary only supervises`);

  let exitCode = 0;
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    onGiveUp = (why) => {
      io.err(`gatehouse: ${why}`);
      exitCode = 1;
      resolve();
    };
  });
  stopping = true;
  io.out('gatehouse: shutting down');
  await stopWorkers(live());
  return exitCode;
}

/** Asks every worker to finish and exit; kills those still alive after the grace period. */
function stopWorkers(workers: readonly Worker[]): Promise<void> {
  return Promise.all(
    workers.map(
      (worker) =>
        new Promise<void>((resolve) => {
          if (worker.isDead()) return resolve();
          const timer = setTimeout(() => worker.process.kill('SIGKILL'), SHUTDOWN_GRACE_MS);
          worker.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
          if (worker.isConnected()) worker.send(SHUTDOWN_MESSAGE);
          else worker.process.kill('SIGTERM');
        }),
    ),
  ).then(() => undefined);
}
