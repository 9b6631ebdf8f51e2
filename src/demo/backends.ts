import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * The demo's backends: the blog post's internal telemetry and audit services. Each listens on an
 * ephemeral loopback port that only the gateway is told about, so the SPA can reach them only
 * through the gateway. GET lists what was stored; POST stores a JSON body (bounded) and echoes it.
 */
export interface DemoBackend {
  readonly name: string;
  readonly url: string;
  close(): Promise<void>;
}

const MAX_BODY = 64 * 1024;

export async function startDemoBackend(name: string): Promise<DemoBackend> {
  const items: unknown[] = [{ id: 1, source: name, note: `seeded by the ${name} backend` }];
  const server: Server = createServer((req, res) => {
    const send = (status: number, body: unknown) => {
      const text = JSON.stringify(body);
      // X-Powered-By is removed by the demo's global outbound policy: proof the pipeline ran.
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), 'x-powered-by': `demo-${name}` });
      res.end(text);
    };
    if (req.method === 'GET') return send(200, { service: name, path: req.url, items });
    if (req.method === 'POST') {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_BODY) {
          send(413, { error: 'too large' });
          req.destroy();
        } else chunks.push(chunk);
      });
      req.on('end', () => {
        let parsed: unknown = null;
        try {
          parsed = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : null;
        } catch {
          return send(400, { error: 'body is not JSON' });
        }
        const item = { id: items.length + 1, received: parsed };
        items.push(item);
        send(201, { service: name, stored: item });
      });
      return;
    }
    send(405, { error: `${req.method} is not supported by the ${name} backend` });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    name,
    url: `http://127.0.0.1:${port}/${name}`,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
