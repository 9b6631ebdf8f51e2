/**
 * APIM's subscription algorithm (api-management-subscriptions.md, "How API Management handles
 * requests with or without subscription keys"; apim-semantics.md §5.5), as pure functions over
 * data compiled at load. The gateway asks {@link resolveSubscription} once per request, after the
 * API is resolved and before any policy runs.
 *
 * With a key: a valid key of an active subscription scoped to the API, to a product that contains
 * the API (the request then runs in that product's context), or to all APIs (no product context,
 * so product policies are skipped, as APIM documents); any other key → 401 SubscriptionKeyInvalid.
 * Without a key: the API's open product → its context; else an API that needs no subscription →
 * no product; else 401 SubscriptionKeyNotFound.
 */
import type { LoadedApi, LoadedProduct } from '../config/model.ts';
import type { HeaderMap } from '../pipeline/context.ts';
import { queryValue } from '../routing/template.ts';
import type { AllowedResolution, DeniedResolution, SubscriptionKeys, SubscriptionResolution } from './keys.ts';

/** Per API revision, computed at load: everything the resolution reads. */
export interface ApiAccess {
  /** The API name (without ;rev=), what API-scoped subscriptions name. */
  readonly apiName: string;
  /** `subscriptionKeyParameterNames.header`, lower-cased once (HeaderMap keys are lower-case). */
  readonly headerName: string;
  /** `subscriptionKeyParameterNames.query`, lower-cased once (query names compare ignoring case, as the router's do). */
  readonly queryName: string;
  /** Products that contain the API. */
  readonly products: ReadonlySet<string>;
  /** The product that contains the API and requires no subscription, if any. */
  readonly openProduct: string | null;
  /** What a request without a key gets (open product, API context, or 401). */
  readonly keyless: SubscriptionResolution;
}

/** The 401 outcomes, shared. */
export const KEY_NOT_FOUND: DeniedResolution = Object.freeze({ kind: 'denied', reason: 'SubscriptionKeyNotFound' });
export const KEY_INVALID: DeniedResolution = Object.freeze({ kind: 'denied', reason: 'SubscriptionKeyInvalid' });
const API_CONTEXT: AllowedResolution = Object.freeze({ kind: 'allowed', product: null, subscription: null });

/**
 * Compiles an API revision's access rules. `products` are the products linking the API. The open
 * product is the one with `subscriptionRequired: false`, published or not: APIM says "API access
 * in a product context is the same, whether the product is published or not". APIM allows at
 * most one; {@link openProductConflicts} reports folders that have more (the first by name wins here).
 */
export function compileApiAccess(api: LoadedApi, products: readonly LoadedProduct[]): ApiAccess {
  const linked = products.filter((p) => p.apis.includes(api.name));
  const open = linked.filter((p) => !p.subscriptionRequired).map((p) => p.name).sort();
  const openProduct = open[0] ?? null;
  const keyless: SubscriptionResolution = openProduct !== null
    ? Object.freeze({ kind: 'allowed', product: openProduct, subscription: null })
    : api.subscriptionRequired ? KEY_NOT_FOUND : API_CONTEXT;
  return Object.freeze({
    apiName: api.name,
    headerName: api.subscriptionKeyParameterNames.header.toLowerCase(),
    queryName: api.subscriptionKeyParameterNames.query.toLowerCase(),
    products: new Set(linked.map((p) => p.name)),
    openProduct,
    keyless,
  });
}

/** API names linked from more than one open product, with those products (sorted). APIM refuses this. */
export function openProductConflicts(products: readonly LoadedProduct[]): Map<string, string[]> {
  const byApi = new Map<string, string[]>();
  for (const product of [...products].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    if (product.subscriptionRequired) continue;
    for (const api of product.apis) byApi.set(api, [...(byApi.get(api) ?? []), product.name]);
  }
  for (const [api, names] of byApi) if (names.length < 2) byApi.delete(api);
  return byApi;
}

/** The parts of a request the subscription check reads. */
export interface KeyedRequest {
  readonly headers: HeaderMap;
  /** Raw query string without '?'. */
  readonly query: string;
}

/**
 * The subscription key of a request: the header when present, else the query parameter
 * ("The query parameter is checked only if the header isn't present"). An empty value counts
 * as absent. Several header lines are joined with ', ', which matches no key: a request that
 * sends two keys is refused rather than guessed at. Hot path: one property read, and a query
 * scan only when the header is absent and there is a query.
 */
export function subscriptionKeyOf(access: ApiAccess, request: KeyedRequest): string | undefined {
  const header = request.headers[access.headerName];
  if (header !== undefined) {
    const value = typeof header === 'string' ? header : header.join(', ');
    if (value !== '') return value;
  }
  return queryKey(access, request.query);
}

function queryKey(access: ApiAccess, query: string): string | undefined {
  if (query === '') return undefined;
  const value = queryValue(query, access.queryName);
  return value === '' ? undefined : value;
}

/**
 * APIM's decision for one request (see the module comment). Pure; allocates nothing: every
 * result is a shared object built at load.
 */
export function resolveSubscription(access: ApiAccess, request: KeyedRequest, keys: SubscriptionKeys): SubscriptionResolution {
  const key = subscriptionKeyOf(access, request);
  return key === undefined ? access.keyless : resolveKey(access, key, keys);
}

/** A given key: valid, active, and scoped to this API, a product containing it, or all APIs. */
export function resolveKey(access: ApiAccess, key: string, keys: SubscriptionKeys): SubscriptionResolution {
  const entry = keys.byKey.get(key);
  if (entry === undefined || !entry.active) return KEY_INVALID;
  switch (entry.scope.kind) {
    case 'all':
      return entry.allowed;
    case 'api':
      return entry.scope.name === access.apiName ? entry.allowed : KEY_INVALID;
    case 'product':
      return entry.scope.name !== null && access.products.has(entry.scope.name) ? entry.allowed : KEY_INVALID;
  }
}

/**
 * The product context of a CORS preflight. A browser's preflight carries no author headers
 * (Fetch), so APIM can take the product only from a key in the query (cors-policy.md: "modify
 * requests to include a subscription key as a query parameter"). gatehouse ignores a key header
 * on a preflight even when a non-browser client sends one, so `curl` shows what a browser gets.
 * Without a query key the keyless rule applies (open product, else none). A key that is invalid
 * or scoped elsewhere gives no product. Never a 401: the subscription check does not run on
 * preflights (apim-semantics.md §1.5).
 */
export function resolvePreflightProduct(access: ApiAccess, query: string, keys: SubscriptionKeys): string | null {
  const key = queryKey(access, query);
  const resolution = key === undefined ? access.keyless : resolveKey(access, key, keys);
  return resolution.kind === 'allowed' ? resolution.product : null;
}
