import type { ErrorCode } from '../errors.ts';
import { GatehouseError } from '../errors.ts';

/** A point in a source file; line and column are 1-based, column counts UTF-16 code units. */
export interface SourceLocation {
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

export type Severity = 'error' | 'warning' | 'info';

export interface Diagnostic {
  readonly code: ErrorCode;
  readonly severity: Severity;
  readonly message: string;
  readonly location?: SourceLocation | undefined;
  /** e.g. ['global', 'product:starter', 'api:echo', 'operation:get-user'] */
  readonly scopePath?: readonly string[] | undefined;
}

/** Anything that carries a location: an element, an attribute, or a bare location. */
export type Locatable = SourceLocation | { readonly location: SourceLocation };

export function locationOf(at: Locatable | undefined): SourceLocation | undefined {
  if (at === undefined) return undefined;
  return 'location' in at ? at.location : at;
}

/**
 * Collects problems during load and compile: control plane code reports and keeps going,
 * so a user sees every problem at once (style.md: "report every problem with its position").
 */
export class DiagnosticBag {
  readonly #items: Diagnostic[] = [];

  report(code: ErrorCode, at: Locatable | undefined, message: string, severity: Severity = 'error', scopePath?: readonly string[]): void {
    this.#items.push({ code, severity, message, location: locationOf(at), scopePath });
  }

  add(diagnostic: Diagnostic): void {
    this.#items.push(diagnostic);
  }

  get items(): readonly Diagnostic[] {
    return this.#items;
  }

  get errors(): readonly Diagnostic[] {
    return this.#items.filter((d) => d.severity === 'error');
  }

  get hasErrors(): boolean {
    return this.#items.some((d) => d.severity === 'error');
  }

  /** Throws one GH_CONFIG_INVALID error carrying every diagnostic when any is an error. */
  throwIfErrors(): void {
    if (!this.hasErrors) return;
    throw new ConfigError(this.#items);
  }
}

export class ConfigError extends GatehouseError {
  readonly diagnostics: readonly Diagnostic[];
  constructor(diagnostics: readonly Diagnostic[]) {
    const errors = diagnostics.filter((d) => d.severity === 'error');
    super('GH_CONFIG_INVALID', `configuration has ${errors.length} error(s):\n${errors.map(formatDiagnostic).join('\n')}`);
    this.diagnostics = diagnostics;
  }
}

/** `path/to/file.xml:12:9 GH_POLICY_ATTR_REQUIRED message (scope: global › api:echo)` */
export function formatDiagnostic(d: Diagnostic): string {
  const where = d.location ? `${d.location.file}:${d.location.line}:${d.location.column} ` : '';
  const severity = d.severity === 'error' ? '' : `${d.severity}: `;
  const scope = d.scopePath && d.scopePath.length > 0 ? ` (scope: ${d.scopePath.join(' › ')})` : '';
  return `${where}${d.code} ${severity}${d.message}${scope}`;
}
