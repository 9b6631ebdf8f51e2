/**
 * The realistic APIOps folders (test/fixtures/apiops-v7 and the older apiops-v5 shape) served by
 * a real gateway: an overlay points every API and backend at a local echo server, the rest is the
 * folder as APIOps extracted it (products, subscriptions, version sets, revisions, fragments,
 * named values, set-backend-service backend-id).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { createGateway, loadGatewayConfig, type Gateway } from '../../src/gateway.ts';

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));

let echo: Server;
let echoUrl: string;
let tmp: string;
let v7: Gateway;

before(async () => {
  echo = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ url: req.url, headers: req.headers }));
    });
  });
  await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
  echoUrl = `http://127.0.0.1:${(echo.address() as AddressInfo).port}`;
  tmp = await mkdtemp(join(tmpdir(), 'gatehouse-v7-'));
  const overlay = join(tmp, 'gatehouse.yaml');
  await writeFile(
    overlay,
    [
      'namedValues:',
      '  KvToken: local-kv-token',
      '  api-secret: local-secret',
      'subscriptions:',
      '  echo-sub:',
      '    primaryKey: echo-local-primary',
      'backends:',
      `  orders-backend: ${echoUrl}/orders-backend`,
      'apis:',
      `  echo-api: { serviceUrl: "${echoUrl}/echo" }`,
      `  orders-v1: { serviceUrl: "${echoUrl}/orders-v1" }`,
      `  petstore-legacy: { serviceUrl: "${echoUrl}/petstore" }`,
      '',
    ].join('\n'),
  );
  v7 = await createGateway({ configDir: fixture('apiops-v7'), overlayFile: overlay, port: 0, host: '127.0.0.1' });
});

after(async () => {
  await v7?.close();
  echo?.closeAllConnections();
  await new Promise((r) => echo?.close(r));
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

async function get(path: string, headers: Record<string, string> = {}, method: 'GET' | 'POST' = 'GET') {
  const res = await request(`${v7.url}${path}`, { headers, method, body: method === 'POST' ? '{}' : undefined });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, body: text.startsWith('{') ? (JSON.parse(text) as { url?: string; headers?: Record<string, string>; message?: string }) : {} };
}

test('v7: a product key runs the request in the product context (product policy applied)', async () => {
  // create-item: product, API (named value, query) and operation (rewrite-uri) scopes all apply.
  const res = await get('/echo/items?x=1', { 'ocp-apim-subscription-key': 'starter-primary-key', 'content-type': 'application/json' }, 'POST');
  assert.equal(res.status, 200);
  assert.equal(res.body.url, '/echo/v2/items?x=1&source=gatehouse');
  assert.equal(res.body.headers?.['x-product'], 'starter');
  assert.equal(res.body.headers?.['x-api-secret'], 'local-secret', 'named value filled by the overlay');
  assert.equal(res.body.headers?.['ocp-apim-subscription-key'], 'starter-primary-key', 'the key travels on, as in APIM');
  // get-item answers from the spec's example (mock-response), never reaching the backend.
  const mocked = await get('/echo/items/42', { 'ocp-apim-subscription-key': 'starter-primary-key' });
  assert.equal(mocked.status, 200);
  assert.deepEqual(mocked.body, { id: 42, name: 'widget' });
});

test('v7: an API-scoped key from the overlay skips product policies; no key is a 401', async () => {
  const apiKey = await get('/echo/items', { 'ocp-apim-subscription-key': 'echo-local-primary' }, 'POST');
  assert.equal(apiKey.status, 200);
  assert.equal(apiKey.body.headers?.['x-product'], undefined);
  const none = await get('/echo/items', {}, 'POST');
  assert.equal(none.status, 401);
  assert.match(none.body.message ?? '', /missing subscription key/);
});

test('v7: Segment versions and set-backend-service backend-id from the overlay', async () => {
  const v1 = await get('/orders/v1/orders', { 'ocp-apim-subscription-key': 'starter-primary-key' });
  assert.equal(v1.status, 200);
  assert.match(v1.body.url ?? '', /^\/orders-backend\/orders/);
  assert.equal((await get('/orders/v9/orders', { 'ocp-apim-subscription-key': 'starter-primary-key' })).status, 404);
});

test('v7: an open API (subscriptionRequired false) answers without a key; Swagger 2 operations route', async () => {
  const list = await get('/petstore/pets?limit=2');
  assert.equal(list.status, 200);
  assert.equal(list.body.url, '/petstore/pets?limit=2');
  // getPetById is answered by return-response at operation scope.
  const one = await get('/petstore/pets/7');
  assert.equal(one.status, 200);
  assert.equal(one.headers['content-type'], 'application/json');
  assert.equal(one.body.url, undefined, 'the backend was not called');
});

test('v7: ;rev=2 reaches the non-current revision', async () => {
  // Revision 1 (current) mocks get-item; revision 2 has no operation policy, so it forwards.
  const current = await get('/echo/items/1', { 'ocp-apim-subscription-key': 'starter-primary-key' });
  const rev2 = await get('/echo;rev=2/items/1', { 'ocp-apim-subscription-key': 'starter-primary-key' });
  assert.equal(current.status, 200);
  assert.equal(current.headers['x-revision'], undefined);
  assert.deepEqual(current.body, { id: 42, name: 'widget' });
  assert.equal(rev2.status, 200);
  assert.equal(rev2.body.url, '/echo/items/1', 'revision 2 has its own API policy (no source= query)');
  assert.equal(rev2.headers['x-revision'], '2', 'the revision\'s own outbound policy ran');
});

test('v5: the older shape (apis.json links, apiVersionSetInformation.json, full ARM ids) loads and compiles clean', async () => {
  const loaded = await loadGatewayConfig({ configDir: fixture('apiops-v5') });
  assert.deepEqual(loaded.diagnostics.filter((d) => d.severity === 'error'), []);
  assert.equal(loaded.config?.layout, 'v5');
  assert.ok((loaded.compiled?.apis.length ?? 0) >= 2);
  const inventory = loaded.config?.products.find((p) => p.name === 'basic');
  assert.ok(inventory && inventory.apis.length > 0, 'product links read from apis.json');
  assert.ok(loaded.config?.versionSets.some((v) => v.id === 'inventory'), 'version set read from apiVersionSetInformation.json');
});
