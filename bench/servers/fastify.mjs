// fastify 5 + @fastify/cors + @fastify/http-proxy, configured as their READMEs show.
//   --routes api     /api → backend (prefix stripped); /api/jsonp wraps ?cb= responses (onResponse)
//   --routes one     one prefix /svc-199 → backend (routing baseline)
//   --routes scale   200 prefixes /svc-0 … /svc-199 → backend (routing at scale)
// Usage: node fastify.mjs --port 0 --backend http://127.0.0.1:N [--routes api|scale]
import Fastify from 'fastify';
import cors from '@fastify/cors';
import proxy from '@fastify/http-proxy';
import { Buffer } from 'node:buffer';
import { args, announce, CORS, jsonpCallback } from './common.mjs';

const opts = args();
const app = Fastify({ logger: false });
await app.register(cors, { origin: CORS.origin, methods: CORS.methods, allowedHeaders: CORS.headers, maxAge: CORS.maxAge });
if (opts.routes === 'scale' || opts.routes === 'one') {
  for (let i = opts.routes === 'one' ? 199 : 0; i < 200; i++) await app.register(proxy, { upstream: opts.backend, prefix: `/svc-${i}`, rewritePrefix: '' });
} else {
  await app.register(proxy, {
    upstream: opts.backend,
    prefix: '/api/jsonp',
    rewritePrefix: '/jsonp',
    replyOptions: {
      onResponse(request, reply, res) {
        const cb = jsonpCallback(request.raw.url);
        if (cb === undefined) return reply.send(res.stream);
        const chunks = [];
        res.stream.on('data', (c) => chunks.push(c));
        res.stream.on('end', () => {
          reply.removeHeader('content-length');
          reply.header('content-type', 'text/javascript; charset=utf-8');
          reply.send(`${cb}(${Buffer.concat(chunks).toString('utf8')});`);
        });
      },
    },
  });
  await app.register(proxy, { upstream: opts.backend, prefix: '/api', rewritePrefix: '' });
}
await app.listen({ port: Number(opts.port ?? 0), host: '127.0.0.1' });
announce(app.server);
