// The bench's backend: a bare node:http server with precomputed answers.
//   GET  …/huge…    256 MiB, streamed with backpressure (the streaming check)
//   GET  …/big…     1 MiB application/octet-stream (Content-Length set)
//   POST …          reads the body, answers {"ok":true,"bytes":N}
//   anything else   a small JSON document
// Usage: node backend.mjs --port 0
import { createServer } from 'node:http';
import { Buffer } from 'node:buffer';
import { args, announce } from './common.mjs';

const SMALL = Buffer.from(JSON.stringify({ id: 42, name: 'widget', tags: ['a', 'b'], price: 9.5 }));
const BIG = Buffer.alloc(1024 * 1024, 0x61);
const CHUNK = Buffer.alloc(64 * 1024, 0x62);
const HUGE_CHUNKS = 4096;
const SMALL_HEADERS = { 'content-type': 'application/json', 'content-length': String(SMALL.length) };
const BIG_HEADERS = { 'content-type': 'application/octet-stream', 'content-length': String(BIG.length) };

const server = createServer((req, res) => {
  if (req.method === 'POST' || req.method === 'PUT') {
    let bytes = 0;
    req.on('data', (c) => (bytes += c.length));
    req.on('end', () => {
      const body = `{"ok":true,"bytes":${bytes}}`;
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) });
      res.end(body);
    });
    return;
  }
  req.resume();
  if (req.url.includes('/huge')) {
    // 256 MiB in 64 KiB chunks, written only as fast as the reader takes them.
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(HUGE_CHUNKS * CHUNK.length) });
    let sent = 0;
    const more = () => {
      while (sent < HUGE_CHUNKS) {
        sent++;
        if (!res.write(CHUNK)) return void res.once('drain', more);
      }
      res.end();
    };
    more();
    return;
  }
  if (req.url.includes('/big')) {
    res.writeHead(200, BIG_HEADERS);
    res.end(BIG);
    return;
  }
  res.writeHead(200, SMALL_HEADERS);
  res.end(SMALL);
});
server.keepAliveTimeout = 60_000;
server.listen(Number(args().port ?? 0), '127.0.0.1', () => announce(server));
