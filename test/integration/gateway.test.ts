/**
 * The gateway end to end: a real APIOps folder (test/fixtures/gateway-e2e), a real node:http
 * backend on an ephemeral port, the real HTTP server, requests through undici.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { createGateway, type Gateway } from '../../src/gateway.ts';

const FOLDER = fileURLToPath(new URL('../fixtures/gateway-e2e', import.meta.url));

let backend: Server;
let backendUrl: string;
let gateway: Gateway;

/** Echoes what it received as JSON; `/slow` waits 5 s before answering. */
function startEcho(): Promise<Server> {
  const server = createServer((req, res) => {
    let bytes = 0;
    req.on('data', (c: Buffer) => (bytes += c.length));
    req.on('end', () => {
      const reply = () => {
        const body = JSON.stringify({ method: req.method, url: req.url, headers: req.headers, bytes });
        res.writeHead(200, { 'content-type': 'application/json', 'x-powered-by': 'echo', 'x-backend': 'echo' });
        res.end(body);
      };
      if (req.url?.startsWith('/slow/')) setTimeout(reply, 5000).unref();
      else reply();
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

before(async () => {
  backend = await startEcho();
  backendUrl = `http://127.0.0.1:${(backend.address() as AddressInfo).port}`;
  gateway = await createGateway({
    configDir: FOLDER,
    port: 0,
    host: '127.0.0.1',
    serviceUrls: {
      shop: `${backendUrl}/shop-backend`,
      'shop-admin': `${backendUrl}/admin-backend`,
      root: `${backendUrl}/root-backend`,
      slow: `${backendUrl}/slow`,
      // A port nobody listens on: connection refused.
      down: 'http://127.0.0.1:1/down',
      mock: `${backendUrl}/never-called`,
    },
  });
});

after(async () => {
  await gateway?.close();
  backend?.closeAllConnections();
  await new Promise((r) => backend?.close(r));
});

async function call(method: string, path: string, headers: Record<string, string> = {}, body?: string) {
  const res = await request(`${gateway.url}${path}`, { method: method as 'GET', headers, body });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text, json: () => JSON.parse(text) as Record<string, unknown> };
}

test('forwards to serviceUrl + the path below the API suffix + the query, with policies from every scope', async () => {
  const res = await call('GET', '/shop/items/42?color=red&size=m', { 'x-client': 'test' });
  assert.equal(res.status, 200);
  const echo = res.json() as { url: string; headers: Record<string, string> };
  // operation-scope set-query-parameter appended source=gateway
  assert.equal(echo.url, '/shop-backend/items/42?color=red&size=m&source=gateway');
  assert.equal(echo.headers['x-client'], 'test');
  assert.equal(echo.headers['x-gateway'], 'gatehouse-e2e', 'global set-header with a named value');
  assert.equal(echo.headers['x-fragment'], 'tag-request', 'API-scope fragment');
  assert.equal(echo.headers['x-forwarded-for'], '127.0.0.1');
  assert.equal(echo.headers.host, new URL(backendUrl).host);
  assert.equal(res.headers['x-api-scope'], 'shop', 'API-scope outbound');
  assert.equal(res.headers['x-powered-by'], undefined, 'global outbound delete');
  assert.equal(res.headers['x-backend'], 'echo');
});

test('literal template segments beat parameters; rewrite-uri changes the backend path', async () => {
  const special = (await call('GET', '/shop/items/special')).json() as { url: string };
  assert.equal(special.url, '/shop-backend/items/special', 'get-special, not get-item (no source=gateway)');
  const list = (await call('GET', '/shop/items')).json() as { url: string };
  assert.equal(list.url, '/shop-backend/catalogue/all');
});

test('the longest API suffix wins, on segment boundaries; the empty suffix is the catch-all', async () => {
  assert.equal(((await call('GET', '/shop/admin/status')).json() as { url: string }).url, '/admin-backend/status');
  // '/shopx' is not under '/shop': the catch-all API (path '') answers it with its /{anything} operation.
  assert.equal(((await call('GET', '/shopx')).json() as { url: string }).url, '/root-backend/shopx');
  assert.equal(((await call('GET', '/status')).json() as { url: string }).url, '/root-backend/status');
});

test('404 with APIM\'s body: unknown path under an API, wrong method, unknown API under no catch-all', async () => {
  const wrongMethod = await call('DELETE', '/shop/items');
  assert.equal(wrongMethod.status, 404);
  assert.deepEqual(wrongMethod.json(), { statusCode: 404, message: 'Resource not found' });
  // The API's on-error ran for OperationNotFound (global on-error via <base/>).
  assert.equal(wrongMethod.headers['x-on-error'], 'global');
  const unknownPath = await call('GET', '/shop/nothing/here');
  assert.equal(unknownPath.status, 404);
  assert.deepEqual(unknownPath.json(), { statusCode: 404, message: 'Resource not found' });
});

test('a backend that refuses connections goes through on-error with APIM\'s reason and a 500', async () => {
  const res = await call('GET', '/down/status');
  assert.equal(res.status, 500);
  assert.equal(res.headers['x-on-error'], 'global');
  assert.equal(res.headers['x-api-on-error'], 'down');
  const body = res.json();
  assert.equal(body.statusCode, 500);
  assert.equal(typeof body.message, 'string');
  assert.doesNotMatch(String(body.message), /127\.0\.0\.1/, 'no backend address leaks to the client');
});

test('a backend slower than forward-request timeout="2" is a timeout through on-error', async () => {
  const started = Date.now();
  const res = await call('GET', '/slow/status');
  const elapsed = Date.now() - started;
  assert.equal(res.status, 500);
  assert.equal(res.headers['x-on-error'], 'global');
  assert.ok(elapsed >= 1900 && elapsed < 4500, `timed out after ${elapsed} ms`);
});

test('return-response and mock-response answer without the backend', async () => {
  const teapot = await call('GET', '/mock/teapot');
  assert.equal(teapot.status, 418);
  assert.equal(teapot.text, 'short and stout');
  assert.equal(teapot.headers['content-type'], 'text/plain');
  const example = await call('GET', '/mock/example');
  assert.equal(example.status, 200);
  assert.deepEqual(example.json(), { hello: 'mock' });
});

test('a request body is streamed to the backend (10 MiB)', async () => {
  const size = 10 * 1024 * 1024;
  const res = await request(`${gateway.url}/shop/upload`, { method: 'PUT', body: Buffer.alloc(size, 7), headers: { 'content-type': 'application/octet-stream' } });
  const echo = (await res.body.json()) as { bytes: number; method: string };
  assert.equal(res.statusCode, 200);
  assert.equal(echo.method, 'PUT');
  assert.equal(echo.bytes, size);
});

test('header values with CR/LF never get through; the server stays up', async () => {
  const { connect } = await import('node:net');
  const raw = await new Promise<string>((resolve) => {
    const socket = connect(gateway.port, '127.0.0.1', () => {
      socket.write('GET /shop/items HTTP/1.1\r\nHost: x\r\nX-Evil: a\rb\r\n\r\n');
    });
    let data = '';
    socket.on('data', (d) => (data += d.toString()));
    socket.on('end', () => resolve(data));
    socket.on('error', () => resolve(data));
  });
  assert.match(raw, /^HTTP\/1\.1 400/);
  assert.equal((await call('GET', '/shop/items')).status, 200);
});

test('a pipelining client with many requests in flight causes no listener leak warning', async () => {
  const { connect } = await import('node:net');
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(w.name);
  process.on('warning', onWarning);
  try {
    const count = 20;
    const raw = await new Promise<string>((resolve) => {
      const socket = connect(gateway.port, '127.0.0.1', () => {
        socket.write('GET /slow/status HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(count - 1) + 'GET /slow/status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
      });
      let data = '';
      socket.on('data', (d) => (data += d.toString()));
      socket.on('close', () => resolve(data));
      socket.on('error', () => resolve(data));
    });
    assert.equal(raw.match(/HTTP\/1\.1 500 /g)?.length, count, 'every pipelined request timed out at the backend and was answered');
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(warnings.filter((w) => w === 'MaxListenersExceededWarning'), []);
  } finally {
    process.off('warning', onWarning);
  }
});
