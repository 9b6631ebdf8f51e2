import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import type { Server } from 'node:http';
import { pino } from 'pino';
import type { GatewayResponse } from '../pipeline/context.ts';
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

describe('createGatewayServer: a client that stops reading', () => {
  it('is cut after the idle timeout, and the response body source is released', async () => {
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
    socket.pause(); // never read: the server's writes stall
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    const deadline = Date.now() + 5000;
    while (!released && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.equal(released, true, 'the body source was released');
    socket.destroy();
    await closed;
    server.closeAllConnections();
    await close(server);
  });
});

