/**
 * Backend response bodies through the real gateway (test/fixtures/backend-streaming: one API, no
 * policy touching the body), a real node:http backend and real client connections: a client that
 * leaves mid-body releases the backend request, a backend that breaks mid-body breaks the client
 * connection (never a clean, truncated end), and a large body arrives byte for byte.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { createGateway, type Gateway } from '../../src/gateway.ts';

const FOLDER = fileURLToPath(new URL('../fixtures/backend-streaming', import.meta.url));
const KiB = 1024;
const MiB = 1024 * KiB;

type Route = (req: IncomingMessage, res: ServerResponse) => void;

/** The backend answers each path with the route the running test installed. */
const routes = new Map<string, Route>();
let backend: Server;
let gateway: Gateway;

before(async () => {
  backend = createServer((req, res) => {
    const route = routes.get(req.url ?? '');
    if (route !== undefined) return route(req, res);
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end(`ok ${req.url}`);
  });
  await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve));
  const backendUrl = `http://127.0.0.1:${(backend.address() as AddressInfo).port}`;
  gateway = await createGateway({ configDir: FOLDER, port: 0, host: '127.0.0.1', serviceUrls: { files: `${backendUrl}/files` } });
});

after(async () => {
  await gateway?.close();
  backend?.closeAllConnections();
  await new Promise((resolve) => backend?.close(resolve));
});

/** Awaits `promise`, failing instead of hanging when it does not settle within `ms`. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Writes `total` bytes in `chunkSize` pieces, `delayMs` apart, honouring backpressure. Slow on
 * purpose: loopback socket buffers can hold several MiB, so a fast writer could hand the whole
 * body to the kernel (and 'finish') before any abort could reach it.
 */
function writeSlowly(res: ServerResponse, total: number, chunkSize: number, delayMs: number, onWritten: (bytes: number) => void): void {
  const chunk = Buffer.alloc(chunkSize, 0x73);
  let written = 0;
  const step = (): void => {
    if (res.destroyed) return;
    if (written >= total) {
      res.end();
      return;
    }
    written += chunkSize;
    onWritten(written);
    // A 64 KiB write is over node's 16 KiB high-water mark, so it usually returns false: wait for
    // 'drain', then the delay, either way.
    if (res.write(chunk)) setTimeout(step, delayMs);
    else res.once('drain', () => setTimeout(step, delayMs));
  };
  step();
}

async function answersNormally(): Promise<void> {
  const res = await within(request(`${gateway.url}/files/small`), 5_000, 'the next request');
  assert.equal(res.statusCode, 200);
  assert.equal(await res.body.text(), 'ok /files/small');
}

test('a client that leaves in the middle of an 8 MiB streamed body makes the gateway abort the backend response', async () => {
  const total = 8 * MiB;
  let written = 0;
  const backendClosed = new Promise<{ finished: boolean; written: number }>((resolve) => {
    routes.set('/files/big-slow', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(total) });
      res.on('close', () => resolve({ finished: res.writableFinished, written }));
      // 64 KiB every 8 ms: a second or more for the whole body; the client leaves after 256 KiB.
      writeSlowly(res, total, 64 * KiB, 8, (bytes) => (written = bytes));
    });
  });

  // A raw client: read the headers and the first 256 KiB of body, then go away.
  const received = await within(
    new Promise<number>((resolve, reject) => {
      const socket = connect(gateway.port, '127.0.0.1');
      let bytes = 0;
      socket.on('data', (d: Buffer) => {
        bytes += d.length;
        if (bytes >= 256 * KiB) {
          socket.destroy();
          resolve(bytes);
        }
      });
      socket.on('error', reject);
      socket.on('close', () => reject(new Error(`the gateway closed the connection after ${bytes} bytes`)));
      socket.write('GET /files/big-slow HTTP/1.1\r\nHost: gateway.test\r\n\r\n');
    }),
    5_000,
    'the first 256 KiB',
  );
  assert.ok(received >= 256 * KiB);

  const outcome = await within(backendClosed, 5_000, "the backend response's close");
  assert.equal(outcome.finished, false, 'the backend response must be cut, not read to its end');
  assert.ok(outcome.written < total / 2, `the backend wrote ${outcome.written} of ${total} bytes before it was cut`);
  await answersNormally();
});

test('a backend that resets the connection mid-body breaks the client connection; the gateway answers the next request', async () => {
  let resetNow: () => void = () => {};
  routes.set('/files/reset', (req, res) => {
    // Chunked (no Content-Length): a gateway that ended its response cleanly here would hand the
    // client a well-framed, truncated body.
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    res.write(Buffer.alloc(100 * KiB, 0x72));
    resetNow = () => req.socket.resetAndDestroy();
  });

  const res = await within(request(`${gateway.url}/files/reset`), 5_000, 'the response headers');
  assert.equal(res.statusCode, 200);
  assert.equal(res.headers['content-length'], undefined);
  let bodyBytes = 0;
  const reading = (async () => {
    for await (const chunk of res.body) {
      if (bodyBytes === 0) resetNow(); // the client has part of the body: now the backend breaks
      bodyBytes += (chunk as Buffer).length;
    }
  })();
  const error = await within(
    reading.then(
      () => null,
      (err: unknown) => err,
    ),
    5_000,
    'the end of the broken body',
  );
  assert.ok(error instanceof Error, `the body must fail, not end cleanly after ${bodyBytes} bytes`);
  // undici's name for a connection closed before the chunked body's terminating chunk.
  assert.equal((error as Error & { code?: string }).code, 'UND_ERR_SOCKET');
  assert.ok(bodyBytes > 0 && bodyBytes <= 100 * KiB, `received ${bodyBytes} bytes`);

  await answersNormally();
});

test('a 10 MiB backend body reaches a slow-reading client byte for byte', async () => {
  const total = 10 * MiB;
  const data = randomBytes(total);
  const expected = createHash('sha256').update(data).digest('hex');
  routes.set('/files/exact', (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(total) });
    // Uneven pieces, so chunk boundaries fall everywhere.
    const sizes = [1, 7, 1000, 65_536, 300_000, 13, 131_072];
    let offset = 0;
    let i = 0;
    const write = (): void => {
      while (offset < total) {
        const size = Math.min(sizes[i++ % sizes.length] as number, total - offset);
        const ok = res.write(data.subarray(offset, offset + size));
        offset += size;
        if (!ok) {
          res.once('drain', write);
          return;
        }
      }
      res.end();
    };
    write();
  });

  const res = await within(request(`${gateway.url}/files/exact`), 5_000, 'the response headers');
  assert.equal(res.statusCode, 200);
  assert.equal(res.headers['content-length'], String(total));
  const hash = createHash('sha256');
  let received = 0;
  let chunks = 0;
  await within(
    (async () => {
      for await (const chunk of res.body) {
        // Stop reading for a moment early on: the gateway must hold the backend, not lose bytes.
        if (chunks++ === 1) await new Promise((resolve) => setTimeout(resolve, 200));
        hash.update(chunk as Buffer);
        received += (chunk as Buffer).length;
      }
    })(),
    20_000,
    'the whole body',
  );
  assert.equal(received, total);
  assert.equal(hash.digest('hex'), expected);
});
