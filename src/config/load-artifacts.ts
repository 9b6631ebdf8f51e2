import { overlayEntry, requiredInfo } from './load-context.ts';
import type { LoadContext } from './load-context.ts';
import type { LoadedBackend, LoadedFragment, LoadedNamedValue, LoadedVersionSet, VersioningScheme } from './model.ts';
import { isHttpUrl } from './overlay-values.ts';

/** Sorted sub-folders of a collection folder; stray files are noted as skipped. */
async function folders(ctx: LoadContext, collection: string): Promise<string[]> {
  const names: string[] = [];
  for (const entry of (await ctx.reader.list(collection)) ?? []) {
    if (entry.dir) names.push(entry.name);
    else if (!entry.name.startsWith('.')) ctx.skipped.note(`files directly under ${collection}/`, `${collection}/${entry.name}`, 'each artifact is a folder');
  }
  return names;
}

/**
 * `named values/<nv>/namedValueInformation.json`. The overlay's value (by display name, or by resource
 * name from an APIOps configuration file) wins; Key Vault and secret values without one stay null
 * (the policy compiler reports GH_NAMED_VALUE_NO_VALUE only if a policy uses them).
 */
export async function loadNamedValues(ctx: LoadContext): Promise<LoadedNamedValue[]> {
  const out: LoadedNamedValue[] = [];
  const byDisplayName = new Map<string, string>();
  for (const name of await folders(ctx, 'named values')) {
    const rel = `named values/${name}`;
    const props = await requiredInfo(ctx, rel, 'namedValueInformation.json');
    if (props === null) continue;
    const displayName = props.string('displayName') ?? name;
    const secret = props.boolean('secret') ?? false;
    const keyVault = props.object('keyVault') !== null;
    const overlay = overlayEntry(ctx.overlay.overlay.namedValues, displayName) ?? overlayEntry(ctx.overlay.namedValuesByName, name);
    const value = overlay ?? props.string('value');
    if (value === null && !secret && !keyVault) {
      ctx.diagnostics.report('GH_CONFIG_JSON_INVALID', { file: `${rel}/namedValueInformation.json`, line: 1, column: 1 },
        `named value '${displayName}' has no value (set namedValues.${displayName} in the overlay)`, 'warning');
    }
    // {{name}} lookups ignore case, so display names that differ only in case collide.
    const other = byDisplayName.get(displayName.toLowerCase());
    if (other !== undefined) {
      ctx.diagnostics.report('GH_CONFIG_NAMED_VALUE_DUPLICATE', props.at('displayName'),
        `named values '${other}' and '${name}' both have display name '${displayName}'`);
    }
    byDisplayName.set(displayName.toLowerCase(), name);
    out.push({ name, displayName, value, secret: secret || keyVault });
  }
  return out;
}

/** `policy fragments/<f>/policy.xml` (required); policyFragmentInformation.json is read only to report JSON errors. */
export async function loadFragments(ctx: LoadContext): Promise<LoadedFragment[]> {
  const out: LoadedFragment[] = [];
  for (const id of await folders(ctx, 'policy fragments')) {
    const rel = `policy fragments/${id}`;
    await ctx.reader.readJson(`${rel}/policyFragmentInformation.json`);
    const policy = await ctx.reader.readPolicy(`${rel}/policy.xml`);
    if (policy === null) {
      ctx.diagnostics.report('GH_CONFIG_NOT_FOUND', undefined, `${rel}/ has no policy.xml; the fragment is skipped`);
      continue;
    }
    out.push({ id, policy });
  }
  return out;
}

const SCHEMES: Readonly<Record<string, VersioningScheme>> = { segment: 'Segment', query: 'Query', header: 'Header' };

/** `version sets/<vs>/versionSetInformation.json` (v7) or `apiVersionSetInformation.json` (v6 and older). */
export async function loadVersionSets(ctx: LoadContext): Promise<LoadedVersionSet[]> {
  const out: LoadedVersionSet[] = [];
  for (const id of await folders(ctx, 'version sets')) {
    const rel = `version sets/${id}`;
    const entries = (await ctx.reader.list(rel)) ?? [];
    const older = !entries.some((e) => e.name === 'versionSetInformation.json') && entries.some((e) => e.name === 'apiVersionSetInformation.json');
    if (older) ctx.markers.add('v6');
    const props = await requiredInfo(ctx, rel, older ? 'apiVersionSetInformation.json' : 'versionSetInformation.json');
    const schemeText = props?.requiredString('versioningScheme') ?? null;
    if (props === null || schemeText === null) continue;
    const scheme = SCHEMES[schemeText.toLowerCase()];
    if (scheme === undefined) {
      ctx.diagnostics.report('GH_CONFIG_JSON_INVALID', props.at('versioningScheme'), `versioningScheme '${schemeText}' is not Segment, Query or Header`);
      continue;
    }
    // The name is required only for the scheme that uses it; APIM documents no default name.
    const headerName = scheme === 'Header' ? props.requiredString('versionHeaderName') : props.string('versionHeaderName');
    const queryName = scheme === 'Query' ? props.requiredString('versionQueryName') : props.string('versionQueryName');
    if ((scheme === 'Header' && headerName === null) || (scheme === 'Query' && queryName === null)) continue;
    out.push({ id, displayName: props.string('displayName') ?? id, scheme, headerName, queryName });
  }
  return out;
}

/** `backends/<b>/backendInformation.json` `url`; the overlay's URL wins. Pools (no url) are skipped with a warning. */
export async function loadBackends(ctx: LoadContext): Promise<LoadedBackend[]> {
  const out: LoadedBackend[] = [];
  for (const id of await folders(ctx, 'backends')) {
    const rel = `backends/${id}`;
    const props = await requiredInfo(ctx, rel, 'backendInformation.json');
    if (props === null) continue;
    const fromOverlay = overlayEntry(ctx.overlay.overlay.backendUrls, id);
    if (fromOverlay !== undefined) {
      out.push({ id, url: fromOverlay });
      continue;
    }
    if (!props.has('url') && props.string('type')?.toLowerCase() === 'pool') {
      ctx.diagnostics.report('GH_CONFIG_ARTIFACT_SKIPPED', props.at('type'), `backend '${id}' is a load-balanced pool; gatehouse does not support pools yet`, 'warning');
      continue;
    }
    const url = props.requiredString('url');
    if (url === null) continue;
    if (!isHttpUrl(url)) {
      ctx.diagnostics.report('GH_CONFIG_SERVICE_URL_INVALID', props.at('url'), `backend url '${url}' is not an absolute http(s) URL (set backends.${id} in the overlay to override it)`);
      continue;
    }
    out.push({ id, url });
  }
  return out;
}
