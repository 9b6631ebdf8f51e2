/**
 * Subscriptions, products, versions and revisions through a real gateway: the APIOps folder
 * test/fixtures/subscriptions, a real node:http backend on port 0 that echoes what it received,
 * the real HTTP server, requests through undici. docs/subscriptions-and-versions.md has the rules.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { createGateway, type Gateway } from '../../src/gateway.ts';

const FOLDER = fileURLToPath(new URL('../fixtures/subscriptions', import.meta.url));
const API_NAMES = ['catalog', 'public', 'anon', 'custom', 'secure', 'books', 'books-v2', 'music-v1', 'music-v2', 'films-v1', 'films-v2', 'echo', 'preflight-op'];

const MISSING = { statusCode: 401, message: 'Access denied due to missing subscription key. Make sure to include subscription key when making requests to an API.' };
const INVALID = { statusCode: 401, message: 'Access denied due to invalid subscription key. Make sure to provide a valid key for an active subscription.' };
const NOT_FOUND = { statusCode: 404, message: 'Resource not found' };

let backend: Server;
let backendUrl: string;
let gateway: Gateway;
let generatedKey: string;
/** Requests the backend received, to prove a refused request never reached it. */
let backendHits = 0;

function startEcho(): Promise<Server> {
  const server = createServer((req, res) => {
    backendHits++;
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers }));
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

const serviceUrls = () => Object.fromEntries(API_NAMES.map((name) => [name, `${backendUrl}/${name}`]));

before(async () => {
  backend = await startEcho();
  backendUrl = `http://127.0.0.1:${(backend.address() as AddressInfo).port}`;
  gateway = await createGateway({ configDir: FOLDER, port: 0, host: '127.0.0.1', serviceUrls: serviceUrls() });
  generatedKey = gateway.snapshot.subscriptions.generated.find((g) => g.subscription === 'gold-generated')?.primaryKey ?? '';
});

after(async () => {
  await gateway?.close();
  backend?.closeAllConnections();
  await new Promise((r) => backend?.close(r));
});

async function call(method: string, path: string, headers: Record<string, string> = {}, base = gateway.url) {
  const res = await request(`${base}${path}`, { method: method as 'GET', headers });
  const text = await res.body.text();
  return {
    status: res.statusCode,
    headers: res.headers,
    text,
    json: () => JSON.parse(text) as { method: string; url: string; headers: Record<string, string> } & Record<string, unknown>,
  };
}

const KEY = 'ocp-apim-subscription-key';

describe('subscription keys', () => {
  test('a product key in the header: 200 in the product context, the key travels to the backend', async () => {
    const res = await call('GET', '/catalog/items', { [KEY]: 'gold-primary-key' });
    assert.equal(res.status, 200);
    assert.equal(res.headers['x-product'], 'gold', 'product-scope outbound ran');
    assert.equal(res.headers['x-api'], 'catalog');
    const echo = res.json();
    assert.equal(echo.url, '/catalog/items');
    assert.equal(echo.headers[KEY], 'gold-primary-key', 'APIM forwards the key header');
  });

  test('a product key in the query: same context, and the query (key included) is forwarded', async () => {
    const res = await call('GET', '/catalog/items?x=1&subscription-key=gold-primary-key');
    assert.equal(res.status, 200);
    assert.equal(res.headers['x-product'], 'gold');
    assert.equal(res.json().url, '/catalog/items?x=1&subscription-key=gold-primary-key');
  });

  test('the secondary key works like the primary', async () => {
    const res = await call('GET', '/catalog/items/7', { [KEY]: 'gold-secondary-key' });
    assert.equal(res.status, 200);
    assert.equal(res.headers['x-product'], 'gold');
    assert.equal(res.json().url, '/catalog/items/7');
  });

  test('header and query both present: the header wins and the query is not read', async () => {
    // API-scoped key in the header, product key in the query: the API context (no product policies).
    const apiScoped = await call('GET', '/catalog/items?subscription-key=gold-primary-key', { [KEY]: 'catalog-api-key' });
    assert.equal(apiScoped.status, 200);
    assert.equal(apiScoped.headers['x-product'], undefined);
    // A wrong header key is not rescued by a good query key.
    const wrongHeader = await call('GET', '/catalog/items?subscription-key=gold-primary-key', { [KEY]: 'wrong' });
    assert.equal(wrongHeader.status, 401);
    assert.deepEqual(JSON.parse(wrongHeader.text), INVALID);
  });

  test('no key where one is required: 401 SubscriptionKeyNotFound with APIM\'s body; on-error ran; nothing reached the backend', async () => {
    const hits = backendHits;
    const res = await call('GET', '/catalog/items', { origin: 'http://app.localhost:3000' });
    assert.equal(backendHits, hits);
    assert.equal(res.status, 401);
    assert.equal(res.headers['content-type'], 'application/json');
    assert.equal(res.text, JSON.stringify(MISSING));
    assert.equal(res.headers['x-on-error'], 'global', 'global on-error runs for the authorization error');
    assert.equal(res.headers['access-control-allow-origin'], undefined, 'gateway errors carry no CORS headers (APIM)');
    assert.equal(res.headers['x-product'], undefined);
  });

  test('a wrong key: 401 SubscriptionKeyInvalid with APIM\'s body; nothing reached the backend', async () => {
    const hits = backendHits;
    const res = await call('GET', '/catalog/items', { [KEY]: 'not-a-key' });
    assert.equal(backendHits, hits);
    assert.equal(res.status, 401);
    assert.equal(res.text, JSON.stringify(INVALID));
    assert.equal(res.headers['x-on-error'], 'global');
  });

  test('keys compare exactly: the right key in another letter case is invalid', async () => {
    assert.equal((await call('GET', '/catalog/items', { [KEY]: 'GOLD-PRIMARY-KEY' })).status, 401);
  });

  test('a suspended subscription\'s key is invalid', async () => {
    const res = await call('GET', '/catalog/items', { [KEY]: 'gold-suspended-key' });
    assert.equal(res.status, 401);
    assert.deepEqual(JSON.parse(res.text), INVALID);
  });

  test('a product key for a product that does not contain the API is invalid', async () => {
    const res = await call('GET', '/public/items', { [KEY]: 'gold-primary-key' });
    assert.equal(res.status, 401);
    assert.deepEqual(JSON.parse(res.text), INVALID);
  });

  test('an open product (not even published) serves keyless requests in its context', async () => {
    const res = await call('GET', '/public/items');
    assert.equal(res.status, 200);
    assert.equal(res.headers['x-product'], 'free');
    assert.equal(res.headers['x-api'], 'public');
  });

  test('an API with subscriptionRequired false and no open product: keyless requests run without a product', async () => {
    const keyless = await call('GET', '/anon/items');
    assert.equal(keyless.status, 200);
    assert.equal(keyless.headers['x-product'], undefined);
    // A valid key still selects its product; a bad one is still refused.
    const keyed = await call('GET', '/anon/items', { [KEY]: 'gold-primary-key' });
    assert.equal(keyed.headers['x-product'], 'gold');
    assert.equal((await call('GET', '/anon/items', { [KEY]: 'wrong' })).status, 401);
  });

  test('an API-scoped key skips product-scope policies (APIM)', async () => {
    const res = await call('GET', '/catalog/items', { [KEY]: 'catalog-api-key' });
    assert.equal(res.status, 200);
    assert.equal(res.headers['x-api'], 'catalog');
    assert.equal(res.headers['x-product'], undefined);
    // …and covers only its own API.
    assert.equal((await call('GET', '/anon/items', { [KEY]: 'catalog-api-key' })).status, 401);
  });

  test('an all-APIs key opens every API, without product policies', async () => {
    for (const path of ['/catalog/items', '/custom/items', '/public/items']) {
      const res = await call('GET', path, path === '/custom/items' ? { 'x-api-key': 'all-apis-key' } : { [KEY]: 'all-apis-key' });
      assert.equal(res.status, 200, path);
      assert.equal(res.headers['x-product'], undefined, path);
    }
  });

  test('keys from the overlay and generated keys work', async () => {
    assert.equal((await call('GET', '/catalog/items', { [KEY]: 'overlay-primary-key' })).headers['x-product'], 'gold');
    assert.match(generatedKey, /^[0-9a-f]{32}$/);
    const res = await call('GET', '/catalog/items', { [KEY]: generatedKey });
    assert.equal(res.status, 200);
    assert.equal(res.headers['x-product'], 'gold');
  });

  test('custom subscriptionKeyParameterNames: its header and query name, not the defaults', async () => {
    assert.equal((await call('GET', '/custom/items', { 'x-api-key': 'gold-primary-key' })).headers['x-product'], 'gold');
    assert.equal((await call('GET', '/custom/items?apikey=gold-primary-key')).headers['x-product'], 'gold');
    const defaults = await call('GET', '/custom/items?subscription-key=gold-primary-key', { [KEY]: 'gold-primary-key' });
    assert.equal(defaults.status, 401);
    assert.deepEqual(JSON.parse(defaults.text), MISSING);
  });

  test('an unknown operation is 404 before the subscription check', async () => {
    const res = await call('GET', '/catalog/nothing/here');
    assert.equal(res.status, 404);
    assert.deepEqual(JSON.parse(res.text), NOT_FOUND);
    assert.equal(res.headers['x-on-error'], 'global');
  });
});

describe('preflights under subscriptions (HTTP level; the browser cases are in test/browser)', () => {
  const preflight = (path: string, extra: Record<string, string> = {}) =>
    call('OPTIONS', path, { origin: 'http://app.localhost:3000', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type', ...extra });

  test('product-scope cors answers a preflight only when the key is in the query', async () => {
    const query = await preflight('/catalog/items?subscription-key=gold-primary-key');
    assert.equal(query.status, 200);
    assert.equal(query.headers['access-control-allow-origin'], '*');
    assert.equal(query.text, '');
    // A key header (which browsers never send on a preflight) is ignored: the product stays unresolved.
    const header = await preflight('/catalog/items', { [KEY]: 'gold-primary-key' });
    assert.equal(header.status, 404);
    assert.equal(header.headers['access-control-allow-origin'], undefined);
  });

  test('a preflight never gets a 401, even with a wrong key or none', async () => {
    assert.equal((await preflight('/catalog/items')).status, 404);
    assert.equal((await preflight('/catalog/items?subscription-key=wrong')).status, 404);
    // API-scope cors answers without any key.
    const secure = await preflight('/secure/items');
    assert.equal(secure.status, 200);
    assert.equal(secure.headers['access-control-allow-origin'], '*');
  });

  test('an API-scoped key in the query resolves no product: product cors does not answer', async () => {
    assert.equal((await preflight('/catalog/items?subscription-key=catalog-api-key')).status, 404);
  });

  test('the actual request with the key in the query gets the product cors headers', async () => {
    const res = await call('POST', '/catalog/items?subscription-key=gold-primary-key', { origin: 'http://app.localhost:3000' });
    assert.equal(res.status, 200);
    assert.equal(res.headers['access-control-allow-origin'], '*');
  });
});

describe('versions', () => {
  test('Segment: the version segment picks the API; no segment is the Original; an unknown one is not a version', async () => {
    const v2 = await call('GET', '/books/v2/items/1');
    assert.equal(v2.status, 200);
    assert.equal(v2.headers['x-version'], 'books-v2');
    assert.equal(v2.json().url, '/books-v2/items/1', 'the version segment is not forwarded');
    const original = await call('GET', '/books/items');
    assert.equal(original.headers['x-version'], 'books-original');
    assert.equal(original.json().url, '/books/items');
    // 'v9' names no version, so it is the start of the Original's path: no such operation → 404.
    assert.equal((await call('GET', '/books/v9/items')).status, 404);
  });

  test('Query: the configured parameter picks the version; none (no Original) or an unknown one → 404', async () => {
    const v2 = await call('GET', '/music/items?api-version=v2');
    assert.equal(v2.headers['x-version'], 'music-v2');
    assert.equal(v2.json().url, '/music-v2/items?api-version=v2');
    assert.equal((await call('GET', '/music/items?api-version=v1')).headers['x-version'], 'music-v1');
    const none = await call('GET', '/music/items');
    assert.equal(none.status, 404);
    assert.deepEqual(JSON.parse(none.text), NOT_FOUND);
    assert.equal((await call('GET', '/music/items?api-version=v9')).status, 404);
  });

  test('Header: the configured header picks the version; none or an unknown one → 404', async () => {
    assert.equal((await call('GET', '/films/items', { 'api-version': 'v1' })).headers['x-version'], 'films-v1');
    assert.equal((await call('GET', '/films/items', { 'Api-Version': 'v2' })).headers['x-version'], 'films-v2');
    assert.equal((await call('GET', '/films/items')).status, 404);
    assert.equal((await call('GET', '/films/items', { 'api-version': 'v3' })).status, 404);
  });

  test('preflights: Segment and Query versions answer from their cors; a Header-versioned API is not found', async () => {
    const headers = { origin: 'http://app.localhost:3000', 'access-control-request-method': 'GET', 'access-control-request-headers': 'x-client' };
    const segment = await call('OPTIONS', '/books/v2/items', headers);
    assert.equal(segment.status, 200);
    assert.equal(segment.headers['access-control-allow-origin'], '*');
    const query = await call('OPTIONS', '/music/items?api-version=v2', headers);
    assert.equal(query.status, 200);
    assert.equal(query.headers['access-control-allow-origin'], '*');
    const header = await call('OPTIONS', '/films/items', { ...headers, 'access-control-request-headers': 'api-version' });
    assert.equal(header.status, 404);
    assert.deepEqual(JSON.parse(header.text), NOT_FOUND);
    assert.equal(header.headers['access-control-allow-origin'], undefined);
  });
});

describe('revisions', () => {
  test('plain URLs reach the current revision (isCurrent), ;rev=N any revision, an unknown one 404', async () => {
    const current = await call('GET', '/echo/items');
    assert.equal(current.headers['x-revision'], '2');
    const rev1 = await call('GET', '/echo;rev=1/items/5');
    assert.equal(rev1.status, 200);
    assert.equal(rev1.headers['x-revision'], '1');
    assert.equal(rev1.json().url, '/echo/items/5', ';rev= is not forwarded');
    assert.equal((await call('GET', '/echo;rev=3/items')).headers['x-revision'], '3');
    assert.equal((await call('GET', '/echo;rev=2/items')).headers['x-revision'], '2');
    const unknown = await call('GET', '/echo;rev=9/items');
    assert.equal(unknown.status, 404);
    assert.deepEqual(JSON.parse(unknown.text), NOT_FOUND);
  });
});

describe('compat.corsOnGatewayErrors', () => {
  let dir: string;
  let withCors: Gateway;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gatehouse-subs-'));
    const overlay = join(dir, 'overlay.yaml');
    await writeFile(overlay, 'compat:\n  corsOnGatewayErrors: true\nsubscriptions:\n  gold-overlay:\n    primaryKey: overlay-primary-key\n');
    withCors = await createGateway({ configDir: FOLDER, overlayFile: overlay, port: 0, host: '127.0.0.1', serviceUrls: serviceUrls() });
  });
  after(async () => {
    await withCors?.close();
    await rm(dir, { recursive: true, force: true });
  });

  test('off (APIM): a 401 carries no CORS headers even where the API has cors', async () => {
    const res = await call('GET', '/secure/items', { origin: 'http://app.localhost:3000', [KEY]: 'wrong' });
    assert.equal(res.status, 401);
    assert.equal(res.headers['access-control-allow-origin'], undefined);
  });

  test('on: the 401 gets the API\'s cors decision, so a browser can read it', async () => {
    const res = await call('GET', '/secure/items', { origin: 'http://app.localhost:3000', [KEY]: 'wrong' }, withCors.url);
    assert.equal(res.status, 401);
    assert.deepEqual(JSON.parse(res.text), INVALID);
    assert.equal(res.headers['access-control-allow-origin'], '*');
    const missing = await call('GET', '/secure/items', { origin: 'http://app.localhost:3000' }, withCors.url);
    assert.deepEqual(JSON.parse(missing.text), MISSING);
    assert.equal(missing.headers['access-control-allow-origin'], '*');
  });

  test('a good key still works on that gateway (API-scoped subscription)', async () => {
    const res = await call('GET', '/secure/items', { [KEY]: 'secure-key' }, withCors.url);
    assert.equal(res.status, 200);
    assert.equal(res.headers['x-api'], 'secure');
  });
});

describe('an OPTIONS operation takes a preflight-shaped request out of the preflight path', () => {
  const preflightHeaders = { origin: 'http://app.localhost:3000', 'access-control-request-method': 'GET' };
  test('it is an ordinary request: without a key, 401 and the backend is never called', async () => {
    const before = backendHits;
    const res = await call('OPTIONS', '/preflight-op/items', preflightHeaders);
    assert.equal(res.status, 401);
    assert.deepEqual(JSON.parse(res.text), MISSING);
    assert.equal(backendHits, before);
  });
  test('with a valid key (header or query) the operation runs, backend included', async () => {
    const viaHeader = await call('OPTIONS', '/preflight-op/items', { ...preflightHeaders, [KEY]: 'preflight-op-key' });
    assert.equal(viaHeader.status, 200);
    assert.equal(viaHeader.json().method, 'OPTIONS');
    const viaQuery = await call('OPTIONS', '/preflight-op/items?subscription-key=preflight-op-key', preflightHeaders);
    assert.equal(viaQuery.status, 200);
    assert.equal(viaQuery.json().method, 'OPTIONS');
  });
});

