import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { displayDiagnostics, type CliIo } from './cli.ts';
import { startDemoBackend, type DemoBackend } from './demo/backends.ts';
import { startSpaServer, type SpaServer } from './demo/spa-server.ts';
import { createGateway, type Gateway } from './gateway.ts';
import { generatedKeyLines } from './subscriptions/banner.ts';
import { ConfigError } from './policy/diagnostics.ts';

/** Where the built-in demo's APIOps folder is, from src/ or dist/ alike. */
export const DEMO_CONFIG_DIR = fileURLToPath(new URL('../demo/apiops', import.meta.url));

export interface StartOptions {
  readonly configDir?: string | undefined;
  readonly overlayFile?: string | undefined;
  readonly port?: number | undefined;
  readonly host?: string | undefined;
  /** Ports of the demo SPA (app origin) and the second, disallowed origin. */
  readonly demoPorts?: { readonly app: number; readonly other: number };
  /** Resolve once listening instead of waiting for a signal (tests). */
  readonly returnWhenListening?: boolean;
}

export interface Started {
  readonly gateway: Gateway;
  readonly spa: SpaServer | null;
  readonly otherOrigin: SpaServer | null;
  close(): Promise<void>;
}

/**
 * Exit code 1 with the reason for the two expected start failures — a folder with errors (every
 * diagnostic printed) and a taken port; anything else is a bug and is rethrown.
 */
export function reportStartFailure(io: CliIo, err: unknown, configDir: string | undefined): number {
  if (err instanceof ConfigError) {
    for (const line of displayDiagnostics(err.diagnostics, configDir)) io.err(line);
    io.err(`gatehouse: refusing to start: ${err.diagnostics.filter((d) => d.severity === 'error').length} error(s) in ${configDir ?? 'the demo'}`);
    return 1;
  }
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'EADDRINUSE') {
    io.err(`gatehouse: cannot listen: ${e.message}; choose another port with --port`);
    return 1;
  }
  throw err;
}

/** `gatehouse start`: prints what it serves, then runs until SIGINT/SIGTERM. Returns the exit code. */
export async function startGatehouse(io: CliIo, options: StartOptions): Promise<number> {
  let started: Started;
  try {
    started = await startServices(io, options);
  } catch (err) {
    return reportStartFailure(io, err, options.configDir);
  }
  if (options.returnWhenListening) return 0;
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  io.out('gatehouse: shutting down');
  await started.close();
  return 0;
}

/** Starts the gateway (and, without a config folder, the demo's backends and pages). */
export async function startServices(io: CliIo, options: StartOptions): Promise<Started> {
  const demo = options.configDir === undefined;
  const backends: DemoBackend[] = demo ? await Promise.all([startDemoBackend('telemetry'), startDemoBackend('audit')]) : [];
  const logger = pino({ level: process.env.GATEHOUSE_LOG_LEVEL ?? 'info' });
  let gateway: Gateway;
  try {
    gateway = await createGateway({
      configDir: options.configDir ?? DEMO_CONFIG_DIR,
      overlayFile: options.overlayFile,
      port: options.port,
      host: options.host,
      logger,
      serviceUrls: demo ? Object.fromEntries(backends.map((b) => [b.name, b.url])) : undefined,
    });
  } catch (err) {
    await Promise.all(backends.map((b) => b.close()));
    throw err;
  }
  const { config } = gateway.snapshot;
  const browserUrl = gateway.url.replace('127.0.0.1', 'localhost');
  let spa: SpaServer | null = null;
  let other: SpaServer | null = null;
  if (demo) {
    const ports = options.demoPorts ?? { app: 3000, other: 3001 };
    try {
      // The second origin first: the app page embeds it, so it must know its URL (port 0 → ephemeral).
      const policyFile = join(DEMO_CONFIG_DIR, 'apis', 'telemetry', 'policy.xml');
      other = await startSpaServer({ port: ports.other, host: '127.0.0.1', hostname: '127.0.0.1', gatewayUrl: browserUrl, role: 'other', policyFile });
      spa = await startSpaServer({ port: ports.app, host: '127.0.0.1', hostname: 'localhost', gatewayUrl: browserUrl, role: 'app', otherUrl: other.url, policyFile });
    } catch (err) {
      // A taken port (3000/3001) must not leave the gateway and backends running.
      await Promise.all([gateway.close(), other?.close(), ...backends.map((b) => b.close())]);
      throw err;
    }
  }

  const warnings = gateway.snapshot.diagnostics.filter((d) => d.severity === 'warning');
  for (const line of displayDiagnostics(warnings, options.configDir)) io.err(line);
  io.out(`gatehouse: serving ${config.apis.length} API(s) from ${demo ? 'the built-in demo' : config.root} on ${gateway.url}`);
  for (const api of gateway.snapshot.compiled.apis) {
    const ops = api.operations.map((o) => `${o.runtime.method} ${o.runtime.urlTemplate}`).join(', ');
    io.out(`  /${api.loaded.path}${api.loaded.isCurrent ? '' : `;rev=${api.loaded.revision}`}  (${api.loaded.name})  ${ops}`);
  }
  io.out(`  cors terminate-unmatched-request default: ${config.overlay.compat.corsTerminateUnmatchedDefault} (compat.corsTerminateUnmatchedDefault)`);
  io.out(`  CORS on gateway errors (gatehouse extension): ${config.overlay.compat.corsOnGatewayErrors ? 'on' : 'off'}`);
  for (const text of generatedKeyLines(gateway.snapshot.subscriptions)) io.out(text);
  if (spa && other) {
    io.out(`demo SPA: ${spa.url}/  (open it in a browser; the second, disallowed origin is ${other.url})`);
  }
  return {
    gateway,
    spa,
    otherOrigin: other,
    async close() {
      await Promise.all([gateway.close(), spa?.close(), other?.close(), ...backends.map((b) => b.close())]);
    },
  };
}
