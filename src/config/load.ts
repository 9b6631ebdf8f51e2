import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { DiagnosticBag, SourceLocation } from '../policy/diagnostics.ts';
import { ConfigReader } from './artifact.ts';
import type { DirEntry } from './artifact.ts';
import { loadApis } from './load-apis.ts';
import { loadBackends, loadFragments, loadNamedValues, loadVersionSets } from './load-artifacts.ts';
import { overlayEntry, SkipTracker } from './load-context.ts';
import type { LoadContext, Reference } from './load-context.ts';
import { loadProducts, loadSubscriptions } from './load-products.ts';
import type { LoadedConfig, LoadedNamedValue } from './model.ts';
import { defaultOverlay, loadOverlay, OVERLAY_FILE_NAME } from './overlay.ts';
import type { Env } from './overlay.ts';

export interface LoadOptions {
  /** Overlay file (gatehouse shape or an APIOps `configuration.<env>.yaml`); default `<dir>/gatehouse.yaml` when present. */
  readonly overlayFile?: string;
  /** Environment for `${env:NAME}` in the overlay; default `process.env`. */
  readonly env?: Env;
}

/** Root folders gatehouse reads. */
const USED_ROOT = new Set(['apis', 'products', 'named values', 'policy fragments', 'version sets', 'backends', 'subscriptions', 'policy.xml', OVERLAY_FILE_NAME]);

/**
 * Reads an APIOps artifacts folder (v7 layout; v6 and v5 shapes tolerated) and its overlay into
 * plain data. Policy XML is read as text, not parsed. Every problem goes to `diagnostics` with a
 * position where one exists; the function never throws for bad input (a missing folder gives
 * GH_CONFIG_NOT_FOUND and an empty configuration). Directory listings are sorted, so two loads of
 * one folder give equal results and diagnostics in the same order.
 */
export async function loadConfigFolder(dir: string, diagnostics: DiagnosticBag, options: LoadOptions = {}): Promise<LoadedConfig> {
  const root = resolve(dir);
  if (!(await isDirectory(root))) {
    diagnostics.report('GH_CONFIG_NOT_FOUND', undefined, `configuration folder '${dir}' does not exist or is not a folder`);
    return emptyConfig(root);
  }
  const overlay = await loadOverlay(root, diagnostics, { ...options });
  const reader = new ConfigReader(root, diagnostics);
  const ctx: LoadContext = { reader, diagnostics, overlay, skipped: new SkipTracker(), markers: new Set(), references: [] };
  noteRootEntries(ctx, (await reader.list('')) ?? []);

  const globalPolicy = await reader.readPolicy('policy.xml');
  const apis = await loadApis(ctx);
  const products = await loadProducts(ctx);
  const namedValues = await loadNamedValues(ctx);
  const fragments = await loadFragments(ctx);
  const versionSets = await loadVersionSets(ctx);
  const backends = await loadBackends(ctx);
  const subscriptions = await loadSubscriptions(ctx);

  // APIM resource names are case-insensitive: references resolve ignoring case and are rewritten
  // to the defined spelling, so later stages can compare names exactly.
  const names: Names = {
    'version set': caseMap(versionSets.map((v) => v.id)),
    api: caseMap(apis.map((a) => a.name)),
    product: caseMap(products.map((p) => p.name)),
  };
  checkReferences(ctx, names);
  checkOverlayNames(ctx, namedValues, new Set(backends.map((b) => b.id)), new Set(apis.map((a) => a.name)), new Set(subscriptions.map((s) => s.name)));
  ctx.skipped.flush(diagnostics);

  return {
    root,
    layout: ctx.markers.has('v5') ? 'v5' : ctx.markers.has('v6') ? 'v6' : 'v7',
    globalPolicy,
    apis: apis.map((a) => (a.versionSetId === null ? a : { ...a, versionSetId: canonical(names, 'version set', a.versionSetId) })),
    products: products.map((p) => ({ ...p, apis: [...new Set(p.apis.map((a) => canonical(names, 'api', a)))].sort() })),
    namedValues,
    fragments,
    versionSets,
    backends,
    subscriptions: subscriptions.map((s) => (s.scope.kind === 'all' || s.scope.name === null ? s : { ...s, scope: { kind: s.scope.kind, name: canonical(names, s.scope.kind, s.scope.name) } })),
    // The effective named values by display name, including ones an APIOps file set by resource name.
    overlay: { ...overlay.overlay, namedValues: effectiveOverlayValues(ctx, namedValues) },
  };
}

async function isDirectory(path: string): Promise<boolean> {
  return stat(path).then((s) => s.isDirectory(), () => false);
}

function emptyConfig(root: string): LoadedConfig {
  return {
    root, layout: 'v7', globalPolicy: null, apis: [], products: [], namedValues: [], fragments: [],
    versionSets: [], backends: [], subscriptions: [], overlay: defaultOverlay(),
  };
}

/** Root entries gatehouse does not read are noted once per kind; dot files (.git …) are ignored. */
function noteRootEntries(ctx: LoadContext, entries: readonly DirEntry[]): void {
  for (const entry of entries) {
    if (USED_ROOT.has(entry.name) || entry.name.startsWith('.')) continue;
    if (entry.dir && entry.name === 'workspaces') ctx.markers.add('v6');
    if (!entry.dir && /^configuration\..+\.ya?ml$/.test(entry.name)) {
      ctx.skipped.note('APIOps configuration files', entry.name, 'an APIOps publisher override file is read only when given with --overlay FILE');
    } else {
      ctx.skipped.note(entry.dir ? `${entry.name}/` : entry.name, entry.name);
    }
  }
}

/** Defined names per kind, keyed by lower case. */
type Names = Record<Reference['kind'], ReadonlyMap<string, string>>;

function caseMap(names: readonly string[]): Map<string, string> {
  const map = new Map<string, string>();
  for (const name of names) if (!map.has(name.toLowerCase())) map.set(name.toLowerCase(), name);
  return map;
}

function canonical(names: Names, kind: Reference['kind'], name: string): string {
  return names[kind].get(name.toLowerCase()) ?? name;
}

/** Every name one artifact uses for another must exist: a version set is required, links only warn. */
function checkReferences(ctx: LoadContext, known: Names): void {
  for (const ref of ctx.references) {
    if (known[ref.kind].has(ref.name.toLowerCase())) continue;
    ctx.diagnostics.report('GH_CONFIG_REFERENCE_UNKNOWN', ref.at, `${ref.from} names ${ref.kind} '${ref.name}', which the folder does not define`, ref.severity);
  }
}

/** Overlay entries that name nothing in the folder are almost always typos: warn at the entry. */
function checkOverlayNames(ctx: LoadContext, namedValues: readonly LoadedNamedValue[], backends: ReadonlySet<string>, apis: ReadonlySet<string>, subscriptions: ReadonlySet<string>): void {
  const { origins } = ctx.overlay;
  const lower = (names: Iterable<string>) => new Set([...names].map((n) => n.toLowerCase()));
  const displayNames = lower(namedValues.map((n) => n.displayName));
  const resourceNames = lower(namedValues.map((n) => n.name));
  const checks: [ReadonlyMap<string, SourceLocation>, ReadonlySet<string>, string][] = [
    [origins.namedValues, displayNames, 'named value'],
    [origins.namedValuesByName, resourceNames, 'named value'],
    [origins.backends, lower(backends), 'backend'],
    [origins.apis, lower(apis), 'API'],
    [origins.subscriptions, lower(subscriptions), 'subscription'],
  ];
  for (const [entries, names, what] of checks) {
    for (const [name, at] of entries) {
      if (!names.has(name.toLowerCase())) ctx.diagnostics.report('GH_CONFIG_REFERENCE_UNKNOWN', at, `the overlay sets ${what} '${name}', which the folder does not define`, 'warning');
    }
  }
}

function effectiveOverlayValues(ctx: LoadContext, namedValues: readonly LoadedNamedValue[]): Readonly<Record<string, string>> {
  const out = Object.assign(Object.create(null) as Record<string, string>, ctx.overlay.overlay.namedValues);
  for (const nv of namedValues) {
    const byName = overlayEntry(ctx.overlay.namedValuesByName, nv.name);
    if (byName !== undefined && overlayEntry(out, nv.displayName) === undefined) out[nv.displayName] = byName;
  }
  return out;
}
