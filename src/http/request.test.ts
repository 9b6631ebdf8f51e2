import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { GatehouseError } from '../errors.ts';
import { requestTooLarge } from './errors.ts';
import { NodeGatewayRequest, clientSocketOf, isRequestTooLarge, normalizeIpAddress, readGatewayRequest } from './request.ts';
import type { RequestReadOptions } from './request.ts';
import { writeResponse } from './respond.ts';

/** What the server saw for the last request. */
interface Seen {
  readonly result: NodeGatewayRequest | GatehouseError;
  bodyText?: string;
  bodyError?: unknown;
  bodyIsRaw?: boolean;
}

let server: Server;
let port = 0;
let options: RequestReadOptions = { maxBodyBytes: 1024 };
let seen: Seen[] = [];

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const result = readGatewayRequest(req, options);
  const entry: Seen = { result };
  seen.push(entry);
  if (result instanceof GatehouseError) {
    await writeResponse(res, requestTooLarge(), { method: req.method ?? 'GET' });
    return;
  }
  entry.bodyIsRaw = result.body === req;
  if (result.body !== null && typeof result.body !== 'string' && !(result.body instanceof Uint8Array)) {
    const chunks: Uint8Array[] = [];
    try {
      for await (const c of result.body) chunks.push(c);
      entry.bodyText = Buffer.concat(chunks).toString();
    } catch (err) {
      entry.bodyError = err;
      if (isRequestTooLarge(err)) {
        await writeResponse(res, requestTooLarge(), { method: req.method ?? 'GET' });
        return;
      }
    }
  }
  res.end('ok');
}

before(async () => {
  server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

after(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

function last(): Seen {
  const s = seen[seen.length - 1];
  assert.ok(s !== undefined, 'the server saw no request');
  return s;
}

function lastRequest(): NodeGatewayRequest {
  const r = last().result;
  assert.ok(r instanceof NodeGatewayRequest, `expected a request, got ${String(r)}`);
  return r;
}

/** Sends raw bytes and returns the raw response text (for targets undici will not send). */
function raw(text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => socket.write(text));
    let out = '';
    socket.on('data', (d) => {
      out += d.toString();
      if (out.includes('\r\n\r\n')) socket.end();
    });
    socket.on('end', () => resolve(out));
    socket.on('error', reject);
  });
}

describe('readGatewayRequest: request line and headers', () => {
  it('splits path and query without decoding, keeps method, headers, host, protocol and address', async () => {
    seen = [];
    options = { maxBodyBytes: 1024 };
    const r = await request(`http://127.0.0.1:${port}/echo;rev=2/a%20b?x=1&y=%2F`, { method: 'PATCH', headers: { 'X-Custom': 'v', host: 'api.example.test' }, body: 'hi' });
    assert.equal(await r.body.text(), 'ok');
    const g = lastRequest();
    assert.equal(g.method, 'PATCH');
    assert.equal(g.path, '/echo;rev=2/a%20b');
    assert.equal(g.query, 'x=1&y=%2F');
    assert.equal(g.headers['x-custom'], 'v');
    assert.equal(g.host, 'api.example.test');
    assert.equal(g.protocol, 'http');
    assert.equal(g.ipAddress, '127.0.0.1');
    assert.equal(g.socketAddress, '127.0.0.1');
    assert.equal(clientSocketOf(g), g.raw.socket);
    assert.equal(last().bodyText, 'hi');
  });

  it('gives an empty query when there is none, and handles absolute-form and asterisk-form targets', async () => {
    seen = [];
    await request(`http://127.0.0.1:${port}/plain`);
    assert.equal(lastRequest().query, '');
    assert.equal(lastRequest().path, '/plain');

    const abs = await raw('GET http://other.test/p/q?z=9 HTTP/1.1\r\nHost: other.test\r\nConnection: close\r\n\r\n');
    assert.match(abs, /^HTTP\/1\.1 200/);
    assert.equal(lastRequest().path, '/p/q');
    assert.equal(lastRequest().query, 'z=9');

    const star = await raw('OPTIONS * HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.match(star, /^HTTP\/1\.1 200/);
    assert.equal(lastRequest().path, '*');
  });

  it('never sees a header value with a bare CR: node refuses it with 400 first', async () => {
    seen = [];
    const response = await raw('GET /x HTTP/1.1\r\nHost: x\r\nX-Evil: a\rb\r\nConnection: close\r\n\r\n');
    assert.match(response, /^HTTP\/1\.1 400/);
    assert.equal(seen.length, 0);
  });

  it('lets a trusted-proxy rule decide the caller address', async () => {
    seen = [];
    options = { maxBodyBytes: 1024, clientAddress: (peer, headers) => `${String(headers['x-forwarded-for'])} via ${peer}` };
    await request(`http://127.0.0.1:${port}/`, { headers: { 'x-forwarded-for': '203.0.113.5' } });
    assert.equal(lastRequest().ipAddress, '203.0.113.5 via 127.0.0.1');
    options = { maxBodyBytes: 1024 };
  });
});

describe('readGatewayRequest: body', () => {
  it('has no body without Content-Length or Transfer-Encoding, whatever the method', async () => {
    seen = [];
    await request(`http://127.0.0.1:${port}/`, { method: 'GET' });
    assert.equal(lastRequest().body, null);
    await raw('DELETE /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.equal(lastRequest().body, null);
    await raw('POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    assert.equal(lastRequest().body, null);
  });

  it('passes the IncomingMessage itself when Content-Length is within the limit', async () => {
    seen = [];
    options = { maxBodyBytes: 1024 };
    await request(`http://127.0.0.1:${port}/`, { method: 'POST', body: 'x'.repeat(1024) });
    assert.equal(last().bodyIsRaw, true);
    assert.equal(last().bodyText, 'x'.repeat(1024));
  });

  it('answers 413 before reading when Content-Length is over the limit', async () => {
    seen = [];
    options = { maxBodyBytes: 10 };
    const r = await request(`http://127.0.0.1:${port}/`, { method: 'POST', body: 'x'.repeat(11) });
    assert.equal(r.statusCode, 413);
    assert.equal(r.headers['connection'], 'close');
    assert.equal(await r.body.text(), '{"statusCode":413,"message":"Request entity too large"}');
    const result = last().result;
    assert.ok(result instanceof GatehouseError);
    assert.equal(result.code, 'GH_REQUEST_TOO_LARGE');
    assert.equal(result.statusCode, 413);
    options = { maxBodyBytes: 1024 };
  });

  it('counts a chunked body and fails its stream with GH_REQUEST_TOO_LARGE past the limit (413)', async () => {
    seen = [];
    options = { maxBodyBytes: 100 };
    async function* chunks(): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < 5; i++) yield Buffer.alloc(40, 0x61);
    }
    const r = await request(`http://127.0.0.1:${port}/`, { method: 'POST', body: Readable.from(chunks()) });
    assert.equal(r.statusCode, 413);
    await r.body.dump();
    assert.equal(last().bodyIsRaw, false);
    assert.ok(isRequestTooLarge(last().bodyError));
    options = { maxBodyBytes: 1024 };
  });

  it('streams a chunked body within the limit unchanged', async () => {
    seen = [];
    options = { maxBodyBytes: 100 };
    async function* chunks(): AsyncGenerator<Uint8Array> {
      yield Buffer.from('abc');
      yield Buffer.from('def');
    }
    const r = await request(`http://127.0.0.1:${port}/`, { method: 'PUT', body: Readable.from(chunks()) });
    assert.equal(await r.body.text(), 'ok');
    assert.equal(last().bodyText, 'abcdef');
    options = { maxBodyBytes: 1024 };
  });
});

describe('the caller address is worked out when first read', () => {
  it('calls the clientAddress rule only on first access, once, with the normalised peer and the headers', async () => {
    const calls: [string, string | undefined][] = [];
    const server = createServer((req, res) => {
      const g = readGatewayRequest(req, {
        maxBodyBytes: 0,
        clientAddress: (peer, headers) => {
          calls.push([peer, headers['x-forwarded-for'] as string | undefined]);
          return '198.51.100.7';
        },
      });
      assert.ok(g instanceof NodeGatewayRequest);
      const before = calls.length;
      res.end(`${before}|${g.ipAddress}|${g.ipAddress}|${calls.length}`);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const r = await request(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`, { headers: { 'x-forwarded-for': '198.51.100.7' } });
      assert.equal(await r.body.text(), '0|198.51.100.7|198.51.100.7|1');
      assert.deepEqual(calls, [['127.0.0.1', '198.51.100.7']]);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

describe('normalizeIpAddress', () => {
  it('strips the IPv4-mapped prefix and leaves everything else', () => {
    assert.equal(normalizeIpAddress('::ffff:192.0.2.1'), '192.0.2.1');
    assert.equal(normalizeIpAddress('::FFFF:10.0.0.1'), '10.0.0.1');
    assert.equal(normalizeIpAddress('::ffff:c000:201'), '::ffff:c000:201');
    assert.equal(normalizeIpAddress('2001:db8::1'), '2001:db8::1');
    assert.equal(normalizeIpAddress('127.0.0.1'), '127.0.0.1');
    assert.equal(normalizeIpAddress(''), '');
  });

  it('applies to a dual-stack listener (the raw form is kept in socketAddress)', async (t) => {
    const dual = createServer((req, res) => {
      const g = readGatewayRequest(req, { maxBodyBytes: 0 });
      assert.ok(g instanceof NodeGatewayRequest);
      res.end(`${g.ipAddress}|${g.socketAddress}`);
    });
    try {
      await new Promise<void>((resolve, reject) => {
        dual.once('error', reject);
        dual.listen(0, '::', resolve);
      });
    } catch {
      t.skip('this machine has no IPv6 (dual-stack) listener');
      return;
    }
    try {
      const p = (dual.address() as AddressInfo).port;
      const r = await request(`http://127.0.0.1:${p}/`);
      assert.equal(await r.body.text(), '127.0.0.1|::ffff:127.0.0.1');
    } finally {
      dual.closeAllConnections();
      await new Promise<void>((resolve) => dual.close(() => resolve()));
    }
  });
});
