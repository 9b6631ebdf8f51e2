// nginx from Debian as the C reference: one worker, no access log, the same CORS rule as every
// other contender (the Origin must be http://localhost:3000 to get Access-Control-Allow-Origin),
// upstream keep-alive, responses streamed (proxy_buffering off, 64 KiB reads as undici's) like the Node proxies.
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CORS } from '../servers/common.mjs';

export function nginxBinary() {
  for (const bin of ['nginx', '/usr/sbin/nginx']) {
    const r = spawnSync(bin, ['-v'], { encoding: 'utf8' });
    if (!r.error && r.status === 0) return { bin, version: /nginx\/(\S+)/.exec(r.stderr)?.[1] ?? 'unknown' };
  }
  return null;
}

function location(prefix, to) {
  return `    location ${prefix} {
      if ($request_method = OPTIONS) {
        add_header Access-Control-Allow-Origin $cors_origin;
        add_header Access-Control-Allow-Methods "${CORS.methods.join(', ')}";
        add_header Access-Control-Allow-Headers "${CORS.headers.join(', ')}";
        add_header Access-Control-Max-Age ${CORS.maxAge};
        add_header Vary Origin;
        return 204;
      }
      proxy_pass http://backend${to};
      add_header Access-Control-Allow-Origin $cors_origin always;
      add_header Vary Origin always;
    }
`;
}

/** Writes nginx.conf for `routes` ('api' | 'one' | 'scale') and returns its path. */
export function writeNginxConfig(dir, { port, backendPort, routes }) {
  mkdirSync(dir, { recursive: true });
  const prefixes = routes === 'scale' ? Array.from({ length: 200 }, (_, i) => `/svc-${i}/`) : routes === 'one' ? ['/svc-199/'] : ['/api/'];
  const conf = `worker_processes 1;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')} warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${join(dir, 'body')};
  proxy_temp_path ${join(dir, 'proxy')};
  fastcgi_temp_path ${join(dir, 'fastcgi')};
  uwsgi_temp_path ${join(dir, 'uwsgi')};
  scgi_temp_path ${join(dir, 'scgi')};
  keepalive_requests 1000000;
  map $http_origin $cors_origin { "${CORS.origin}" $http_origin; default ""; }
  upstream backend { server 127.0.0.1:${backendPort}; keepalive 128; keepalive_requests 1000000; }
  proxy_http_version 1.1;
  proxy_set_header Connection "";
  proxy_buffering off;
  proxy_buffer_size 64k;
  proxy_buffers 8 64k;
  proxy_busy_buffers_size 128k;
  server {
    listen 127.0.0.1:${port};
${prefixes.map((p) => location(p, '/')).join('')}  }
}
`;
  const file = join(dir, 'nginx.conf');
  writeFileSync(file, conf);
  return file;
}
