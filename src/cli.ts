import { isAbsolute, join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import type { ClusterOptions } from './cluster.ts';
import { formatDiagnostic, type Diagnostic } from './policy/diagnostics.ts';

/**
 * The `gatehouse` command line. `main` returns the exit code; `start` resolves only when the
 * gateway shuts down (SIGINT/SIGTERM).
 */

const USAGE = `gatehouse — run Azure API Management policy documents locally

Usage:
  gatehouse start [--config DIR] [--overlay FILE] [--port N] [--host H] [--workers N]
  gatehouse validate --config DIR [--overlay FILE]
  gatehouse effective-policy --config DIR --api NAME [--operation NAME] [--product NAME]
  gatehouse <command> --help

Without --config, start runs the built-in demo (an SPA and the telemetry/audit APIs).`;

const COMMANDS: Record<string, { usage: string; options: Record<string, { type: 'string' | 'boolean'; short?: string }> }> = {
  start: {
    usage: `gatehouse start [--config DIR] [--overlay FILE] [--port N] [--host H] [--workers N]

Loads an APIOps artifacts folder, compiles every policy, and serves the APIs.
  --config DIR     the APIOps folder (default: the built-in demo, which also starts its
                   backends and the SPA page)
  --overlay FILE   gatehouse overlay (default: DIR/gatehouse.yaml when present)
  --port N         listen port (default: overlay listen.port, else 8080)
  --host H         listen address (default: overlay listen.host, else 127.0.0.1)
  --workers N      serve with N processes sharing the port (node:cluster); default: one per
                   core when NODE_ENV=production, else 1. The built-in demo always uses 1.
Refuses to start, listing every problem, when the folder has errors.`,
    options: { config: { type: 'string' }, overlay: { type: 'string' }, port: { type: 'string' }, host: { type: 'string' }, workers: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  },
  validate: {
    usage: `gatehouse validate --config DIR [--overlay FILE]

Reads and compiles the folder without serving it. Prints every diagnostic as
  path/to/file.xml:LINE:COL CODE message
and exits 1 when any is an error (warnings alone exit 0). Codes: docs/errors.md.`,
    options: { config: { type: 'string' }, overlay: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  },
  'effective-policy': {
    usage: `gatehouse effective-policy --config DIR --api NAME [--operation NAME] [--product NAME]

Prints the effective policy of an API (or one of its operations), composed as APIM's
"Calculate effective policy" does: every <base/> replaced by the parent scope's section,
fragments expanded, each statement annotated with its scope and file:line.
  --api NAME         the API's name (its folder under apis/; 'name;rev=2' for a revision)
  --operation NAME   an operation name (operationId)
  --product NAME     compose in the context of this product (product scope included)`,
    options: { config: { type: 'string' }, overlay: { type: 'string' }, api: { type: 'string' }, operation: { type: 'string' }, product: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  },
};

export interface CliIo {
  out(text: string): void;
  err(text: string): void;
}

const processIo: CliIo = {
  out: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
  err: (text) => process.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
};

export async function main(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    (command === undefined ? io.err : io.out)(USAGE);
    return command === undefined ? 2 : 0;
  }
  const spec = COMMANDS[command];
  if (spec === undefined) {
    io.err(`GH_CLI_USAGE unknown command '${command}'\n\n${USAGE}`);
    return 2;
  }
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({ args: [...rest], options: spec.options, allowPositionals: false, strict: true }).values;
  } catch (err) {
    io.err(`GH_CLI_USAGE ${(err as Error).message}\n\n${spec.usage}`);
    return 2;
  }
  if (values.help) {
    io.out(spec.usage);
    return 0;
  }
  const str = (name: string) => (typeof values[name] === 'string' ? (values[name] as string) : undefined);
  try {
    switch (command) {
      case 'start':
        return await runStart(io, { config: str('config'), overlay: str('overlay'), port: str('port'), host: str('host'), workers: str('workers') }, spec.usage);
      case 'validate':
        return await runValidate(io, str('config'), str('overlay'), spec.usage);
      case 'effective-policy':
        return await runEffectivePolicy(io, { config: str('config'), overlay: str('overlay'), api: str('api'), operation: str('operation'), product: str('product') }, spec.usage);
    }
  } catch (err) {
    io.err(`GH_INTERNAL ${(err as Error).stack ?? String(err)}`);
    return 1;
  }
  return 2;
}

/**
 * Diagnostics name files relative to the config folder; the CLI prints them relative to the
 * working directory so they can be opened as printed, sorted by file and position.
 */
export function displayDiagnostics(diagnostics: readonly Diagnostic[], configDir: string | undefined): string[] {
  const located = diagnostics.map((d) =>
    d.location && configDir && !isAbsolute(d.location.file) && !d.location.file.startsWith('(')
      ? { ...d, location: { ...d.location, file: relative(process.cwd(), join(configDir, d.location.file)) || d.location.file } }
      : d,
  );
  const key = (d: Diagnostic) => (d.location ? `${d.location.file}\0${String(d.location.line).padStart(8, '0')}\0${String(d.location.column).padStart(8, '0')}` : '');
  return located
    .map((d, i) => ({ d, i }))
    .sort((a, b) => (key(a.d) < key(b.d) ? -1 : key(a.d) > key(b.d) ? 1 : a.i - b.i))
    .map(({ d }) => formatDiagnostic(d));
}

function printDiagnostics(print: (text: string) => void, diagnostics: readonly Diagnostic[], configDir: string | undefined): void {
  for (const line of displayDiagnostics(diagnostics, configDir)) print(line);
}

function summary(diagnostics: readonly Diagnostic[]): string {
  const count = (s: string) => diagnostics.filter((d) => d.severity === s).length;
  return `${count('error')} error(s), ${count('warning')} warning(s), ${count('info')} note(s)`;
}

async function runValidate(io: CliIo, config: string | undefined, overlay: string | undefined, usage: string): Promise<number> {
  if (!config) {
    io.err(`GH_CLI_USAGE validate needs --config DIR\n\n${usage}`);
    return 2;
  }
  const { loadGatewayConfig } = await import('./gateway.ts');
  const loaded = await loadGatewayConfig({ configDir: config, overlayFile: overlay });
  printDiagnostics(io.out, loaded.diagnostics, config);
  const hasErrors = loaded.diagnostics.some((d) => d.severity === 'error');
  io.out(`${hasErrors ? 'invalid' : 'valid'}: ${config} (${summary(loaded.diagnostics)}; ${loaded.config?.apis.length ?? 0} API(s))`);
  return hasErrors ? 1 : 0;
}

async function runEffectivePolicy(
  io: CliIo,
  args: { config?: string | undefined; overlay?: string | undefined; api?: string | undefined; operation?: string | undefined; product?: string | undefined },
  usage: string,
): Promise<number> {
  if (!args.config || !args.api) {
    io.err(`GH_CLI_USAGE effective-policy needs --config DIR and --api NAME\n\n${usage}`);
    return 2;
  }
  const { loadGatewayConfig, effectivePolicyXml } = await import('./gateway.ts');
  const loaded = await loadGatewayConfig({ configDir: args.config, overlayFile: args.overlay });
  const errors = loaded.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length > 0 || loaded.compiled === undefined) {
    printDiagnostics(io.err, errors, args.config);
    io.err(`the folder has ${errors.length} error(s); run 'gatehouse validate --config ${args.config}'`);
    return 1;
  }
  const result = effectivePolicyXml(loaded.compiled, { api: args.api, operation: args.operation, product: args.product });
  if (typeof result !== 'string') {
    io.err(`GH_CLI_NOT_FOUND ${result.error}`);
    return 1;
  }
  io.out(result);
  return 0;
}

async function runStart(
  io: CliIo,
  args: { config?: string | undefined; overlay?: string | undefined; port?: string | undefined; host?: string | undefined; workers?: string | undefined },
  usage: string,
): Promise<number> {
  let workers: number | undefined;
  if (args.workers !== undefined) {
    workers = Number(args.workers);
    if (!/^\d+$/.test(args.workers) || workers < 1 || workers > 256) {
      io.err(`GH_CLI_USAGE --workers must be an integer from 1 to 256, got '${args.workers}'\n\n${usage}`);
      return 2;
    }
  }
  let port: number | undefined;
  if (args.port !== undefined) {
    port = Number(args.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      io.err(`GH_CLI_USAGE --port must be an integer from 0 to 65535, got '${args.port}'\n\n${usage}`);
      return 2;
    }
  }
  if (args.config !== undefined) {
    const { defaultWorkers, startCluster } = await import('./cluster.ts');
    workers ??= defaultWorkers();
    if (workers > 1) return runCluster(io, startCluster, { configDir: args.config, overlayFile: args.overlay, port, host: args.host, workers });
  } else if (workers !== undefined && workers > 1) {
    io.err('gatehouse: the built-in demo runs in one process; --workers applies with --config');
  }
  const { startGatehouse } = await import('./start.ts');
  return startGatehouse(io, { configDir: args.config, overlayFile: args.overlay, port, host: args.host });
}

/** `start --workers N` (N > 1): the node:cluster primary; failures are reported like a single process's. */
async function runCluster(io: CliIo, startCluster: (io: CliIo, options: ClusterOptions) => Promise<number>, options: ClusterOptions): Promise<number> {
  try {
    return await startCluster(io, options);
  } catch (err) {
    const { reportStartFailure } = await import('./start.ts');
    return reportStartFailure(io, err, options.configDir);
  }
}
