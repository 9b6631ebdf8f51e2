/**
 * handleRequest answers synchronously wherever no step waits: /crossdomain.xml, no API, a preflight
 * answered by cors, a pipeline of synchronous policies. Only a path with an asynchronous step (here
 * forward-request) returns a promise. The server writes a synchronous answer in the same tick.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadGatewayConfig } from '../gateway.ts';
import type { GatewayRequest, GatewayResponse } from '../pipeline/context.ts';
import { handleRequest, type RequestSnapshot } from './handle.ts';

const ORIGIN = 'https://app.example';
const CORS = `<cors><allowed-origins><origin>${ORIGIN}</origin></allowed-origins><allowed-methods><method>GET</method><method>PUT</method></allowed-methods><allowed-headers><header>content-type</header></allowed-headers></cors>`;
const info = JSON.stringify({ properties: { displayName: 'shop', path: 'shop', protocols: ['https'], serviceUrl: 'http://127.0.0.1:9', apiRevision: '1', isCurrent: true, subscriptionRequired: false, type: 'http' } });
const spec = JSON.stringify({
  openapi: '3.0.1',
  info: { title: 't', version: '1' },
  paths: {
    '/items': { get: { operationId: 'list', responses: { '200': { description: 'OK' } } } },
    '/mock': { get: { operationId: 'mock', responses: { '200': { description: 'OK' } } } },
  },
});

let dir: string;
let snapshot: RequestSnapshot;
let forwarded = 0;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gh-handle-'));
  const put = async (file: string, text: string) => {
    await mkdir(join(dir, file, '..'), { recursive: true });
    await writeFile(join(dir, file), text);
  };
  await put('policy.xml', '<policies><inbound><cross-domain><cross-domain-policy><allow-access-from domain="*.example.com" /></cross-domain-policy></cross-domain></inbound><backend><forward-request /></backend><outbound /><on-error /></policies>');
  await put('apis/shop/apiInformation.json', info);
  await put('apis/shop/specification.json', spec);
  await put('apis/shop/policy.xml', `<policies><inbound>${CORS}<base /></inbound><backend><base /></backend><outbound><base /></outbound><on-error><base /></on-error></policies>`);
  await put('apis/shop/operations/mock/policy.xml', '<policies><inbound><base /><return-response><set-status code="203" reason="Mocked" /><set-body>mocked</set-body></return-response></inbound><backend><base /></backend><outbound><base /></outbound><on-error><base /></on-error></policies>');
  const loaded = await loadGatewayConfig({
    configDir: dir,
    forwarder: {
      async forward(ctx) {
        forwarded++;
        await Promise.resolve();
        ctx.response = { status: 200, headers: { 'x-from': 'backend' }, body: 'from backend' };
      },
    },
  });
  assert.deepEqual(loaded.diagnostics.filter((d) => d.severity === 'error'), []);
  assert.ok(loaded.compiled && loaded.router && loaded.subscriptions);
  snapshot = { router: loaded.router, compiled: loaded.compiled, subscriptions: loaded.subscriptions, corsOnGatewayErrors: false };
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function request(method: string, path: string, headers: Record<string, string> = {}): GatewayRequest {
  return { method, path, query: '', headers, body: null, ipAddress: '127.0.0.1', protocol: 'http', host: 'gw' };
}

/** The answer, asserted to be synchronous (a response, not a promise). */
function syncAnswer(req: GatewayRequest): GatewayResponse {
  const result = handleRequest(snapshot, req, 'req-1');
  assert.ok(!(result instanceof Promise), `${req.method} ${req.path} is answered synchronously`);
  return result;
}

test('a preflight answered by cors is returned synchronously, with its CORS headers', () => {
  const res = syncAnswer(request('OPTIONS', '/shop/items', { origin: ORIGIN, 'access-control-request-method': 'PUT', 'access-control-request-headers': 'content-type' }));
  assert.equal(res.status, 200);
  assert.equal(res.body, null);
  assert.deepEqual(res.headers, {
    'access-control-allow-origin': ORIGIN,
    'access-control-allow-methods': 'GET, PUT',
    'access-control-allow-headers': 'content-type',
    vary: 'Origin',
  });
});

test('/crossdomain.xml and a URL of no API are returned synchronously', () => {
  const xml = syncAnswer(request('GET', '/crossdomain.xml'));
  assert.equal(xml.status, 200);
  assert.match(String(xml.body), /<allow-access-from domain="\*\.example\.com"\/>/);
  const none = syncAnswer(request('GET', '/nowhere'));
  assert.equal(none.status, 404);
  assert.equal(Buffer.from(none.body as Uint8Array).toString(), '{"statusCode":404,"message":"Resource not found"}');
});

test('an operation whose policies are all synchronous is returned synchronously; decorators applied', () => {
  const res = syncAnswer(request('GET', '/shop/mock', { origin: ORIGIN }));
  assert.equal(res.status, 203);
  assert.equal(res.statusText, 'Mocked');
  assert.equal(res.body, 'mocked');
  assert.equal(res.headers['access-control-allow-origin'], ORIGIN);
});

test('an operation that forwards returns a promise', async () => {
  const before = forwarded;
  const result = handleRequest(snapshot, request('GET', '/shop/items', { origin: ORIGIN }), 'req-2');
  assert.ok(result instanceof Promise);
  const res = await result;
  assert.equal(forwarded, before + 1);
  assert.equal(res.status, 200);
  assert.equal(res.body, 'from backend');
  assert.equal(res.headers['access-control-allow-origin'], ORIGIN);
});
