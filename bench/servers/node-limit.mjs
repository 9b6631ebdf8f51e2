// The Node limits: the least a node:http server can do for each scenario.
//   OPTIONS   → 204 with fixed CORS preflight headers (no checks at all)
//   otherwise → undici passthrough to the backend (/api prefix stripped), fixed CORS headers added;
//               ?cb= on /api/jsonp… buffers the JSON and wraps it (the least a JSONP proxy can do)
// Usage: node node-limit.mjs --port 0 --backend http://127.0.0.1:N
import { Buffer } from 'node:buffer';
import { createServer } from 'node:http';
import { Agent } from 'undici';
import { args, announce, CORS, jsonpCallback } from './common.mjs';

const opts = args();
const origin = opts.backend;
const agent = new Agent({ keepAliveTimeout: 4000, connections: null });
const PREFLIGHT = {
  'access-control-allow-origin': CORS.origin,
  'access-control-allow-methods': CORS.methods.join(', '),
  'access-control-allow-headers': CORS.headers.join(', '),
  'access-control-max-age': String(CORS.maxAge),
  vary: 'Origin',
};
const HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'te', 'upgrade', 'trailer', 'proxy-connection', 'host']);

const server = createServer((req, res) => {
  if (req.method === 'OPTIONS') {
    res.writeHead(204, PREFLIGHT);
    res.end();
    return;
  }
  const headers = {};
  for (const name in req.headers) if (!HOP.has(name)) headers[name] = req.headers[name];
  const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
  const path = req.url.startsWith('/api/') ? req.url.slice(4) : req.url;
  agent.request({ origin, path, method: req.method, headers, body: hasBody ? req : null }).then(
    ({ statusCode, headers: rh, body }) => {
      for (const name in rh) if (HOP.has(name)) delete rh[name];
      rh['access-control-allow-origin'] = CORS.origin;
      rh.vary = 'Origin';
      const cb = path.startsWith('/jsonp') ? jsonpCallback(path) : undefined;
      if (cb !== undefined) {
        body.text().then((text) => {
          const wrapped = `${cb}(${text});`;
          rh['content-type'] = 'text/javascript; charset=utf-8';
          rh['content-length'] = String(Buffer.byteLength(wrapped));
          res.writeHead(statusCode, rh);
          res.end(wrapped);
        }, () => res.destroy());
        return;
      }
      res.writeHead(statusCode, rh);
      // pipe, not stream.pipeline: pipeline's per-call AbortController costs ~8 % of a small proxied
      // call. The least error handling that never leaks: either side failing destroys the other.
      body.on('error', () => res.destroy());
      res.on('close', () => body.destroy());
      body.pipe(res);
    },
    () => {
      res.writeHead(502);
      res.end();
    },
  );
});
server.keepAliveTimeout = 60_000;
server.listen(Number(opts.port ?? 0), '127.0.0.1', () => announce(server));
