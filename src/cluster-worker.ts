/**
 * Entry module of a `gatehouse start --workers N` worker (see src/cluster.ts). It serves the
 * folder the primary validated, on the address the primary chose (node:cluster shares the socket),
 * reports 'ready' with its URL, and on the primary's shutdown message stops accepting, finishes
 * its requests, closes its backend pool and exits.
 */
import cluster from 'node:cluster';
import { pino } from 'pino';
import { SHUTDOWN_MESSAGE, WORKER_OPTIONS_ENV, type WorkerMessage, type WorkerOptions } from './cluster.ts';
import { createGateway, type Gateway } from './gateway.ts';

function send(message: WorkerMessage): void {
  process.send?.(message);
}

async function runWorker(): Promise<void> {
  if (!cluster.isWorker) throw new Error('cluster-worker runs only as a node:cluster worker');
  const options = JSON.parse(process.env[WORKER_OPTIONS_ENV] ?? '{}') as WorkerOptions;
  const logger = pino({ level: process.env.GATEHOUSE_LOG_LEVEL ?? 'info' }).child({ worker: cluster.worker?.id });
  let gateway: Gateway;
  try {
    // The primary's generated subscription keys, replayed in order: every worker accepts the same keys.
    let next = 0;
    const generateKey = (): string => {
      const key = options.generatedKeys[next++];
      if (key === undefined) throw new Error('the worker generated more subscription keys than the primary');
      return key;
    };
    gateway = await createGateway({ configDir: options.configDir, overlayFile: options.overlayFile, port: options.port, host: options.host, logger, generateKey });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    send({ type: 'gatehouse:failed', code: e.code ?? 'GH_INTERNAL', message: e.message });
    process.exitCode = 1;
    process.disconnect?.();
    return;
  }
  let closing: Promise<void> | null = null;
  const stop = (): void => {
    closing ??= gateway.close().finally(() => {
      // disconnect() lets the process end once the IPC channel is gone.
      if (process.connected) process.disconnect();
    });
  };
  process.on('message', (message) => {
    if (message === SHUTDOWN_MESSAGE) stop();
  });
  // The primary went away (killed): stop serving rather than linger.
  process.once('disconnect', stop);
  // Ctrl-C reaches the whole process group; the primary coordinates, the worker just finishes.
  process.on('SIGINT', () => {});
  process.once('SIGTERM', stop);
  send({ type: 'gatehouse:ready', url: gateway.url });
}

await runWorker();
