import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { DiagnosticBag, SourceLocation } from '../policy/diagnostics.ts';
import type { PolicySource } from './model.ts';
import { lineColumnAt, locateJson, parseJson } from './json.ts';
import type { JsonPath } from './json.ts';

/** One directory entry; `dir` follows symbolic links. */
export interface DirEntry {
  readonly name: string;
  readonly dir: boolean;
}

/**
 * File access for one config root. Paths are '/'-separated and relative to the root, which is also
 * how diagnostics name files. Listings are sorted by code unit so loads are deterministic on
 * every file system and locale.
 */
export class ConfigReader {
  readonly root: string;
  readonly diagnostics: DiagnosticBag;

  constructor(root: string, diagnostics: DiagnosticBag) {
    this.root = root;
    this.diagnostics = diagnostics;
  }

  abs(rel: string): string {
    return rel === '' ? this.root : join(this.root, ...rel.split('/'));
  }

  /** Sorted entries of a folder, or null when it does not exist. */
  async list(rel: string): Promise<DirEntry[] | null> {
    let dirents;
    try {
      dirents = await readdir(this.abs(rel), { withFileTypes: true });
    } catch (e) {
      if (isMissing(e)) return null;
      this.#ioProblem(rel, e);
      return null;
    }
    const entries: DirEntry[] = [];
    for (const d of dirents) {
      let dir = d.isDirectory();
      if (d.isSymbolicLink()) dir = await stat(this.abs(childPath(rel, d.name))).then((s) => s.isDirectory(), () => false);
      entries.push({ name: d.name, dir });
    }
    return entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** File text (leading BOM removed), or null when the file does not exist. */
  async readText(rel: string): Promise<string | null> {
    try {
      const text = await readFile(this.abs(rel), 'utf8');
      return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
    } catch (e) {
      if (isMissing(e)) return null;
      this.#ioProblem(rel, e);
      return null;
    }
  }

  /** A policy document as text (the policy reader parses it later), or null when absent. */
  async readPolicy(rel: string): Promise<PolicySource | null> {
    const text = await this.readText(rel);
    return text === null ? null : { file: rel, text };
  }

  /** Parses a JSON artifact; reports syntax errors with their position. Null when absent or broken. */
  async readJson(rel: string): Promise<JsonArtifact | null> {
    const text = await this.readText(rel);
    if (text === null) return null;
    const parsed = parseJson(text);
    if (!parsed.ok) {
      const { line, column } = lineColumnAt(text, parsed.offset);
      this.diagnostics.report('GH_CONFIG_JSON_INVALID', { file: rel, line, column }, `invalid JSON: ${parsed.message}`);
      return null;
    }
    return new JsonArtifact(rel, text, parsed.value, this.diagnostics);
  }

  #ioProblem(rel: string, e: unknown): void {
    const code = (e as NodeJS.ErrnoException).code ?? 'error';
    this.diagnostics.report('GH_CONFIG_NOT_FOUND', undefined, `cannot read '${rel}' (${code})`);
  }
}

/** `rel/name`, or `name` at the root. */
export function childPath(rel: string, name: string): string {
  return rel === '' ? name : `${rel}/${name}`;
}

function isMissing(e: unknown): boolean {
  const code = (e as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/** A parsed JSON artifact file. */
export class JsonArtifact {
  readonly file: string;
  readonly text: string;
  readonly value: unknown;
  readonly #diagnostics: DiagnosticBag;

  constructor(file: string, text: string, value: unknown, diagnostics: DiagnosticBag) {
    this.file = file;
    this.text = text;
    this.value = value;
    this.#diagnostics = diagnostics;
  }

  /** Where the value at `path` starts; the file start when it cannot be located. */
  at(path: JsonPath): SourceLocation {
    const offset = locateJson(this.text, path);
    if (offset === undefined) return { file: this.file, line: 1, column: 1 };
    return { file: this.file, ...lineColumnAt(this.text, offset) };
  }

  /** The `properties` object every APIOps information file wraps its content in; reports when missing. */
  properties(): Props | null {
    if (!isObject(this.value)) {
      this.#diagnostics.report('GH_CONFIG_JSON_INVALID', { file: this.file, line: 1, column: 1 }, 'expected a JSON object');
      return null;
    }
    const props = this.value['properties'];
    if (!isObject(props)) {
      this.#diagnostics.report('GH_CONFIG_JSON_INVALID', { file: this.file, line: 1, column: 1 }, "missing required object 'properties'");
      return null;
    }
    return new Props(this, props, ['properties'], this.#diagnostics);
  }
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Typed access to one JSON object with diagnostics: a missing required property is reported at the
 * file start (line 1, column 1), a value of the wrong type at the value itself. Absent and null are the same.
 */
export class Props {
  readonly artifact: JsonArtifact;
  readonly value: Readonly<Record<string, unknown>>;
  readonly path: JsonPath;
  readonly #diagnostics: DiagnosticBag;

  constructor(artifact: JsonArtifact, value: Record<string, unknown>, path: JsonPath, diagnostics: DiagnosticBag) {
    this.artifact = artifact;
    this.value = value;
    this.path = path;
    this.#diagnostics = diagnostics;
  }

  /** Location of a property's value (or of this object when the key is absent). */
  at(key: string): SourceLocation {
    return this.artifact.at(this.has(key) ? [...this.path, key] : this.path);
  }

  has(key: string): boolean {
    const v = this.value[key];
    return v !== undefined && v !== null;
  }

  /** A string property; numbers are accepted and converted (hand-written files write `"apiRevision": 2`). */
  string(key: string): string | null {
    const v = this.value[key];
    if (v === undefined || v === null) return null;
    if (typeof v === 'string') return v;
    if (typeof v === 'number' && Number.isFinite(v)) return String(v);
    this.wrongType(key, 'a string');
    return null;
  }

  /** A required string property; reports at the file start when missing. */
  requiredString(key: string): string | null {
    if (!this.has(key)) {
      this.#diagnostics.report('GH_CONFIG_JSON_INVALID', { file: this.artifact.file, line: 1, column: 1 }, `missing required property '${this.#name(key)}'`);
      return null;
    }
    return this.string(key);
  }

  boolean(key: string): boolean | null {
    const v = this.value[key];
    if (v === undefined || v === null) return null;
    if (typeof v === 'boolean') return v;
    this.wrongType(key, 'true or false');
    return null;
  }

  stringArray(key: string): string[] | null {
    const v = this.value[key];
    if (v === undefined || v === null) return null;
    if (Array.isArray(v) && v.every((x) => typeof x === 'string')) return v as string[];
    this.wrongType(key, 'an array of strings');
    return null;
  }

  object(key: string): Props | null {
    const v = this.value[key];
    if (v === undefined || v === null) return null;
    if (isObject(v)) return new Props(this.artifact, v, [...this.path, key], this.#diagnostics);
    this.wrongType(key, 'an object');
    return null;
  }

  wrongType(key: string, expected: string): void {
    this.#diagnostics.report('GH_CONFIG_JSON_INVALID', this.at(key), `property '${this.#name(key)}' must be ${expected}`);
  }

  #name(key: string): string {
    return [...this.path, key].join('.');
  }
}
