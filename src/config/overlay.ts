import { readFile } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { isMap, isSeq } from 'yaml';
import type { Node } from 'yaml';
import type { DiagnosticBag, SourceLocation } from '../policy/diagnostics.ts';
import { DEFAULT_COMPAT } from '../policy/compile-env.ts';
import type { CompatSettings } from '../policy/compile-env.ts';
import type { Overlay } from './model.ts';
import { applyApiopsSection, APIOPS_SECTIONS } from './overlay-apiops.ts';
import { OverlayValues } from './overlay-values.ts';
import type { Env } from './overlay-values.ts';
import { parseYamlText } from './yaml-text.ts';

export type { Env } from './overlay-values.ts';

/** The overlay file gatehouse looks for in the config root. */
export const OVERLAY_FILE_NAME = 'gatehouse.yaml';

export const DEFAULT_LISTEN = { host: '127.0.0.1', port: 8080 } as const;
export const DEFAULT_LIMITS = { maxHeaderBytes: 16384, maxBodyBytes: 104857600, backendTimeoutMs: 300_000 } as const;

/** An overlay plus what the loader needs to finish it against the folder. */
export interface OverlayLoad {
  readonly overlay: Overlay;
  /** Named value values by resource name (APIOps configuration files key them so); the loader maps them to display names. */
  readonly namedValuesByName: Readonly<Record<string, string>>;
  /** Where each entry was set, so the loader can point at an entry that names nothing in the folder. */
  readonly origins: OverlayOrigins;
}

export interface OverlayOrigins {
  readonly namedValues: ReadonlyMap<string, SourceLocation>;
  readonly namedValuesByName: ReadonlyMap<string, SourceLocation>;
  readonly subscriptions: ReadonlyMap<string, SourceLocation>;
  readonly backends: ReadonlyMap<string, SourceLocation>;
  readonly apis: ReadonlyMap<string, SourceLocation>;
}

/** Mutable overlay under construction. Records have no prototype, so a `__proto__` key is just a name. */
export interface OverlayDraft {
  listen: { host: string; port: number };
  compat: { -readonly [K in keyof CompatSettings]: CompatSettings[K] };
  namedValues: Record<string, string>;
  namedValuesByName: Record<string, string>;
  subscriptionKeys: Record<string, { primaryKey?: string; secondaryKey?: string }>;
  backendUrls: Record<string, string>;
  serviceUrls: Record<string, string>;
  limits: { maxHeaderBytes: number; maxBodyBytes: number; backendTimeoutMs: number };
  trustedProxies: string[];
  origins: { [K in keyof OverlayOrigins]: Map<string, SourceLocation> };
}

/** The overlay used when there is no overlay file. */
export function defaultOverlay(): Overlay {
  return finish(newDraft(), null).overlay;
}

/**
 * Finds and reads the overlay: `overlayFile` when given (relative to the working directory; it must
 * exist), else `gatehouse.yaml` in the root when present, else defaults. Never throws for bad input.
 */
export async function loadOverlay(root: string, diagnostics: DiagnosticBag, options: { overlayFile?: string; env?: Env } = {}): Promise<OverlayLoad> {
  const explicit = options.overlayFile !== undefined;
  const path = explicit ? resolve(options.overlayFile as string) : join(root, OVERLAY_FILE_NAME);
  const display = displayPath(root, path);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (explicit || code !== 'ENOENT') diagnostics.report('GH_CONFIG_NOT_FOUND', undefined, `cannot read overlay file '${display}' (${code ?? 'error'})`);
    return finish(newDraft(), null);
  }
  return parseOverlay(text, display, diagnostics, options.env ?? process.env);
}

/** Path relative to the root with '/' when inside it, else absolute: how diagnostics name the file. */
function displayPath(root: string, path: string): string {
  const rel = relative(root, path);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) return path;
  return rel.split(sep).join('/');
}

/**
 * Parses overlay text: gatehouse's own shape, or an APIOps publisher `configuration.<env>.yaml`
 * (detected by `apimServiceName` or list-valued `namedValues`/`backends`/`apis`/`subscriptions`).
 * Unknown keys and wrong types are GH_CONFIG_OVERLAY_INVALID errors with line:column.
 */
export function parseOverlay(text: string, file: string, diagnostics: DiagnosticBag, env: Env): OverlayLoad {
  const draft = newDraft();
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const yaml = parseYamlText(file, body);
  for (const e of yaml.errors) diagnostics.report('GH_CONFIG_OVERLAY_INVALID', e.location, `invalid YAML: ${e.message}`);
  if (yaml.errors.length > 0) return finish(draft, file);
  const values = new OverlayValues(file, diagnostics, env, yaml.locate);
  const root = yaml.document.contents as Node | null;
  if (values.isUnset(root)) return finish(draft, file);
  if (!isMap(root)) {
    values.report(root, 'the overlay must be a mapping of settings');
    return finish(draft, file);
  }
  const entries = values.entries(root, 'overlay');
  const apiops = entries.some(([key, node]) => key === 'apimServiceName' || (Object.hasOwn(APIOPS_SECTIONS, key) && isSeq(node)));
  for (const [key, node, pair] of entries) {
    if (apiops && isSeq(node) && Object.hasOwn(APIOPS_SECTIONS, key)) applyApiopsSection(key, node, pair.key as Node, draft, values);
    else if (Object.hasOwn(GATEHOUSE_SECTIONS, key)) GATEHOUSE_SECTIONS[key]?.(node, draft, values);
    else if (apiops) applyApiopsSection(key, node, pair.key as Node, draft, values);
    else values.report(pair.key as Node, `unknown overlay key '${key}' (expected one of: ${Object.keys(GATEHOUSE_SECTIONS).join(', ')})`);
  }
  return finish(draft, file);
}

type SectionReader = (node: Node | null, draft: OverlayDraft, values: OverlayValues) => void;

/** Reads a mapping whose keys are all known; reports unknown keys at the key. */
function fields(node: Node | null, what: string, values: OverlayValues, readers: Record<string, (value: Node | null) => void>): void {
  for (const [key, value, pair] of values.entries(node, what)) {
    const read = Object.hasOwn(readers, key) ? readers[key] : undefined;
    if (read) read(value);
    else values.report(pair.key as Node, `unknown key '${what}.${key}' (expected one of: ${Object.keys(readers).join(', ')})`);
  }
}

function set<T>(value: T | null, apply: (v: T) => void): void {
  if (value !== null) apply(value);
}

const GATEHOUSE_SECTIONS: Record<string, SectionReader> = {
  listen: (node, d, v) => fields(node, 'listen', v, {
    host: (n) => set(v.string(n, 'listen.host'), (x) => (d.listen.host = x)),
    port: (n) => set(v.integer(n, 'listen.port', 0, 65535), (x) => (d.listen.port = x)),
  }),
  compat: (node, d, v) => fields(node, 'compat', v, {
    corsTerminateUnmatchedDefault: (n) => set(v.boolean(n, 'compat.corsTerminateUnmatchedDefault'), (x) => (d.compat.corsTerminateUnmatchedDefault = x)),
    corsOnGatewayErrors: (n) => set(v.boolean(n, 'compat.corsOnGatewayErrors'), (x) => (d.compat.corsOnGatewayErrors = x)),
    skipUnimplementedPolicies: (n) => set(v.boolean(n, 'compat.skipUnimplementedPolicies'), (x) => (d.compat.skipUnimplementedPolicies = x)),
  }),
  limits: (node, d, v) => fields(node, 'limits', v, {
    maxHeaderBytes: (n) => set(v.integer(n, 'limits.maxHeaderBytes', 1, 2 ** 31 - 1), (x) => (d.limits.maxHeaderBytes = x)),
    maxBodyBytes: (n) => set(v.integer(n, 'limits.maxBodyBytes', 0, Number.MAX_SAFE_INTEGER), (x) => (d.limits.maxBodyBytes = x)),
    backendTimeoutSeconds: (n) => set(v.positive(n, 'limits.backendTimeoutSeconds'), (x) => (d.limits.backendTimeoutMs = Math.round(x * 1000))),
  }),
  trustedProxies: (node, d, v) => {
    for (const item of v.items(node, 'trustedProxies')) set(v.ipOrCidr(item, 'trustedProxies'), (x) => d.trustedProxies.push(x));
  },
  namedValues: (node, d, v) => {
    for (const [name, value] of v.entries(node, 'namedValues')) {
      set(v.string(value, `namedValues.${name}`, true), (x) => (d.namedValues[name] = x));
      d.origins.namedValues.set(name, v.at(value));
    }
  },
  subscriptions: (node, d, v) => {
    for (const [name, value] of v.entries(node, 'subscriptions')) {
      const keys: { primaryKey?: string; secondaryKey?: string } = {};
      fields(value, `subscriptions.${name}`, v, {
        primaryKey: (n) => set(v.string(n, `subscriptions.${name}.primaryKey`), (x) => (keys.primaryKey = x)),
        secondaryKey: (n) => set(v.string(n, `subscriptions.${name}.secondaryKey`), (x) => (keys.secondaryKey = x)),
      });
      d.subscriptionKeys[name] = keys;
      d.origins.subscriptions.set(name, v.at(value));
    }
  },
  backends: (node, d, v) => {
    for (const [id, value] of v.entries(node, 'backends')) {
      set(v.httpUrl(value, `backends.${id}`), (x) => (d.backendUrls[id] = x));
      d.origins.backends.set(id, v.at(value));
    }
  },
  apis: (node, d, v) => {
    for (const [name, value] of v.entries(node, 'apis')) {
      fields(value, `apis.${name}`, v, {
        serviceUrl: (n) => set(v.httpUrl(n, `apis.${name}.serviceUrl`), (x) => (d.serviceUrls[name] = x)),
      });
      d.origins.apis.set(name, v.at(value));
    }
  },
};

function dict<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>;
}

function newDraft(): OverlayDraft {
  return {
    listen: { ...DEFAULT_LISTEN },
    compat: { ...DEFAULT_COMPAT },
    namedValues: dict(),
    namedValuesByName: dict(),
    subscriptionKeys: dict(),
    backendUrls: dict(),
    serviceUrls: dict(),
    limits: { ...DEFAULT_LIMITS },
    trustedProxies: [],
    origins: { namedValues: new Map(), namedValuesByName: new Map(), subscriptions: new Map(), backends: new Map(), apis: new Map() },
  };
}

function finish(d: OverlayDraft, file: string | null): OverlayLoad {
  const overlay: Overlay = {
    file,
    listen: d.listen,
    compat: d.compat,
    namedValues: d.namedValues,
    subscriptionKeys: d.subscriptionKeys,
    backendUrls: d.backendUrls,
    serviceUrls: d.serviceUrls,
    limits: d.limits,
    trustedProxies: d.trustedProxies,
  };
  return { overlay, namedValuesByName: d.namedValuesByName, origins: d.origins };
}
