import { isObject } from './artifact.ts';
import type { JsonArtifact } from './artifact.ts';
import { overlayEntry, requiredInfo } from './load-context.ts';
import type { LoadContext } from './load-context.ts';
import type { LoadedProduct, LoadedSubscription } from './model.ts';

/** Entries of a product folder that gatehouse reads. */
const PRODUCT_FILES = new Set(['productInformation.json', 'policy.xml', 'apis', 'apis.json']);

/** APIM subscription states (ARM SubscriptionState). */
const SUBSCRIPTION_STATES = new Set(['active', 'suspended', 'submitted', 'rejected', 'cancelled', 'expired']);

/**
 * Reads `products/<p>/`: information, policy, and the product→API links in both shapes
 * (v7 `apis/<api>/productApiInformation.json` folders, v5 `apis.json` = `[{"name": "x"}]`).
 */
export async function loadProducts(ctx: LoadContext): Promise<LoadedProduct[]> {
  const products: LoadedProduct[] = [];
  for (const entry of (await ctx.reader.list('products')) ?? []) {
    if (!entry.dir) {
      ctx.skipped.note('files directly under products/', `products/${entry.name}`, 'each product is a folder');
      continue;
    }
    const product = await loadProduct(ctx, entry.name);
    if (product) products.push(product);
  }
  return products;
}

async function loadProduct(ctx: LoadContext, name: string): Promise<LoadedProduct | null> {
  const rel = `products/${name}`;
  const props = await requiredInfo(ctx, rel, 'productInformation.json');
  if (props === null) return null;
  const entries = (await ctx.reader.list(rel)) ?? [];
  for (const entry of entries) {
    if (PRODUCT_FILES.has(entry.name) || entry.name.startsWith('.')) continue;
    if (entry.name.endsWith('.json')) ctx.markers.add('v5'); // groups.json, tags.json
    if (entry.name === 'tags' && entry.dir) ctx.markers.add('v6');
    ctx.skipped.note(`products/*/${entry.name}`, `${rel}/${entry.name}`);
  }
  const apis = new Set<string>();
  for (const link of (await ctx.reader.list(`${rel}/apis`)) ?? []) {
    if (link.dir) apis.add(apiName(link.name));
  }
  const list = await ctx.reader.readJson(`${rel}/apis.json`);
  if (list !== null) {
    ctx.markers.add('v5');
    for (const api of linkList(ctx, list)) apis.add(api);
  }
  const sorted = [...apis].sort();
  for (const api of sorted) ctx.references.push({ kind: 'api', name: api, from: `${rel}/`, at: undefined, severity: 'warning' });
  return {
    name,
    displayName: props.string('displayName') ?? name,
    subscriptionRequired: props.boolean('subscriptionRequired') ?? true,
    state: props.string('state') ?? 'notPublished',
    apis: sorted,
    policy: await ctx.reader.readPolicy(`${rel}/policy.xml`),
  };
}

/** v5 `apis.json`: an array of `{"name": "<api>"}`; bad entries are reported at their position. */
function linkList(ctx: LoadContext, file: JsonArtifact): string[] {
  if (!Array.isArray(file.value)) {
    ctx.diagnostics.report('GH_CONFIG_JSON_INVALID', file.at([]), 'expected an array of {"name": "<api name>"}');
    return [];
  }
  const names: string[] = [];
  file.value.forEach((item: unknown, i) => {
    const name = isObject(item) ? item['name'] : undefined;
    if (typeof name === 'string' && name !== '') names.push(apiName(name));
    else ctx.diagnostics.report('GH_CONFIG_JSON_INVALID', file.at([i]), 'expected {"name": "<api name>"}');
  });
  return names;
}

/** A link may name a revision or be a full id; the product links the API itself. */
function apiName(ref: string): string {
  const last = ref.split('/').filter((p) => p !== '').at(-1) ?? ref;
  return last.split(';rev=')[0] ?? last;
}

/**
 * Reads `subscriptions/<s>/subscriptionInformation.json`. Scope: `/products/p`, `/apis/a`, `/apis`
 * (all APIs), or a full ARM id resolved by its last two segments; the service id means all APIs.
 * Keys come from the overlay first, then the file; state defaults to 'active'.
 */
export async function loadSubscriptions(ctx: LoadContext): Promise<LoadedSubscription[]> {
  const subscriptions: LoadedSubscription[] = [];
  for (const entry of (await ctx.reader.list('subscriptions')) ?? []) {
    if (!entry.dir) continue;
    const rel = `subscriptions/${entry.name}`;
    const file = `${rel}/subscriptionInformation.json`;
    const props = await requiredInfo(ctx, rel, 'subscriptionInformation.json');
    const scopeText = props?.requiredString('scope') ?? null;
    if (props === null || scopeText === null) continue;
    const scope = parseScope(scopeText);
    if (scope === null) {
      ctx.diagnostics.report('GH_CONFIG_JSON_INVALID', props.at('scope'), `scope '${scopeText}' is not /products/<p>, /apis/<a> or /apis`);
      continue;
    }
    if (scope.kind !== 'all') ctx.references.push({ kind: scope.kind, name: scope.name, from: file, at: props.at('scope'), severity: 'warning' });
    const state = props.string('state') ?? 'active';
    if (!SUBSCRIPTION_STATES.has(state)) {
      ctx.diagnostics.report('GH_CONFIG_JSON_INVALID', props.at('state'), `state '${state}' is not one of ${[...SUBSCRIPTION_STATES].join(', ')}`);
      continue;
    }
    const keys = overlayEntry(ctx.overlay.overlay.subscriptionKeys, entry.name);
    subscriptions.push({
      name: entry.name,
      scope,
      state,
      primaryKey: keys?.primaryKey ?? props.string('primaryKey'),
      secondaryKey: keys?.secondaryKey ?? props.string('secondaryKey'),
      file,
    });
  }
  return subscriptions;
}

type Scope = { kind: 'product' | 'api'; name: string } | { kind: 'all'; name: null };

/** Resolves a subscription scope by its last two path segments (case-insensitive collection names). */
export function parseScope(scope: string): Scope | null {
  const parts = scope.split('/').filter((p) => p !== '');
  const last = parts.at(-1);
  const collection = parts.at(-2)?.toLowerCase();
  if (last === undefined) return null;
  if (collection === 'products') return { kind: 'product', name: last };
  if (collection === 'apis') return { kind: 'api', name: last.split(';rev=')[0] ?? last };
  if (last.toLowerCase() === 'apis' || collection === 'service') return { kind: 'all', name: null };
  return null;
}
