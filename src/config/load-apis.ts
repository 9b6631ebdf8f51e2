import type { DirEntry, Props } from './artifact.ts';
import { overlayEntry } from './load-context.ts';
import type { LoadContext } from './load-context.ts';
import type { LoadedApi, LoadedOperation, PolicySource, SubscriptionKeyParameterNames } from './model.ts';
import { readSpecification, SPECIFICATION_FILES } from './openapi.ts';
import type { SpecOperation } from './openapi.ts';
import { isHttpUrl } from './overlay-values.ts';

/** APIM's defaults for subscription key names (AD:api-management-subscriptions.md). */
export const DEFAULT_KEY_NAMES: SubscriptionKeyParameterNames = { header: 'Ocp-Apim-Subscription-Key', query: 'subscription-key' };

const REV = ';rev=';

/** Entries of an API folder that gatehouse reads; anything else is noted as skipped. */
const API_FILES = new Set<string>(['apiInformation.json', 'policy.xml', 'operations', ...SPECIFICATION_FILES]);

/** Reads every `apis/<name>[;rev=N]/` folder, then checks that each API has one current revision. */
export async function loadApis(ctx: LoadContext): Promise<LoadedApi[]> {
  const apis: LoadedApi[] = [];
  for (const entry of (await ctx.reader.list('apis')) ?? []) {
    if (!entry.dir) {
      ctx.skipped.note('files directly under apis/', `apis/${entry.name}`, 'each API is a folder');
      continue;
    }
    const api = await loadApi(ctx, entry.name);
    if (api) apis.push(api);
  }
  checkRevisions(ctx, apis);
  return apis;
}

async function loadApi(ctx: LoadContext, folder: string): Promise<LoadedApi | null> {
  const rel = `apis/${folder}`;
  const revAt = folder.indexOf(REV);
  const name = revAt >= 0 ? folder.slice(0, revAt) : folder;
  const folderRevision = revAt >= 0 ? folder.slice(revAt + REV.length) : null;
  const entries = (await ctx.reader.list(rel)) ?? [];
  const info = await ctx.reader.readJson(`${rel}/apiInformation.json`);
  if (info === null) {
    if (!entries.some((e) => e.name === 'apiInformation.json')) {
      ctx.diagnostics.report('GH_CONFIG_NOT_FOUND', undefined, `${rel}/ has no apiInformation.json; the API is skipped`);
    }
    return null;
  }
  const props = info.properties();
  const rawPath = props?.requiredString('path') ?? null;
  if (props === null || rawPath === null) return null;
  noteSkippedEntries(ctx, rel, entries);

  const revision = props.string('apiRevision') ?? folderRevision ?? '1';
  if (folderRevision !== null && revision !== folderRevision) {
    ctx.diagnostics.report('GH_CONFIG_API_REVISION_CONFLICT', props.at('apiRevision'),
      `apiRevision '${revision}' differs from the folder name '${folder}'; using '${revision}'`, 'warning');
  }
  const isCurrentFlag = props.boolean('isCurrent');
  const versionSetId = lastSegment(props.string('apiVersionSetId'));
  if (versionSetId !== null) {
    ctx.references.push({ kind: 'version set', name: versionSetId, from: info.file, at: props.at('apiVersionSetId'), severity: 'error' });
  }
  const scopePath = [`api:${folder}`];
  const specOps = await readSpec(ctx, rel, entries, props, scopePath);
  return {
    name,
    displayName: props.string('displayName') ?? name,
    path: trimSlashes(rawPath),
    serviceUrl: serviceUrl(ctx, name, props),
    protocols: props.stringArray('protocols') ?? ['https'],
    subscriptionRequired: props.boolean('subscriptionRequired') ?? true,
    subscriptionKeyParameterNames: keyNames(props),
    apiVersion: emptyToNull(props.string('apiVersion')),
    versionSetId,
    revision,
    // A ';rev=N' folder is a non-current revision unless it says otherwise; a plain folder is current.
    isCurrent: folderRevision === null ? isCurrentFlag !== false : isCurrentFlag === true,
    type: props.string('type') ?? props.string('apiType') ?? 'http',
    operations: await attachOperationPolicies(ctx, rel, specOps, scopePath),
    policy: await ctx.reader.readPolicy(`${rel}/policy.xml`),
    folder: rel,
  };
}

function noteSkippedEntries(ctx: LoadContext, rel: string, entries: readonly DirEntry[]): void {
  for (const entry of entries) {
    if (API_FILES.has(entry.name) || entry.name.startsWith('.')) continue;
    if (entry.name === 'tags.json') ctx.markers.add('v5');
    if (entry.name === 'tags' && entry.dir) ctx.markers.add('v6');
    const hint = entry.name === 'specification.yml' ? 'APIOps reads specification.yaml, not .yml' : undefined;
    ctx.skipped.note(`apis/*/${entry.name}`, `${rel}/${entry.name}`, hint);
  }
}

/** The first specification file in the APIOps publisher's lookup order; others are ignored with a warning. */
async function readSpec(ctx: LoadContext, rel: string, entries: readonly DirEntry[], props: Props, scopePath: string[]): Promise<SpecOperation[]> {
  const present = SPECIFICATION_FILES.filter((f) => entries.some((e) => e.name === f && !e.dir));
  const [chosen, ...others] = present;
  if (chosen === undefined) {
    ctx.diagnostics.report('GH_CONFIG_NOT_FOUND', undefined, `${rel}/ has no specification file; the API has no operations`, 'warning', scopePath);
    return [];
  }
  for (const other of others) {
    ctx.diagnostics.report('GH_CONFIG_ARTIFACT_SKIPPED', undefined, `${rel}/${other} ignored: ${chosen} is read first (APIOps order)`, 'warning', scopePath);
  }
  const file = `${rel}/${chosen}`;
  const text = await ctx.reader.readText(file);
  if (text === null) return [];
  const translate = props.string('translateRequiredQueryParameters') === 'query' ? 'query' : 'template';
  return readSpecification({ file, text }, ctx.diagnostics, { translateRequiredQueryParameters: translate, scopePath });
}

/**
 * Pairs `operations/<op>/policy.xml` with the specification's operations by name (exactly, then
 * ignoring case: APIM resource names are case-insensitive). A folder without an operation is reported.
 */
async function attachOperationPolicies(ctx: LoadContext, rel: string, ops: readonly SpecOperation[], scopePath: string[]): Promise<LoadedOperation[]> {
  const policies = new Map<string, PolicySource>();
  for (const entry of (await ctx.reader.list(`${rel}/operations`)) ?? []) {
    const opRel = `${rel}/operations/${entry.name}`;
    if (!entry.dir) {
      ctx.skipped.note('apis/*/operations/<file>', opRel, 'each operation is a folder');
      continue;
    }
    for (const inner of (await ctx.reader.list(opRel)) ?? []) {
      if (inner.name !== 'policy.xml' && !inner.name.startsWith('.')) ctx.skipped.note(`apis/*/operations/*/${inner.name}`, `${opRel}/${inner.name}`);
    }
    const policy = await ctx.reader.readPolicy(`${opRel}/policy.xml`);
    if (policy === null) continue;
    const op = ops.find((o) => o.name === entry.name) ?? ops.find((o) => o.name.toLowerCase() === entry.name.toLowerCase());
    if (op === undefined) {
      ctx.diagnostics.report('GH_CONFIG_OPERATION_NOT_FOUND', { file: policy.file, line: 1, column: 1 },
        `the specification has no operation '${entry.name}'; this policy is not used`, 'warning', scopePath);
      continue;
    }
    policies.set(op.name, policy);
  }
  return ops.map((op) => ({ ...op, policy: policies.get(op.name) ?? null }));
}

/** The overlay's serviceUrl wins (it points the folder at local services); a folder value must be http(s). */
function serviceUrl(ctx: LoadContext, name: string, props: Props): string | null {
  const fromOverlay = overlayEntry(ctx.overlay.overlay.serviceUrls, name);
  if (fromOverlay !== undefined) return fromOverlay;
  const url = emptyToNull(props.string('serviceUrl'));
  if (url !== null && !isHttpUrl(url)) {
    ctx.diagnostics.report('GH_CONFIG_SERVICE_URL_INVALID', props.at('serviceUrl'), `serviceUrl '${url}' is not an absolute http(s) URL (set apis.${name}.serviceUrl in the overlay to override it)`);
  }
  return url;
}

function keyNames(props: Props): SubscriptionKeyParameterNames {
  const names = props.object('subscriptionKeyParameterNames');
  return {
    header: emptyToNull(names?.string('header') ?? null) ?? DEFAULT_KEY_NAMES.header,
    query: emptyToNull(names?.string('query') ?? null) ?? DEFAULT_KEY_NAMES.query,
  };
}

/** Revisions of one API: exactly one current, no revision number twice. */
function checkRevisions(ctx: LoadContext, apis: readonly LoadedApi[]): void {
  const byName = new Map<string, LoadedApi[]>();
  for (const api of apis) byName.set(api.name, [...(byName.get(api.name) ?? []), api]);
  for (const [name, group] of byName) {
    const current = group.filter((a) => a.isCurrent);
    if (current.length > 1) {
      ctx.diagnostics.report('GH_CONFIG_API_REVISION_CONFLICT', undefined,
        `API '${name}' has ${current.length} current revisions (${current.map((a) => a.folder).join(', ')}); exactly one may be current`);
    } else if (current.length === 0) {
      ctx.diagnostics.report('GH_CONFIG_API_REVISION_CONFLICT', undefined,
        `API '${name}' has no current revision; only requests with ';rev=N' reach it`, 'warning');
    }
    const seen = new Map<string, string>();
    for (const api of group) {
      const other = seen.get(api.revision);
      if (other !== undefined) {
        ctx.diagnostics.report('GH_CONFIG_API_REVISION_CONFLICT', undefined, `${other} and ${api.folder} are both revision ${api.revision} of API '${name}'`);
      }
      seen.set(api.revision, api.folder);
    }
  }
}

/** '/apiVersionSets/x' or a full ARM id → 'x'. */
export function lastSegment(id: string | null): string | null {
  if (id === null) return null;
  const parts = id.split('/').filter((p) => p !== '');
  return parts.at(-1) ?? null;
}

function trimSlashes(path: string): string {
  return path.replace(/^\/+|\/+$/g, '');
}

function emptyToNull(value: string | null): string | null {
  return value === null || value.trim() === '' ? null : value;
}
