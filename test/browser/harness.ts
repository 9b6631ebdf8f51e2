/**
 * Shared pieces of the Chromium suites (docs/browser-tests.md): Debian's chromium driven through
 * playwright-core, a page server that gives each test an origin of its own, a backend that records
 * what reached it, and a gateway built from an inline APIOps folder whose request log says what
 * reached the gateway. Everything binds port 0 on 127.0.0.1; distinct origins come from
 * `*.localhost` names, which Chromium resolves to loopback without DNS.
 */
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { createGateway, type Gateway } from '../../src/gateway.ts';

/** Where Debian installs chromium; scripts/run-tests.mjs installs it there when missing. */
export const CHROMIUM_PATH = process.env.GATEHOUSE_CHROMIUM ?? '/usr/bin/chromium';

/** Flags for a quiet, reproducible headless run on a CI box (no sandbox: containers run as root). */
export const CHROMIUM_ARGS: readonly string[] = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
];

/** Launches Debian's chromium once per test file. `extraArgs` e.g. `--host-resolver-rules=…`. */
export function launchChromium(extraArgs: readonly string[] = []): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: [...CHROMIUM_ARGS, ...extraArgs], timeout: 30_000 });
}

// ---------------------------------------------------------------------------------------------
// Page server: one listener, many origins (the Host decides which origin the page is on).

/**
 * The probe page. Its script performs one fetch when asked and reports what the browser allowed:
 * the status and the response headers script could read, or the TypeError the browser raised.
 * Each outcome is also written into the page, so a screenshot shows what happened.
 */
const PROBE_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>probe</title></head>
<body><h1></h1><ol id="log"></ol>
<script>
  document.querySelector('h1').textContent = 'probe page on ' + location.origin;
  window.probe = async (url, init, read) => {
    const item = document.createElement('li');
    document.getElementById('log').append(item);
    try {
      const res = await fetch(url, init);
      const headers = {};
      for (const name of read) headers[name] = res.headers.get(name);
      const body = await res.text();
      item.textContent = (init.method || 'GET') + ' ' + url + ': allowed, ' + res.status;
      return { outcome: 'allowed', status: res.status, headers, body };
    } catch (err) {
      item.textContent = (init.method || 'GET') + ' ' + url + ': blocked, ' + err.name + ': ' + err.message;
      return { outcome: 'blocked', error: err.name + ': ' + err.message };
    }
  };
</script></body></html>`;

export interface PageServer {
  readonly port: number;
  /** `http://<host>:<port>`, e.g. origin('evil.localhost'). */
  origin(host: string): string;
  close(): Promise<void>;
}

/** Serves the probe page at `/` on 127.0.0.1, port 0, to whatever host name the browser used. */
export async function startPageServer(): Promise<PageServer> {
  const server = createServer((req, res) => {
    if (req.method === 'GET' && (req.url === '/' || req.url?.startsWith('/?'))) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(PROBE_PAGE);
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found');
  });
  const port = await listenOnLoopback(server);
  return { port, origin: (host) => `http://${host}:${port}`, close: () => closeServer(server) };
}

// ---------------------------------------------------------------------------------------------
// Browser session: a fresh context (own cookie jar, own preflight cache) per test.

/** What the browser let script see of one fetch. */
export type FetchOutcome =
  | { readonly outcome: 'allowed'; readonly status: number; readonly headers: Readonly<Record<string, string | null>>; readonly body: string }
  | { readonly outcome: 'blocked'; readonly error: string };

/** The subset of RequestInit a probe passes to fetch (must survive structured cloning). */
export interface ProbeInit {
  readonly method?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string;
  readonly credentials?: 'omit' | 'same-origin' | 'include';
}

export interface OriginPage {
  readonly page: Page;
  readonly origin: string;
  /** Runs fetch(url, init) in the page's script and reports the outcome; `read` lists response headers to try. */
  fetch(url: string, init?: ProbeInit, read?: readonly string[]): Promise<FetchOutcome>;
  /**
   * URLs of the preflights (OPTIONS) this page's browser sent, from the DevTools protocol:
   * script never sees preflights, the protocol does (Chromium reports them as method OPTIONS).
   */
  preflights(): readonly string[];
}

export interface BrowserSession {
  readonly context: BrowserContext;
  open(origin: string): Promise<OriginPage>;
  close(): Promise<void>;
}

/** A new incognito-like context: nothing cached from an earlier test, notably no preflight cache. */
export async function newSession(browser: Browser): Promise<BrowserSession> {
  const context = await browser.newContext();
  return {
    context,
    async open(origin) {
      const page = await context.newPage();
      const preflights: string[] = [];
      const cdp = await context.newCDPSession(page);
      cdp.on('Network.requestWillBeSent', (event) => {
        if (event.request.method === 'OPTIONS') preflights.push(event.request.url);
      });
      await cdp.send('Network.enable');
      await page.goto(`${origin}/`);
      return {
        page,
        origin,
        fetch: (url, init = {}, read = []) =>
          page.evaluate(
            ([u, i, r]) => (globalThis as unknown as { probe(u: string, i: ProbeInit, r: readonly string[]): Promise<FetchOutcome> }).probe(u, i, r),
            [url, init, read] as const,
          ),
        preflights: () => preflights,
      };
    },
    close: () => context.close(),
  };
}

// ---------------------------------------------------------------------------------------------
// Backend: records every request that reached it.

export interface BackendRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
}

export interface RecordingBackend {
  /** Base URL; an API named `x` gets `${url}/x` as its serviceUrl. */
  readonly url: string;
  readonly requests: readonly BackendRequest[];
  /** Requests with this method whose path starts with `pathPrefix`. */
  count(method: string, pathPrefix: string): number;
  close(): Promise<void>;
}

/**
 * Answers every request 200 with JSON saying what it received (method, path, the headers a test
 * asks about) and with two response headers of its own, `x-trace-id` and `x-secret`, for the
 * expose-headers case. It never adds CORS headers: whatever CORS answer the browser sees is the gateway's.
 */
export async function startRecordingBackend(): Promise<RecordingBackend> {
  const requests: BackendRequest[] = [];
  const server = createServer((req, res) => {
    const record = { method: req.method ?? '', path: req.url ?? '', headers: req.headers };
    requests.push(record);
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > 64 * 1024) req.destroy();
    });
    req.on('end', () => {
      const body = JSON.stringify({
        method: record.method,
        path: record.path,
        contentType: req.headers['content-type'] ?? null,
        requestedBy: req.headers['x-requested-by'] ?? null,
        cookie: req.headers.cookie ?? null,
        bytes: size,
      });
      res.writeHead(200, { 'content-type': 'application/json', 'x-trace-id': 'trace-42', 'x-secret': 'not-for-script' });
      res.end(body);
    });
  });
  const port = await listenOnLoopback(server);
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    count: (method, pathPrefix) => requests.filter((r) => r.method === method && r.path.startsWith(pathPrefix)).length,
    close: () => closeServer(server),
  };
}

// ---------------------------------------------------------------------------------------------
// Inline APIOps folders.

export interface InlineOperation {
  /** operationId; also the folder name of its policy. */
  readonly id: string;
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE' | 'PATCH' | 'OPTIONS' | 'HEAD';
  readonly path: string;
  /** Operation-scope policy document (full `<policies>` XML). */
  readonly policy?: string;
}

export interface InlineApi {
  /** API name, also its URL suffix. */
  readonly name: string;
  /** API-scope policy document (full `<policies>` XML). */
  readonly policy?: string;
  readonly operations: readonly InlineOperation[];
  /** Backend URL; default `${backend.url}/<name>` (the recording backend). */
  readonly serviceUrl?: string;
}

export interface InlineFolder {
  /** Global ("All APIs") policy; default: forward-request only. */
  readonly globalPolicy?: string;
  readonly apis: readonly InlineApi[];
  /** gatehouse.yaml text, when the case needs one. */
  readonly overlay?: string;
}

const DEFAULT_GLOBAL_POLICY = `<policies>
  <inbound />
  <backend><forward-request timeout="10" /></backend>
  <outbound />
  <on-error />
</policies>`;

/**
 * Writes an APIOps v7 folder: policy.xml, apis/<name>/{apiInformation.json, specification.yaml,
 * policy.xml, operations/<id>/policy.xml}. The specification is JSON, which YAML readers accept.
 */
export async function writeApiopsFolder(dir: string, folder: InlineFolder): Promise<void> {
  await writeFile(join(dir, 'policy.xml'), folder.globalPolicy ?? DEFAULT_GLOBAL_POLICY);
  if (folder.overlay !== undefined) await writeFile(join(dir, 'gatehouse.yaml'), folder.overlay);
  for (const api of folder.apis) {
    const apiDir = join(dir, 'apis', api.name);
    await mkdir(apiDir, { recursive: true });
    const info = {
      properties: {
        displayName: api.name,
        path: api.name,
        protocols: ['https'],
        // Replaced through serviceUrls by startGatewayOver; port 9 (discard) if it ever leaked through.
        serviceUrl: `http://127.0.0.1:9/${api.name}`,
        subscriptionRequired: false,
        apiRevision: '1',
        isCurrent: true,
        type: 'http',
      },
    };
    await writeFile(join(apiDir, 'apiInformation.json'), JSON.stringify(info, null, 2));
    const paths: Record<string, Record<string, unknown>> = {};
    for (const op of api.operations) {
      (paths[op.path] ??= {})[op.method.toLowerCase()] = { operationId: op.id, responses: { '200': { description: 'OK' } } };
    }
    const spec = { openapi: '3.0.1', info: { title: api.name, version: '1' }, paths };
    await writeFile(join(apiDir, 'specification.yaml'), JSON.stringify(spec, null, 2));
    if (api.policy !== undefined) await writeFile(join(apiDir, 'policy.xml'), api.policy);
    for (const op of api.operations) {
      if (op.policy === undefined) continue;
      const opDir = join(apiDir, 'operations', op.id);
      await mkdir(opDir, { recursive: true });
      await writeFile(join(opDir, 'policy.xml'), op.policy);
    }
  }
}

export interface CorsOptions {
  readonly origins: readonly string[];
  readonly methods?: readonly string[];
  readonly headers?: readonly string[];
  readonly expose?: readonly string[];
  readonly credentials?: boolean;
  readonly terminate?: boolean;
  readonly maxAge?: number;
}

/** A `<cors>` element; attributes are written only when given, so defaults stay the policy's own. */
export function corsXml(o: CorsOptions): string {
  const attrs = [
    o.credentials === undefined ? '' : ` allow-credentials="${o.credentials}"`,
    o.terminate === undefined ? '' : ` terminate-unmatched-request="${o.terminate}"`,
  ].join('');
  const list = (outer: string, inner: string, items: readonly string[] | undefined, outerAttrs = '') =>
    items === undefined ? '' : `\n    <${outer}${outerAttrs}>${items.map((i) => `<${inner}>${i}</${inner}>`).join('')}</${outer}>`;
  // APIM puts preflight-result-max-age on <allowed-methods>, not on <cors>.
  const maxAge = o.maxAge === undefined ? '' : ` preflight-result-max-age="${o.maxAge}"`;
  return `<cors${attrs}>${list('allowed-origins', 'origin', o.origins)}${list('allowed-methods', 'method', o.methods, maxAge)}${list('allowed-headers', 'header', o.headers)}${list('expose-headers', 'header', o.expose)}
  </cors>`;
}

/** An API- or operation-scope document whose inbound is `inbound` followed by `<base />`. */
export function policyXml(inbound: string, options: { base?: boolean } = {}): string {
  const base = options.base === false ? '' : '\n    <base />';
  return `<policies>
  <inbound>
    ${inbound}${base}
  </inbound>
  <backend><base /></backend>
  <outbound><base /></outbound>
  <on-error><base /></on-error>
</policies>`;
}

// ---------------------------------------------------------------------------------------------
// Gateway over an inline folder, with a log of what reached it.

export interface GatewayLogEntry {
  readonly method: string;
  readonly url: string;
  readonly status: number;
}

export interface TestGateway {
  readonly gateway: Gateway;
  /** The gateway as the browser reaches it: `http://localhost:<port>` (a different origin from every page). */
  readonly url: string;
  /** Every request the gateway answered, from its own request log. */
  readonly log: readonly GatewayLogEntry[];
  /** Requests with this method whose URL starts with `pathPrefix`, as the gateway saw them. */
  count(method: string, pathPrefix: string): number;
  close(): Promise<void>;
}

/**
 * Writes `folder` into a temp dir and serves it on 127.0.0.1:0, each API's backend pointing at
 * `${backend.url}/<api name>` unless the API names its own. The gateway's own debug log (one 'request' line per answered
 * request, written by src/http/server.ts) is what counts preflights: they never reach a backend.
 */
export async function startGatewayOver(folder: InlineFolder, backend: RecordingBackend): Promise<TestGateway> {
  const dir = await mkdtemp(join(tmpdir(), 'gatehouse-browser-'));
  const log: GatewayLogEntry[] = [];
  const sink = {
    write(line: string) {
      const entry = JSON.parse(line) as { msg?: string; method?: string; url?: string; status?: number };
      if (entry.msg === 'request' && entry.method !== undefined) log.push({ method: entry.method, url: entry.url ?? '', status: entry.status ?? 0 });
    },
  };
  try {
    await writeApiopsFolder(dir, folder);
    const gateway = await createGateway({
      configDir: dir,
      port: 0,
      host: '127.0.0.1',
      logger: pino({ level: 'debug' }, sink),
      serviceUrls: Object.fromEntries(folder.apis.map((api) => [api.name, api.serviceUrl ?? `${backend.url}/${api.name}`])),
    });
    return {
      gateway,
      url: `http://localhost:${gateway.port}`,
      log,
      count: (method, pathPrefix) => log.filter((e) => e.method === method && e.url.startsWith(pathPrefix)).length,
      async close() {
        await gateway.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

// ---------------------------------------------------------------------------------------------

/**
 * Polls until `check` holds. The gateway logs a request after its response is written, so the
 * browser can see an answer a moment before the log line exists.
 */
export async function waitFor(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function listenOnLoopback(server: Server): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** Runs `body` in a fresh browser context (no cookies, no cached preflights) and closes it whatever happens. */
export async function withSession(browser: Browser, body: (s: BrowserSession) => Promise<void>): Promise<void> {
  const session = await newSession(browser);
  try {
    await body(session);
  } finally {
    await session.close();
  }
}

