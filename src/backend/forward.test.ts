import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import type { AddressInfo, Socket } from 'node:net';
import { Readable } from 'node:stream';
import { request as undiciRequest } from 'undici';
import { PolicyFailure } from '../pipeline/context.ts';
import type { GatewayContext } from '../pipeline/context.ts';
import type { ForwardOptions } from '../pipeline/handler.ts';
import { createTestContext } from '../pipeline/testing.ts';
import type { TestRequest } from '../pipeline/testing.ts';
import { readGatewayRequest } from '../http/request.ts';
import { UndiciForwarder, backendPathAndQuery, parseTarget } from './forward.ts';

const MiB = 1024 * 1024;
const DEFAULTS: ForwardOptions = { timeoutMs: 5_000, followRedirects: false, failOnErrorStatusCode: false, bufferRequestBody: false };

interface Backend {
  readonly url: string;
  readonly server: Server;
  close(): Promise<void>;
}

async function startServer(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Backend> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function context(backendUrl: string, request: TestRequest, backendPath = '/items'): GatewayContext {
  const ctx = createTestContext(request);
  ctx.backendUrl = backendUrl;
  ctx.backendPath = backendPath;
  ctx.backendQuery = request.query ?? '';
  return ctx;
}

async function readAll(body: unknown): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of body as AsyncIterable<Buffer>) chunks.push(c);
  return Buffer.concat(chunks);
}

async function rejection(promise: Promise<unknown>): Promise<PolicyFailure> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof PolicyFailure, `expected a PolicyFailure, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the forward to fail');
}

describe('UndiciForwarder: request and response', () => {
  let backend: Backend;
  const forwarder = new UndiciForwarder();
  before(async () => {
    backend = await startServer((req, res) => {
      if (req.url?.startsWith('/redirect')) {
        res.writeHead(302, { location: '/base/final' });
        res.end();
        return;
      }
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        res.writeHead(201, {
          'content-type': 'application/json',
          connection: 'x-named-by-connection',
          'x-named-by-connection': 'hop',
          'keep-alive': 'timeout=5',
          'proxy-authenticate': 'Basic',
          'x-kept': 'yes',
          'set-cookie': ['a=1', 'b=2'],
        });
        res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers, body: Buffer.concat(chunks).toString() }));
      });
    });
  });
  after(async () => {
    await forwarder.close();
    await backend.close();
  });

  it('sends method, joined path, query and end-to-end headers; strips hop-by-hop ones; sets Host and X-Forwarded-*', async () => {
    const ctx = context(
      `${backend.url}/base/`,
      {
        method: 'POST',
        query: 'a=1&b=x%20y',
        headers: {
          host: 'gateway.test',
          'content-type': 'text/plain',
          'x-custom': ['one', 'two'],
          connection: 'keep-alive, X-Drop-Me',
          'x-drop-me': 'secret',
          'keep-alive': 'timeout=5',
          te: 'trailers',
          trailer: 'x-t',
          'proxy-authorization': 'Basic abc',
          'proxy-foo': 'bar',
          upgrade: 'h2c',
          expect: '100-continue',
          'x-forwarded-for': '203.0.113.9',
          'x-forwarded-proto': 'https',
          'content-length': '99',
        },
        body: 'hello',
        ipAddress: '198.51.100.7',
      },
      '/items/7',
    );
    await forwarder.forward(ctx, DEFAULTS);
    assert.ok(ctx.response !== null);
    assert.equal(ctx.response.status, 201);
    const seen = JSON.parse((await readAll(ctx.response.body)).toString()) as { method: string; url: string; headers: Record<string, string>; body: string };
    assert.equal(seen.method, 'POST');
    assert.equal(seen.url, '/base/items/7?a=1&b=x%20y');
    assert.equal(seen.body, 'hello');
    const h = seen.headers;
    assert.equal(h['host'], backend.url.slice('http://'.length));
    assert.equal(h['content-type'], 'text/plain');
    assert.equal(h['x-custom'], 'one, two');
    assert.equal(h['content-length'], '5', 'recomputed for an in-memory body');
    assert.equal(h['x-forwarded-for'], '203.0.113.9, 198.51.100.7');
    assert.equal(h['x-forwarded-proto'], 'http');
    assert.equal(h['x-forwarded-host'], 'gateway.test');
    for (const gone of ['x-drop-me', 'keep-alive', 'te', 'trailer', 'proxy-authorization', 'proxy-foo', 'upgrade', 'expect']) {
      assert.equal(h[gone], undefined, `${gone} must not reach the backend`);
    }
  });

  it('removes hop-by-hop headers from the response and keeps the rest (lists included)', async () => {
    const ctx = context(backend.url, { method: 'GET' });
    await forwarder.forward(ctx, DEFAULTS);
    assert.ok(ctx.response !== null);
    const h = ctx.response.headers;
    assert.equal(h['x-kept'], 'yes');
    assert.deepEqual(h['set-cookie'], ['a=1', 'b=2']);
    assert.equal(h['connection'], undefined);
    assert.equal(h['x-named-by-connection'], undefined);
    assert.equal(h['keep-alive'], undefined);
    assert.equal(h['proxy-authenticate'], undefined);
    assert.equal(h['transfer-encoding'], undefined);
    await readAll(ctx.response.body);
  });

  it('does not follow redirects by default, and follows them with followRedirects', async () => {
    const ctx = context(`${backend.url}/redirect`, { method: 'GET' }, '');
    await forwarder.forward(ctx, DEFAULTS);
    assert.equal(ctx.response?.status, 302);
    assert.equal(ctx.response?.headers['location'], '/base/final');
    await readAll(ctx.response?.body);

    const followed = context(`${backend.url}/redirect`, { method: 'GET' }, '');
    await forwarder.forward(followed, { ...DEFAULTS, followRedirects: true });
    assert.equal(followed.response?.status, 201);
    const seen = JSON.parse((await readAll(followed.response?.body)).toString()) as { url: string };
    assert.equal(seen.url, '/base/final');
  });

  it('buffers a stream body when buffer-request-body is on, so it can be sent again', async () => {
    async function* chunks(): AsyncGenerator<Uint8Array> {
      yield Buffer.from('ab');
      yield Buffer.from('cd');
    }
    const ctx = context(backend.url, { method: 'PUT', body: chunks(), headers: { 'transfer-encoding': 'chunked' } });
    await forwarder.forward(ctx, { ...DEFAULTS, bufferRequestBody: true });
    assert.deepEqual(ctx.request.body, Buffer.from('abcd'));
    const seen = JSON.parse((await readAll(ctx.response?.body)).toString()) as { body: string; headers: Record<string, string> };
    assert.equal(seen.body, 'abcd');
    assert.equal(seen.headers['content-length'], '4');
    // A second forward (retry) sends the same bytes.
    await forwarder.forward(ctx, DEFAULTS);
    assert.equal((JSON.parse((await readAll(ctx.response?.body)).toString()) as { body: string }).body, 'abcd');
  });
});

describe('UndiciForwarder: streaming 10 MiB each way', () => {
  const forwarder = new UndiciForwarder();
  after(() => forwarder.close());

  it('streams a 10 MiB request body without holding it', async () => {
    const total = 10 * MiB;
    const chunkSize = 64 * 1024;
    const chunkCount = total / chunkSize;
    let produced = 0;
    let producedWhenBackendStarted = -1;
    let producedAfterPause = -1;
    async function* lazyBody(): AsyncGenerator<Uint8Array> {
      const chunk = Buffer.alloc(chunkSize, 0x61);
      for (let i = 0; i < chunkCount; i++) {
        produced++;
        yield chunk;
      }
    }
    const backend = await startServer((req, res) => {
      producedWhenBackendStarted = produced;
      // Read nothing for a while: backpressure must stop the producer well before the end.
      req.pause();
      setTimeout(() => {
        producedAfterPause = produced;
        let received = 0;
        req.on('data', (c: Buffer) => (received += c.length));
        req.on('end', () => res.end(String(received)));
        req.resume();
      }, 300);
    });
    try {
      const ctx = context(backend.url, { method: 'POST', body: lazyBody(), headers: { 'transfer-encoding': 'chunked' } });
      await forwarder.forward(ctx, DEFAULTS);
      assert.equal((await readAll(ctx.response?.body)).toString(), String(total));
      assert.equal(produced, chunkCount);
      assert.ok(producedWhenBackendStarted < chunkCount, `producer ran ahead: ${producedWhenBackendStarted}/${chunkCount}`);
      assert.ok(producedAfterPause < chunkCount, `producer was not held back while the backend paused: ${producedAfterPause}/${chunkCount}`);
    } finally {
      await backend.close();
    }
  });

  it('streams a 10 MiB response body: forward returns at the headers, before the backend finished writing', async () => {
    const total = 10 * MiB;
    const chunk = Buffer.alloc(64 * 1024, 0x62);
    let written = 0;
    const backend = await startServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(total) });
      const write = (): void => {
        while (written < total) {
          written += chunk.length;
          if (!res.write(chunk)) {
            res.once('drain', write);
            return;
          }
        }
        res.end();
      };
      write();
    });
    try {
      const ctx = context(backend.url, { method: 'GET' });
      await forwarder.forward(ctx, DEFAULTS);
      const writtenAtHeaders = written;
      assert.ok(writtenAtHeaders < total, `the response was buffered before forward returned (${writtenAtHeaders} bytes)`);
      assert.equal(ctx.response?.headers['content-length'], String(total));
      let received = 0;
      for await (const c of ctx.response?.body as AsyncIterable<Buffer>) received += c.length;
      assert.equal(received, total);
    } finally {
      await backend.close();
    }
  });
});

describe('UndiciForwarder: failures', () => {
  const forwarder = new UndiciForwarder({ connectTimeoutMs: 2_000 });
  after(() => forwarder.close());

  it('times out with reason Timeout when no response headers arrive in time', async () => {
    const backend = await startServer(() => {
      /* never answers */
    });
    try {
      const started = Date.now();
      const failure = await rejection(forwarder.forward(context(backend.url, { method: 'GET' }), { ...DEFAULTS, timeoutMs: 150 }));
      assert.equal(failure.source, 'forward-request');
      assert.equal(failure.reason, 'Timeout');
      assert.equal(failure.code, 'GH_BACKEND_TIMEOUT');
      assert.equal(failure.statusCode, 500);
      assert.equal(failure.message, 'Request to the backend timed out: no response headers within 150 ms.');
      assert.ok(Date.now() - started < 3_000);
    } finally {
      await backend.close();
    }
  });

  it('fails with BackendConnectionFailure when nothing listens on the port', async () => {
    const backend = await startServer(() => {});
    const url = backend.url;
    await backend.close();
    const failure = await rejection(forwarder.forward(context(url, { method: 'GET' }), DEFAULTS));
    assert.equal(failure.reason, 'BackendConnectionFailure');
    assert.equal(failure.code, 'GH_BACKEND_CONNECTION');
    assert.equal(failure.statusCode, 500);
    assert.equal(failure.message, 'Backend connection failure (ECONNREFUSED).');
    assert.ok(!failure.message.includes('127.0.0.1'), 'the message must not name the backend host');
  });

  it('fails with BackendConnectionFailure when the backend resets the connection', async () => {
    const backend = await startServer((req) => req.socket.destroy());
    try {
      const failure = await rejection(forwarder.forward(context(backend.url, { method: 'GET' }), DEFAULTS));
      assert.equal(failure.reason, 'BackendConnectionFailure');
      assert.equal(failure.code, 'GH_BACKEND_CONNECTION');
    } finally {
      await backend.close();
    }
  });

  it('fails with BackendConnectionFailure for a backend URL that is not absolute http(s)', async () => {
    for (const url of ['not a url', 'ftp://example.com/', '/relative']) {
      const failure = await rejection(forwarder.forward(context(url, { method: 'GET' }), DEFAULTS));
      assert.equal(failure.reason, 'BackendConnectionFailure');
      assert.equal(failure.message, 'The backend URL is not an absolute http(s) URL.');
    }
  });

  it('turns 4xx/5xx into a failure only with failOnErrorStatusCode, releasing the body', async () => {
    const backend = await startServer((_req, res) => {
      res.writeHead(503, { 'content-type': 'text/plain', 'retry-after': '5' });
      res.end('backend down');
    });
    try {
      const passthrough = context(backend.url, { method: 'GET' });
      await forwarder.forward(passthrough, DEFAULTS);
      assert.equal(passthrough.response?.status, 503);
      assert.equal((await readAll(passthrough.response?.body)).toString(), 'backend down');

      const failing = context(backend.url, { method: 'GET' });
      const failure = await rejection(forwarder.forward(failing, { ...DEFAULTS, failOnErrorStatusCode: true }));
      assert.equal(failure.reason, 'BackendErrorStatusCode');
      assert.equal(failure.code, 'GH_BACKEND_ERROR_STATUS');
      assert.equal(failure.statusCode, 503);
      assert.equal(failing.response?.status, 503);
      assert.equal(failing.response?.headers['retry-after'], '5');
      assert.equal(failing.response?.body, null);
    } finally {
      await backend.close();
    }
  });

  it('fails with ClientConnectionFailure as soon as the client goes away', async () => {
    let backendHit: () => void = () => {};
    const hit = new Promise<void>((resolve) => (backendHit = resolve));
    const backend = await startServer(() => backendHit());
    let outcome: Promise<PolicyFailure> | undefined;
    const gateway = await startServer((req) => {
      const request = readGatewayRequest(req, { maxBodyBytes: Infinity });
      assert.ok(!(request instanceof Error));
      const ctx = createTestContext();
      Object.assign(ctx, { request, backendUrl: backend.url, backendPath: '/slow', backendQuery: '' });
      outcome = rejection(forwarder.forward(ctx, { ...DEFAULTS, timeoutMs: 10_000 }));
    });
    try {
      const controller = new AbortController();
      const client = undiciRequest(`${gateway.url}/x`, { signal: controller.signal }).catch(() => undefined);
      await hit;
      const started = Date.now();
      controller.abort();
      await client;
      for (let i = 0; i < 100 && outcome === undefined; i++) await new Promise((r) => setTimeout(r, 10));
      const failure = await (outcome as Promise<PolicyFailure>);
      assert.equal(failure.reason, 'ClientConnectionFailure');
      assert.equal(failure.code, 'GH_CLIENT_ABORTED');
      assert.ok(Date.now() - started < 5_000, 'must not wait for the forward timeout');
    } finally {
      await gateway.close();
      await backend.close();
    }
  });

  it('fails with 413 when a chunked request body passes the limit while being forwarded', async () => {
    let received = 0;
    const backend = await startServer((req, res) => {
      req.on('data', (c: Buffer) => (received += c.length));
      req.on('end', () => res.end());
      req.on('error', () => {});
    });
    let outcome: Promise<PolicyFailure> | undefined;
    const gateway = await startServer((req, res) => {
      const request = readGatewayRequest(req, { maxBodyBytes: 1000 });
      assert.ok(!(request instanceof Error));
      const ctx = createTestContext();
      Object.assign(ctx, { request, backendUrl: backend.url, backendPath: '/upload', backendQuery: '' });
      outcome = rejection(forwarder.forward(ctx, DEFAULTS));
      void outcome.then(() => {
        res.writeHead(413, { connection: 'close' });
        res.end();
      });
    });
    try {
      async function* big(): AsyncGenerator<Uint8Array> {
        for (let i = 0; i < 10; i++) yield Buffer.alloc(500, 0x63);
      }
      const response = await undiciRequest(`${gateway.url}/x`, { method: 'POST', body: Readable.from(big()) });
      await response.body.dump();
      assert.equal(response.statusCode, 413);
      const failure = await (outcome as Promise<PolicyFailure>);
      assert.equal(failure.reason, 'RequestEntityTooLarge');
      assert.equal(failure.code, 'GH_REQUEST_TOO_LARGE');
      assert.equal(failure.statusCode, 413);
      assert.ok(received <= 1000, `the backend got ${received} bytes, over the limit`);
    } finally {
      await gateway.close();
      await backend.close();
    }
  });
});

describe('UndiciForwarder: informational responses, connection reuse, queued requests', () => {
  it('skips a 103 Early Hints response: the 200 that follows is the answer, with its own headers and body', async () => {
    const sockets = new Set<Socket>();
    const raw = createNetServer((socket) => {
      sockets.add(socket);
      let head = '';
      socket.on('data', (d: Buffer) => {
        head += d.toString('latin1');
        if (!head.includes('\r\n\r\n')) return;
        head = '';
        socket.write('HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n');
        // The final response in a later packet, so the 103 is parsed on its own first.
        setTimeout(() => socket.write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Final: yes\r\nContent-Length: 5\r\n\r\nfinal'), 20);
      });
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => raw.listen(0, '127.0.0.1', resolve));
    const forwarder = new UndiciForwarder();
    try {
      const ctx = context(`http://127.0.0.1:${(raw.address() as AddressInfo).port}`, { method: 'GET' });
      await forwarder.forward(ctx, { ...DEFAULTS, timeoutMs: 2_000 });
      assert.equal(ctx.response?.status, 200);
      assert.equal(ctx.response?.headers['x-final'], 'yes');
      assert.equal(ctx.response?.headers['link'], undefined, "the 103's headers are not the response's");
      assert.equal((await readAll(ctx.response?.body)).toString(), 'final');
    } finally {
      await forwarder.close();
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => raw.close(resolve));
    }
  });

  it('fail-on-error-status-code dumps the error body, so the next request reuses the same backend connection', async () => {
    const errorBody = Buffer.alloc(100 * 1024, 0x65); // under dump()'s 128 KiB: drained, not aborted
    let connections = 0;
    const paths: string[] = [];
    const backend = await startServer((req, res) => {
      paths.push(req.url ?? '');
      if (req.url === '/broken') {
        res.writeHead(503, { 'content-type': 'text/plain', 'content-length': String(errorBody.length) });
        // Most of the body after the headers were handled: it must be read off the connection.
        res.write(errorBody.subarray(0, 1024));
        setTimeout(() => res.end(errorBody.subarray(1024)), 30);
        return;
      }
      res.end('fine');
    });
    backend.server.on('connection', () => connections++);
    // One connection per origin: a body left unread would hold it and the next request would wait.
    const forwarder = new UndiciForwarder({ connectionsPerOrigin: 1 });
    try {
      const failing = context(backend.url, { method: 'GET' }, '/broken');
      const failure = await rejection(forwarder.forward(failing, { ...DEFAULTS, failOnErrorStatusCode: true }));
      assert.equal(failure.reason, 'BackendErrorStatusCode');
      assert.equal(failing.response?.body, null);

      const next = context(backend.url, { method: 'GET' }, '/ok');
      await forwarder.forward(next, { ...DEFAULTS, timeoutMs: 2_000 });
      assert.equal(next.response?.status, 200);
      assert.equal((await readAll(next.response?.body)).toString(), 'fine');
      assert.deepEqual(paths, ['/broken', '/ok']);
      assert.equal(connections, 1, 'the error body was drained, not the connection closed');
    } finally {
      // Backend first: a body left unreleased would keep forwarder.close() waiting.
      await backend.close();
      await forwarder.close();
    }
  });

  it('the forward timeout fires while the request is still queued behind a busy connection', async () => {
    const paths: string[] = [];
    let hangingSeen: () => void = () => {};
    const hanging = new Promise<void>((resolve) => (hangingSeen = resolve));
    let release: () => void = () => {};
    const backend = await startServer((req, res) => {
      paths.push(req.url ?? '');
      if (req.url === '/hang') {
        release = () => res.end('late');
        hangingSeen();
        return;
      }
      res.end('fine');
    });
    const forwarder = new UndiciForwarder({ connectionsPerOrigin: 1 });
    try {
      const first = context(backend.url, { method: 'GET' }, '/hang');
      const firstForward = forwarder.forward(first, { ...DEFAULTS, timeoutMs: 10_000 });
      await hanging;

      const started = Date.now();
      const failure = await rejection(forwarder.forward(context(backend.url, { method: 'GET' }, '/queued'), { ...DEFAULTS, timeoutMs: 200 }));
      const elapsed = Date.now() - started;
      assert.equal(failure.reason, 'Timeout');
      assert.equal(failure.code, 'GH_BACKEND_TIMEOUT');
      assert.equal(failure.message, 'Request to the backend timed out: no response headers within 200 ms.');
      assert.ok(elapsed >= 150 && elapsed < 1_500, `timed out after ${elapsed} ms, expected about 200`);

      // The first request completes; the timed-out one, dequeued afterwards, is never sent and
      // does not wedge the connection for the next request.
      release();
      await firstForward;
      assert.equal((await readAll(first.response?.body)).toString(), 'late');
      const after = context(backend.url, { method: 'GET' }, '/after');
      await forwarder.forward(after, { ...DEFAULTS, timeoutMs: 2_000 });
      assert.equal((await readAll(after.response?.body)).toString(), 'fine');
      assert.deepEqual(paths, ['/hang', '/after']);
    } finally {
      release();
      await backend.close();
      await forwarder.close();
    }
  });
});

describe('backend URL joining', () => {
  const cases: [string, string, string, string][] = [
    ['http://b.test', '', '', '/'],
    ['http://b.test/', '/items', '', '/items'],
    ['http://b.test/api/10.4', '/partners/15', 'version=2013-05', '/api/10.4/partners/15?version=2013-05'],
    ['http://b.test/api/', '/items', '', '/api/items'],
    ['http://b.test/api', '', 'x=1', '/api?x=1'],
    ['http://b.test/api', '/', '', '/api/'],
    ['http://b.test/api', 'items', '', '/api/items'],
    ['http://b.test/api?code=k', '/items', 'x=1', '/api/items?code=k&x=1'],
    ['http://b.test/api?code=k', '/items', '', '/api/items?code=k'],
  ];
  for (const [base, path, query, expected] of cases) {
    it(`${base} + ${path || "''"}${query ? `?${query}` : ''} → ${expected}`, () => {
      const target = parseTarget(base);
      assert.ok(target !== null);
      assert.equal(backendPathAndQuery(target, path, query), expected);
    });
  }

  it('sets Host to the backend authority (port included) and refuses non-http URLs', () => {
    assert.equal(parseTarget('https://b.test:8443/x')?.host, 'b.test:8443');
    assert.equal(parseTarget('https://b.test:443/x')?.host, 'b.test');
    assert.equal(parseTarget('file:///etc/passwd'), null);
    assert.equal(parseTarget('b.test/x'), null);
  });
});
