import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LoadedApi, LoadedProduct, LoadedSubscription } from '../config/model.ts';
import { DiagnosticBag } from '../policy/diagnostics.ts';
import { compileApiAccess, openProductConflicts, resolvePreflightProduct, resolveSubscription, subscriptionKeyOf, type ApiAccess } from './access.ts';
import { compileSubscriptionKeys } from './keys.ts';

function api(name: string, overrides: Partial<LoadedApi> = {}): LoadedApi {
  return {
    name, displayName: name, path: name, serviceUrl: null, protocols: ['https'], subscriptionRequired: true,
    subscriptionKeyParameterNames: { header: 'Ocp-Apim-Subscription-Key', query: 'subscription-key' },
    apiVersion: null, versionSetId: null, revision: '1', isCurrent: true, type: 'http', operations: [], policy: null, folder: `apis/${name}`,
    ...overrides,
  };
}

function product(name: string, apis: string[], subscriptionRequired = true, state = 'published'): LoadedProduct {
  return { name, displayName: name, subscriptionRequired, state, apis, policy: null };
}

function sub(name: string, scope: LoadedSubscription['scope'], primaryKey: string | null, state = 'active', secondaryKey: string | null = null): LoadedSubscription {
  return { name, scope, state, primaryKey, secondaryKey, file: `subscriptions/${name}/subscriptionInformation.json` };
}

const PRODUCTS = [
  product('gold', ['orders', 'open-api']),
  product('silver', ['other']),
  product('free', ['public'], false, 'notPublished'),
];

const keys = compileSubscriptionKeys([
  sub('gold-sub', { kind: 'product', name: 'gold' }, 'gold-1', 'active', 'gold-2'),
  sub('silver-sub', { kind: 'product', name: 'silver' }, 'silver-1'),
  sub('orders-sub', { kind: 'api', name: 'orders' }, 'orders-1'),
  sub('all-sub', { kind: 'all', name: null }, 'all-1'),
  sub('suspended', { kind: 'product', name: 'gold' }, 'suspended-1', 'suspended'),
  sub('cancelled', { kind: 'all', name: null }, 'cancelled-1', 'cancelled'),
  sub('free-sub', { kind: 'product', name: 'free' }, 'free-1'),
], new DiagnosticBag());

const orders = compileApiAccess(api('orders'), PRODUCTS);
const openApi = compileApiAccess(api('open-api', { subscriptionRequired: false }), PRODUCTS);
const publicApi = compileApiAccess(api('public'), PRODUCTS);
const custom = compileApiAccess(api('custom', { subscriptionKeyParameterNames: { header: 'X-Api-Key', query: 'ApiKey' } }), [product('gold', ['custom'])]);

type Expect = string;
/** 'product:<p>' | 'api' (allowed, no product) | 'NotFound' | 'Invalid', plus '@<subscription>' when a key was used. */
function outcome(access: ApiAccess, headers: Record<string, string | string[]>, query = ''): Expect {
  const r = resolveSubscription(access, { headers, query }, keys);
  if (r.kind === 'denied') return r.reason === 'SubscriptionKeyNotFound' ? 'NotFound' : 'Invalid';
  return `${r.product === null ? 'api' : `product:${r.product}`}${r.subscription === null ? '' : `@${r.subscription}`}`;
}

const H = 'ocp-apim-subscription-key';

const cases: [string, ApiAccess, Record<string, string | string[]>, string, Expect][] = [
  ['product key in the header → that product', orders, { [H]: 'gold-1' }, '', 'product:gold@gold-sub'],
  ['secondary key works the same', orders, { [H]: 'gold-2' }, '', 'product:gold@gold-sub'],
  ['product key in the query', orders, {}, 'a=1&subscription-key=gold-1', 'product:gold@gold-sub'],
  ['query parameter name ignores case', orders, {}, 'Subscription-Key=gold-1', 'product:gold@gold-sub'],
  ['percent-encoded query key is decoded', orders, {}, 'subscription-key=gold%2D1', 'product:gold@gold-sub'],
  ['header wins over the query (query not read)', orders, { [H]: 'orders-1' }, 'subscription-key=gold-1', 'api@orders-sub'],
  ['a wrong header key is not rescued by a good query key', orders, { [H]: 'nope' }, 'subscription-key=gold-1', 'Invalid'],
  ['an empty header counts as absent: the query is read', orders, { [H]: '' }, 'subscription-key=gold-1', 'product:gold@gold-sub'],
  ['API-scoped key → no product context', orders, { [H]: 'orders-1' }, '', 'api@orders-sub'],
  ['all-APIs key → no product context', orders, { [H]: 'all-1' }, '', 'api@all-sub'],
  ['key of a product without the API → invalid', orders, { [H]: 'silver-1' }, '', 'Invalid'],
  ['API-scoped key of another API → invalid', publicApi, { [H]: 'orders-1' }, '', 'Invalid'],
  ['unknown key → invalid', orders, { [H]: 'nope' }, '', 'Invalid'],
  ['keys compare exactly (case matters)', orders, { [H]: 'GOLD-1' }, '', 'Invalid'],
  ['suspended subscription → invalid', orders, { [H]: 'suspended-1' }, '', 'Invalid'],
  ['cancelled all-APIs subscription → invalid', orders, { [H]: 'cancelled-1' }, '', 'Invalid'],
  ['two header lines → invalid, never guessed', orders, { [H]: ['gold-1', 'gold-2'] }, '', 'Invalid'],
  ['no key, subscription required, no open product → not found', orders, {}, '', 'NotFound'],
  ['empty query value → not found', orders, {}, 'subscription-key=', 'NotFound'],
  ['no key, API needs none → API context', openApi, {}, '', 'api'],
  ['a key on an open API still selects its product', openApi, { [H]: 'gold-1' }, '', 'product:gold@gold-sub'],
  ['a bad key on an open API is still refused', openApi, { [H]: 'nope' }, '', 'Invalid'],
  ['no key, open product (not published) → its context', publicApi, {}, '', 'product:free'],
  ['a key of the open product works too', publicApi, { [H]: 'free-1' }, '', 'product:free@free-sub'],
  ['an all-APIs key on an API in an open product → no product', publicApi, { [H]: 'all-1' }, '', 'api@all-sub'],
  ['custom header name', custom, { 'x-api-key': 'gold-1' }, '', 'product:gold@gold-sub'],
  ['custom query name (configured in mixed case)', custom, {}, 'apikey=gold-1', 'product:gold@gold-sub'],
  ['default names do not apply when custom ones are set', custom, { [H]: 'gold-1' }, 'subscription-key=gold-1', 'NotFound'],
];

for (const [name, access, headers, query, expected] of cases) {
  test(`resolveSubscription: ${name}`, () => {
    assert.equal(outcome(access, headers, query), expected);
  });
}

test('resolutions are shared objects: the request path allocates none', () => {
  const a = resolveSubscription(orders, { headers: { [H]: 'gold-1' }, query: '' }, keys);
  const b = resolveSubscription(orders, { headers: {}, query: 'subscription-key=gold-2' }, keys);
  assert.equal(a, b);
  assert.equal(resolveSubscription(orders, { headers: {}, query: '' }, keys), resolveSubscription(orders, { headers: { [H]: '' }, query: '' }, keys));
});

test('subscriptionKeyOf: header first, query only without it', () => {
  assert.equal(subscriptionKeyOf(orders, { headers: { [H]: 'h' }, query: 'subscription-key=q' }), 'h');
  assert.equal(subscriptionKeyOf(orders, { headers: {}, query: 'subscription-key=q' }), 'q');
  assert.equal(subscriptionKeyOf(orders, { headers: {}, query: 'other=q' }), undefined);
  assert.equal(subscriptionKeyOf(orders, { headers: { [H]: ['a', 'b'] }, query: '' }), 'a, b');
});

test('resolvePreflightProduct: only a query key selects a product; never a 401', () => {
  assert.equal(resolvePreflightProduct(orders, 'subscription-key=gold-1', keys), 'gold');
  assert.equal(resolvePreflightProduct(orders, '', keys), null, 'no key, subscription required: no product, no 401');
  assert.equal(resolvePreflightProduct(orders, 'subscription-key=nope', keys), null);
  assert.equal(resolvePreflightProduct(orders, 'subscription-key=orders-1', keys), null, 'API-scoped key: no product');
  assert.equal(resolvePreflightProduct(publicApi, '', keys), 'free', 'keyless: the open product');
  assert.equal(resolvePreflightProduct(publicApi, 'subscription-key=all-1', keys), null);
});

test('compileApiAccess: lower-cased names, products, open product regardless of publication', () => {
  assert.equal(custom.headerName, 'x-api-key');
  assert.equal(custom.queryName, 'apikey');
  assert.deepEqual([...orders.products], ['gold']);
  assert.equal(orders.openProduct, null);
  assert.equal(publicApi.openProduct, 'free');
  assert.deepEqual(publicApi.keyless, { kind: 'allowed', product: 'free', subscription: null });
});

test('openProductConflicts: an API in two open products', () => {
  const conflicts = openProductConflicts([product('b-open', ['x', 'y'], false), product('a-open', ['x'], false), product('closed', ['x', 'y'])]);
  assert.deepEqual([...conflicts], [['x', ['a-open', 'b-open']]]);
  // The first by name is what keyless requests use.
  assert.equal(compileApiAccess(api('x'), [product('b-open', ['x'], false), product('a-open', ['x'], false)]).openProduct, 'a-open');
});
