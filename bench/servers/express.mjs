// express 5 + cors + http-proxy-middleware 3, configured as their READMEs show.
//   --routes api     /api → backend (mount path stripped); /api/jsonp wraps ?cb= (responseInterceptor)
//   --routes one     one mount /svc-199 → backend (routing baseline)
//   --routes scale   200 mounts /svc-0 … /svc-199 → backend (routing at scale)
// Usage: node express.mjs --port 0 --backend http://127.0.0.1:N [--routes api|scale]
import { Agent } from 'node:http';
import express from 'express';
import cors from 'cors';
import { createProxyMiddleware, responseInterceptor } from 'http-proxy-middleware';
import { args, announce, CORS, jsonpCallback } from './common.mjs';

const opts = args();
const app = express();
app.disable('x-powered-by');
app.use(cors({ origin: CORS.origin, methods: CORS.methods, allowedHeaders: CORS.headers, maxAge: CORS.maxAge }));
// A keep-alive agent: http-proxy's default (agent: false) opens a new backend connection per
// request, which would measure TCP set-up rather than the framework.
const agent = new Agent({ keepAlive: true });
if (opts.routes === 'scale' || opts.routes === 'one') {
  for (let i = opts.routes === 'one' ? 199 : 0; i < 200; i++) app.use(`/svc-${i}`, createProxyMiddleware({ target: opts.backend, agent }));
} else {
  app.use(
    '/api/jsonp',
    createProxyMiddleware({
      target: `${opts.backend}/jsonp`,
      agent,
      selfHandleResponse: true,
      on: {
        proxyRes: responseInterceptor(async (buffer, _proxyRes, req, res) => {
          const cb = jsonpCallback(req.originalUrl);
          if (cb === undefined) return buffer;
          res.setHeader('content-type', 'text/javascript; charset=utf-8');
          return `${cb}(${buffer.toString('utf8')});`;
        }),
      },
    }),
  );
  app.use('/api', createProxyMiddleware({ target: opts.backend, agent }));
}
const server = app.listen(Number(opts.port ?? 0), '127.0.0.1', () => announce(server));
server.keepAliveTimeout = 60_000;
