import type { Node } from 'yaml';
import type { OverlayDraft } from './overlay.ts';
import type { OverlayValues } from './overlay-values.ts';

/**
 * APIOps publisher override files (`configuration.<env>.yaml`) list artifacts as
 * `- name: <resource name>` + `properties: {…}`. gatehouse maps the properties it has a place for
 * and warns (GH_CONFIG_ARTIFACT_SKIPPED, once per kind) about the rest.
 */
type EntryMapper = (name: string, props: Map<string, Node | null>, draft: OverlayDraft, values: OverlayValues, at: Node) => void;

/** What each mapped section reads from `properties`; other properties are reported as unused. */
const MAPPED: Record<string, { readonly used: readonly string[]; readonly map: EntryMapper }> = {
  namedValues: {
    used: ['value'],
    map: (name, props, d, v, at) => {
      const value = props.get('value');
      if (value === undefined || v.isUnset(value)) return;
      const text = v.string(value, `namedValues[${name}].properties.value`, true);
      if (text !== null) d.namedValuesByName[name] = text;
      d.origins.namedValuesByName.set(name, v.at(at));
    },
  },
  backends: {
    used: ['url'],
    map: (name, props, d, v, at) => {
      const url = props.get('url');
      if (url === undefined || v.isUnset(url)) return;
      const text = v.httpUrl(url, `backends[${name}].properties.url`);
      if (text !== null) d.backendUrls[name] = text;
      d.origins.backends.set(name, v.at(at));
    },
  },
  apis: {
    used: ['serviceUrl'],
    map: (name, props, d, v, at) => {
      const url = props.get('serviceUrl');
      if (url === undefined || v.isUnset(url)) return;
      // Overrides may name a revision ('echo;rev=2'); serviceUrls apply per API name.
      const api = name.split(';rev=')[0] ?? name;
      const text = v.httpUrl(url, `apis[${name}].properties.serviceUrl`);
      if (text !== null) d.serviceUrls[api] = text;
      d.origins.apis.set(api, v.at(at));
    },
  },
  subscriptions: {
    used: ['primaryKey', 'secondaryKey'],
    map: (name, props, d, v, at) => {
      const keys: { primaryKey?: string; secondaryKey?: string } = {};
      for (const key of ['primaryKey', 'secondaryKey'] as const) {
        const node = props.get(key);
        if (node === undefined || v.isUnset(node)) continue;
        const text = v.string(node, `subscriptions[${name}].properties.${key}`);
        if (text !== null) keys[key] = text;
      }
      if (keys.primaryKey === undefined && keys.secondaryKey === undefined) return;
      d.subscriptionKeys[name] = keys;
      d.origins.subscriptions.set(name, v.at(at));
    },
  },
};

/** Sections an APIOps override file lists as sequences that gatehouse maps. */
export const APIOPS_SECTIONS: Readonly<Record<string, true>> = { namedValues: true, backends: true, apis: true, subscriptions: true };

/** Applies one top-level key of an APIOps override file. */
export function applyApiopsSection(key: string, node: Node | null, keyNode: Node, draft: OverlayDraft, values: OverlayValues): void {
  if (key === 'apimServiceName') return; // names the Azure instance to publish to: nothing to do locally
  const section = Object.hasOwn(MAPPED, key) ? MAPPED[key] : undefined;
  if (section === undefined) {
    values.report(keyNode, `APIOps configuration section '${key}' is not used by gatehouse`, 'warning', 'GH_CONFIG_ARTIFACT_SKIPPED');
    return;
  }
  const unused = new Set<string>();
  for (const item of values.items(node, key)) {
    const entry = readEntry(item, key, values, unused);
    if (entry === null) continue;
    section.map(entry.name, entry.props, draft, values, item);
    for (const prop of entry.props.keys()) if (!section.used.includes(prop)) noteUnused(`${key}[].properties.${prop}`, item, unused, values);
  }
}

interface Entry {
  readonly name: string;
  readonly props: Map<string, Node | null>;
}

/** `{name, properties}`; other keys (an API's `diagnostics`, `operations` …) are reported once per kind. */
function readEntry(item: Node, section: string, values: OverlayValues, unused: Set<string>): Entry | null {
  let name: string | null = null;
  const props = new Map<string, Node | null>();
  for (const [key, value] of values.entries(item, `${section}[]`)) {
    if (key === 'name') name = values.string(value, `${section}[].name`);
    else if (key === 'properties') for (const [prop, propValue] of values.entries(value, `${section}[].properties`)) props.set(prop, propValue);
    else noteUnused(`${section}[].${key}`, item, unused, values);
  }
  if (name === null) {
    values.report(item, `${section}: every entry needs a 'name'`);
    return null;
  }
  return { name, props };
}

function noteUnused(kind: string, at: Node, seen: Set<string>, values: OverlayValues): void {
  if (seen.has(kind)) return;
  seen.add(kind);
  values.report(at, `APIOps configuration '${kind}' is not used by gatehouse`, 'warning', 'GH_CONFIG_ARTIFACT_SKIPPED');
}
