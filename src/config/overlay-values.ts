import { isIP } from 'node:net';
import { isMap, isScalar, isSeq } from 'yaml';
import type { Node, Pair } from 'yaml';
import type { ErrorCode } from '../errors.ts';
import type { DiagnosticBag, Severity, SourceLocation } from '../policy/diagnostics.ts';

/** Environment used for `${env:NAME}`; tests pass their own. */
export type Env = Readonly<Record<string, string | undefined>>;

/**
 * Reads overlay YAML nodes with exact positions. Every problem is reported, and the caller keeps the
 * default for that one setting, so a user sees all overlay mistakes in one run.
 */
export class OverlayValues {
  readonly #diagnostics: DiagnosticBag;
  readonly #env: Env;
  readonly #locate: (offset: number) => SourceLocation;
  readonly file: string;

  constructor(file: string, diagnostics: DiagnosticBag, env: Env, locate: (offset: number) => SourceLocation) {
    this.file = file;
    this.#diagnostics = diagnostics;
    this.#env = env;
    this.#locate = locate;
  }

  at(node: Node | null | undefined): SourceLocation {
    const range = (node as { range?: readonly number[] } | null | undefined)?.range;
    return range?.[0] === undefined ? { file: this.file, line: 1, column: 1 } : this.#locate(range[0]);
  }

  report(node: Node | null | undefined, message: string, severity: Severity = 'error', code: ErrorCode = 'GH_CONFIG_OVERLAY_INVALID'): void {
    this.#diagnostics.report(code, this.at(node), message, severity);
  }

  /** True for an absent value or YAML null (`key:` with nothing after it), which means "not set". */
  isUnset(node: unknown): boolean {
    return node === null || node === undefined || (isScalar(node) && node.value === null);
  }

  /** Entries of a mapping as [key, value node, pair]; reports non-mappings and non-string keys. */
  entries(node: unknown, what: string): [string, Node | null, Pair][] {
    if (this.isUnset(node)) return [];
    if (!isMap(node)) {
      this.report(node as Node, `${what} must be a mapping`);
      return [];
    }
    const out: [string, Node | null, Pair][] = [];
    for (const pair of node.items) {
      const key = pair.key;
      if (!isScalar(key) || (typeof key.value !== 'string' && typeof key.value !== 'number')) {
        this.report(key as Node, `${what}: keys must be plain names`);
        continue;
      }
      out.push([String(key.value), pair.value as Node | null, pair]);
    }
    return out;
  }

  /** Items of a sequence; reports non-sequences. */
  items(node: unknown, what: string): Node[] {
    if (this.isUnset(node)) return [];
    if (!isSeq(node)) {
      this.report(node as Node, `${what} must be a list`);
      return [];
    }
    return node.items as Node[];
  }

  /** A string; `${env:NAME}` is expanded. With `scalars`, numbers and booleans are taken as written. */
  string(node: Node | null, what: string, scalars = false): string | null {
    if (isScalar(node) && typeof node.value === 'string') return this.expand(node, node.value, what);
    if (scalars && isScalar(node) && (typeof node.value === 'number' || typeof node.value === 'boolean')) {
      return typeof node.source === 'string' ? node.source : String(node.value);
    }
    this.report(node, `${what} must be a string${scalars ? ' or a number' : ''}`);
    return null;
  }

  /** An integer in [min, max]; a string is accepted when it expands (from `${env:…}`) to digits. */
  integer(node: Node | null, what: string, min: number, max: number): number | null {
    const value = this.#numeric(node, what);
    if (value === null) return null;
    if (!Number.isSafeInteger(value) || value < min || value > max) {
      this.report(node, `${what} must be an integer from ${min} to ${max}`);
      return null;
    }
    return value;
  }

  /** A number greater than zero. */
  positive(node: Node | null, what: string): number | null {
    const value = this.#numeric(node, what);
    if (value === null) return null;
    if (!(value > 0) || !Number.isFinite(value)) {
      this.report(node, `${what} must be a number greater than 0`);
      return null;
    }
    return value;
  }

  boolean(node: Node | null, what: string): boolean | null {
    if (isScalar(node) && typeof node.value === 'boolean') return node.value;
    if (isScalar(node) && typeof node.value === 'string') {
      const text = this.expand(node, node.value, what);
      if (text === 'true' || text === 'false') return text === 'true';
    }
    this.report(node, `${what} must be true or false`);
    return null;
  }

  /** An IPv4/IPv6 address or CIDR range such as 10.0.0.0/8. */
  ipOrCidr(node: Node | null, what: string): string | null {
    const text = this.string(node, what);
    if (text === null) return null;
    const [address = '', prefix, extra] = text.split('/');
    const family = isIP(address);
    const bits = family === 4 ? 32 : 128;
    const prefixOk = prefix === undefined || (/^\d{1,3}$/.test(prefix) && Number(prefix) <= bits);
    if (family === 0 || !prefixOk || extra !== undefined) {
      this.report(node, `${what}: '${text}' is not an IP address or CIDR range`);
      return null;
    }
    return text;
  }

  /** An absolute http(s) URL (checked after `${env:…}` expansion). */
  httpUrl(node: Node | null, what: string): string | null {
    const text = this.string(node, what);
    if (text === null) return null;
    if (!isHttpUrl(text)) {
      this.report(node, `${what}: '${text}' is not an absolute http(s) URL`, 'error', 'GH_CONFIG_SERVICE_URL_INVALID');
      return null;
    }
    return text;
  }

  /**
   * `${env:NAME}` → the environment variable (an unset one is an error: a silent '' would hide a missing
   * secret); `$${` → a literal `${`. Other `${…}` text is kept as written.
   */
  expand(node: Node | null, text: string, what: string): string | null {
    if (!text.includes('${')) return text;
    let ok = true;
    const out = text.replace(/\$\$\{|\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}/g, (match, name: string | undefined) => {
      if (name === undefined) return '${';
      const value = this.#env[name];
      if (value === undefined) {
        this.report(node, `${what}: environment variable ${name} is not set`);
        ok = false;
        return '';
      }
      return value;
    });
    return ok ? out : null;
  }

  #numeric(node: Node | null, what: string): number | null {
    if (isScalar(node) && typeof node.value === 'number') return node.value;
    if (isScalar(node) && typeof node.value === 'string') {
      const text = this.expand(node, node.value, what);
      if (text === null) return null;
      if (/^\d+(\.\d+)?$/.test(text)) return Number(text);
    }
    this.report(node, `${what} must be a number`);
    return null;
  }
}

/** Absolute http: or https: URL with a host; CR, LF and other controls are refused. */
export function isHttpUrl(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c <= 0x20 || c === 0x7f) return false;
  }
  try {
    const url = new URL(text);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
  } catch {
    return false;
  }
}
