import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Serves the demo SPA page (demo/spa/index.html) on its own origin. The page learns the gateway's
 * URL from a query parameter the start banner prints, and calls the APIs cross-origin.
 */
export interface SpaServer {
  readonly url: string;
  close(): Promise<void>;
}

export async function startSpaServer(options: { port: number; host: string; hostname: string; gatewayUrl: string; role: 'app' | 'other' }): Promise<SpaServer> {
  const page = await readFile(new URL('../../demo/spa/index.html', import.meta.url), 'utf8');
  const html = page.replaceAll('__GATEWAY_URL__', options.gatewayUrl).replaceAll('__ROLE__', options.role);
  const server: Server = createServer((req, res) => {
    if (req.url === '/' || req.url?.startsWith('/?') || req.url === '/index.html') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(html);
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${options.hostname}:${port}`,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}
