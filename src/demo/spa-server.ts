import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * Serves the demo SPA page (demo/spa/index.html) on its own origin. The page is filled in once, at
 * start: the gateway URL it calls, its role ('app' runs the demo's calls; 'other' is the second,
 * disallowed origin, which the app page embeds in a hidden frame), where the second origin is,
 * and the `<cors>` element the page shows (read from the API's policy file, so it never drifts).
 */
export interface SpaServer {
  readonly url: string;
  close(): Promise<void>;
}

export interface SpaServerOptions {
  readonly port: number;
  readonly host: string;
  /** Host name in the URL the banner prints (the page's origin). */
  readonly hostname: string;
  /** The gateway as the browser reaches it. */
  readonly gatewayUrl: string;
  readonly role: 'app' | 'other';
  /** The second origin's page (the app page embeds it); empty for the 'other' role. */
  readonly otherUrl?: string;
  /** A policy.xml whose `<cors>` element the page shows. */
  readonly policyFile?: string;
}

export async function startSpaServer(options: SpaServerOptions): Promise<SpaServer> {
  const page = await readFile(new URL('../../demo/spa/index.html', import.meta.url), 'utf8');
  const policy = options.policyFile === undefined ? '' : corsElementOf(await readFile(options.policyFile, 'utf8'));
  // Filled in once: every request gets the same bytes. The values are our own URLs and a file we
  // ship, still escaped for where they land (HTML text, a JS string literal).
  const html = page
    .replaceAll('__GATEWAY_URL__', escapeHtml(options.gatewayUrl))
    .replaceAll("'__OTHER_URL__'", JSON.stringify(options.otherUrl ?? '').replaceAll('<', '\\u003c'))
    .replaceAll('__ROLE__', options.role)
    .replaceAll('__CORS_POLICY__', escapeHtml(policy));
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

/** The first `<cors …>…</cors>` element of a policy document, re-indented to its own margin. */
function corsElementOf(xml: string): string {
  const match = /^([ \t]*)<cors[\s>][\s\S]*?<\/cors>/m.exec(xml);
  if (match === null) return '(no <cors> element in the policy)';
  const indent = match[1] ?? '';
  return match[0].split('\n').map((line) => (line.startsWith(indent) ? line.slice(indent.length) : line)).join('\n');
}

function escapeHtml(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;');
}
