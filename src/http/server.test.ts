import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import type { Server } from 'node:http';
import { pino } from 'pino';
import type { GatewayResponse } from '../pipeline/context.ts';
import { GatehouseError } from '../errors.ts';
import { isRequestTooLarge } from './request.ts';
import { close, createGatewayServer, listen } from './server.ts';

/** Sends raw bytes on one connection; resolves with what came back and whether the server closed it. */
function exchange(port: number, bytes: string, waitMs: number): Promise<{ text: string; closedByServer: boolean }> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let text = '';
    let done = false;
    const finish = (closedByServer: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ text, closedByServer });
    };
    socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
    socket.on('error', () => {});
    socket.on('close', () => finish(true));
    const timer = setTimeout(() => finish(false), waitMs);
    socket.write(bytes);
  });
}

describe('createGatewayServer: a request body read only in part', () => {
  let server: Server;
  let port: number;

  before(async () => {
    // Like forward-request: read the body until the limit fails it, then answer with an ordinary
    // response (the pipeline's 413 from the PolicyFailure), not by throwing.
    server = createGatewayServer(
      async (request): Promise<GatewayResponse> => {
        if (request.path === '/upload' && request.body !== null && typeof request.body !== 'string' && !(request.body instanceof Uint8Array)) {
          try {
            for await (const _chunk of request.body) {
              // consumed and dropped
            }
          } catch (err) {
            assert.ok(isRequestTooLarge(err));
            return { status: 413, headers: {}, body: 'too large' };
          }
        }
        return { status: 200, headers: {}, body: `ok ${request.path}` };
      },
      { maxHeaderBytes: 16384, read: { maxBodyBytes: 1000 }, logger: pino({ level: 'silent' }) },
    );
    port = (await listen(server, 0, '127.0.0.1')).port;
  });

  after(async () => {
    server.closeAllConnections();
    await close(server);
  });

  it('closes the connection after answering: the unread rest would otherwise wedge it', async () => {
    const chunk = `4000\r\n${'a'.repeat(0x4000)}\r\n`;
    const upload = `POST /upload HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n${chunk.repeat(100)}0\r\n\r\n`;
    const next = 'GET /next HTTP/1.1\r\nHost: t\r\n\r\n';
    const { text, closedByServer } = await exchange(port, upload + next, 2000);
    assert.match(text, /^HTTP\/1\.1 413 Payload Too Large\r\n/);
    assert.match(text, /\r\nConnection: close\r\n/i);
    assert.doesNotMatch(text, /keep-alive/i);
    assert.equal(closedByServer, true, 'the server closes the connection instead of leaving it hanging');
  });

  it('keeps the connection alive when the body was read to its end', async () => {
    const upload = 'POST /upload HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n';
    const next = 'GET /next HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n';
    const { text } = await exchange(port, upload + next, 2000);
    assert.match(text, /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nok \/upload/);
    assert.match(text, /HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\nok \/next$/);
  });
});

/**
 * A server answering every request with an endless body (idle limit 300 ms) and a raw client that
 * has sent one request; `released()` tells whether the body source was released.
 */
async function endlessResponse(): Promise<{ server: Server; socket: Socket; released: () => boolean }> {
  let released = false;
  async function* endless(): AsyncGenerator<Uint8Array> {
    try {
      for (;;) yield Buffer.alloc(64 * 1024, 0x61);
    } finally {
      released = true;
    }
  }
  const server = createGatewayServer(async () => ({ status: 200, headers: {}, body: endless() }), {
    maxHeaderBytes: 16384,
    read: { maxBodyBytes: 1000 },
    logger: pino({ level: 'silent' }),
    idleTimeoutMs: 300,
  });
  const { port } = await listen(server, 0, '127.0.0.1');
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => {});
  socket.write('GET /big HTTP/1.1\r\nHost: x\r\n\r\n');
  return { server, socket, released: () => released };
}

describe('createGatewayServer: a client that stops reading', () => {
  it('is cut after the idle timeout, and the response body source is released', async () => {
    const { server, socket, released } = await endlessResponse();
    socket.pause(); // never read: the server's writes stall
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    const deadline = Date.now() + 5000;
    while (!released() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.equal(released(), true, 'the body source was released');
    socket.destroy();
    await closed;
    server.closeAllConnections();
    await close(server);
  });
});

describe('createGatewayServer: a client that reads slowly but steadily', () => {
  it('is not cut while the response makes progress, even past the idle limit', async () => {
    const { server, socket, released } = await endlessResponse();
    let closed = false;
    socket.on('close', () => (closed = true));
    let received = 0;
    socket.on('data', (chunk: Buffer) => (received += chunk.length));
    socket.pause();
    // 1.2 s (four idle limits): read for 10 ms, stop for 90 ms, again and again. The response moves
    // in bursts and waits in between, but never for a whole idle limit.
    for (let i = 0; i < 12; i++) {
      await new Promise((r) => setTimeout(r, 90));
      socket.resume();
      await new Promise((r) => setTimeout(r, 10));
      socket.pause();
    }
    assert.equal(closed, false, 'a client that reads is not cut');
    assert.equal(released(), false, 'the body source is still being read');
    assert.ok(received > 0);
    socket.destroy();
    server.closeAllConnections();
    await close(server);
  });
});

/** The error readGatewayRequest's body stream throws past the limit. */
const tooLarge = () => new GatehouseError('GH_REQUEST_TOO_LARGE', 'The request body exceeds the limit of 1000 bytes.', { statusCode: 413 });

describe('createGatewayServer: handlers that answer synchronously', () => {
  let server: Server;
  let port: number;
  const logged: unknown[] = [];
  /** Per path: were the headers sent by the time the gateway's request listener returned? */
  const sentInSameTick = new Map<string, boolean>();

  before(async () => {
    // Collects error log lines, so the 500 path is seen to log GH_INTERNAL.
    const logger = pino({ level: 'error' }, { write: (line: string) => void logged.push(JSON.parse(line)) });
    server = createGatewayServer(
      (request): GatewayResponse | Promise<GatewayResponse> => {
        if (request.path === '/sync') return { status: 203, headers: { 'x-answer': 'sync' }, body: 'answered at once' };
        if (request.path === '/throw') throw new Error('handler bug');
        if (request.path === '/reject') return Promise.reject(new Error('async handler bug'));
        if (request.path === '/too-large-sync') throw tooLarge();
        if (request.path === '/too-large-async') return Promise.reject(tooLarge());
        return Promise.resolve({ status: 202, headers: { 'x-answer': 'async' }, body: 'answered later' });
      },
      { maxHeaderBytes: 16384, read: { maxBodyBytes: 1000 }, logger },
    );
    // Runs right after the gateway's listener, in the same emit: no microtask has run in between.
    server.on('request', (req, res) => void sentInSameTick.set(req.url ?? '', res.headersSent));
    port = (await listen(server, 0, '127.0.0.1')).port;
  });

  after(async () => {
    server.closeAllConnections();
    await close(server);
  });

  const get = (path: string) => exchange(port, `GET ${path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n`, 2000);

  it('writes a response the handler returned synchronously', async () => {
    const { text } = await get('/sync');
    assert.match(text, /^HTTP\/1\.1 203 Non-Authoritative Information\r\n/);
    assert.match(text, /\r\nx-answer: sync\r\n/);
    assert.match(text, /\r\ncontent-length: 16\r\n/i);
    assert.equal(text.slice(text.indexOf('\r\n\r\n') + 4), 'answered at once');
    assert.equal(sentInSameTick.get('/sync'), true, 'written before the listener returned: no await in between');
  });

  it('still waits for a handler that returns a promise', async () => {
    const { text } = await get('/async');
    assert.match(text, /^HTTP\/1\.1 202 Accepted\r\n/);
    assert.match(text, /\r\nx-answer: async\r\n/);
    assert.equal(text.slice(text.indexOf('\r\n\r\n') + 4), 'answered later');
    assert.equal(sentInSameTick.get('/async'), false);
  });

  it('answers a synchronous throw and a rejection alike: a logged GH_INTERNAL 500 with the request id', async () => {
    for (const path of ['/throw', '/reject']) {
      logged.length = 0;
      const { text } = await get(path);
      assert.match(text, /^HTTP\/1\.1 500 Internal Server Error\r\n/, path);
      assert.equal(sentInSameTick.get(path), path === '/throw', `${path}: a synchronous throw is answered at once`);
      assert.equal(logged.length, 1, path);
      const line = logged[0] as { msg: string; err: { message: string }; requestId: string };
      assert.equal(line.msg, 'GH_INTERNAL unexpected failure while handling a request', path);
      assert.equal(line.err.message, path === '/throw' ? 'handler bug' : 'async handler bug');
      assert.match(line.requestId, /^[0-9a-z]+-[0-9a-z]+-[0-9a-z]+$/, path);
      const body: unknown = JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4));
      assert.deepEqual(body, { statusCode: 500, message: 'Internal server error', activityId: line.requestId }, path);
    }
  });

  it('answers the body-limit error with 413 whether thrown synchronously or rejected', async () => {
    for (const path of ['/too-large-sync', '/too-large-async']) {
      logged.length = 0;
      const { text } = await get(path);
      assert.match(text, /^HTTP\/1\.1 413 Payload Too Large\r\n/, path);
      assert.equal(text.slice(text.indexOf('\r\n\r\n') + 4), '{"statusCode":413,"message":"Request entity too large"}', path);
      assert.equal(logged.length, 0, `${path}: a 413 is not an internal failure`);
    }
  });
});
