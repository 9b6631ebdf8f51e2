/**
 * The two preflight failures APIM documents (cors-policy.md; apim-semantics.md §1.5), reproduced
 * in Chromium against the real gateway over test/fixtures/subscriptions, each next to the
 * documented workaround succeeding:
 * - product-scope cors + key in a header: the preflight carries no key, resolves no product,
 *   finds no cors → 404, blocked. Key in the query: the preflight resolves the product → allowed.
 * - API-scope cors + Header versioning: the preflight carries no version header, resolves no API
 *   → 404, blocked. Segment or Query versioning: the preflight finds the version → allowed.
 *
 * Every case asserts what script saw (resolved or TypeError), that Chromium really sent a
 * preflight (DevTools protocol), and what the gateway answered it (the gateway's request log).
 * Origins: the page at http://app.localhost:<pages>, the gateway at http://localhost:<gateway>.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import type { Browser } from 'playwright-core';
import { createGateway, type Gateway } from '../../src/gateway.ts';
import { launchChromium, newSession, startPageServer, type BrowserSession, type PageServer } from './harness.ts';

const FOLDER = fileURLToPath(new URL('../fixtures/subscriptions', import.meta.url));
const API_NAMES = ['catalog', 'public', 'anon', 'custom', 'secure', 'books', 'books-v2', 'music-v1', 'music-v2', 'films-v1', 'films-v2', 'echo'];

let browser: Browser;
let pages: PageServer;
let backend: Server;
let gateway: Gateway;
let GATEWAY: string;
let APP: string;
let session: BrowserSession;
/** Every request the gateway answered (its own debug log line), in order. */
const answered: { method: string; url: string; status: number }[] = [];

before(async () => {
  backend = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ url: req.url, key: req.headers['ocp-apim-subscription-key'] ?? null }));
    });
  });
  await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve));
  const backendUrl = `http://127.0.0.1:${(backend.address() as AddressInfo).port}`;
  const sink = {
    write(line: string) {
      const entry = JSON.parse(line) as { msg?: string; method?: string; url?: string; status?: number };
      if (entry.msg === 'request' && entry.method !== undefined) answered.push({ method: entry.method, url: entry.url ?? '', status: entry.status ?? 0 });
    },
  };
  gateway = await createGateway({
    configDir: FOLDER,
    port: 0,
    host: '127.0.0.1',
    logger: pino({ level: 'debug' }, sink),
    serviceUrls: Object.fromEntries(API_NAMES.map((name) => [name, `${backendUrl}/${name}`])),
  });
  GATEWAY = `http://localhost:${gateway.port}`;
  pages = await startPageServer();
  APP = pages.origin('app.localhost');
  browser = await launchChromium();
});

after(async () => {
  await session?.close();
  await browser?.close();
  await pages?.close();
  await gateway?.close();
  backend?.closeAllConnections();
  await new Promise((r) => backend?.close(r));
});

/** A fresh context per case: no preflight cache carries over. */
async function openApp() {
  await session?.close();
  session = await newSession(browser);
  return session.open(APP);
}

/** The gateway's answer to the last OPTIONS for `pathAndQuery` (the log line follows the response by a moment). */
async function preflightStatus(pathAndQuery: string): Promise<number> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const hit = answered.filter((e) => e.method === 'OPTIONS' && e.url === pathAndQuery).at(-1);
    if (hit !== undefined) return hit.status;
    if (Date.now() > deadline) throw new Error(`the gateway logged no OPTIONS ${pathAndQuery}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const JSON_POST = { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"n":1}' };

test('product-scope cors, key in the Ocp-Apim-Subscription-Key header: the preflight finds no product (404) and Chromium blocks the call', async () => {
  const page = await openApp();
  const url = `${GATEWAY}/catalog/items`;
  const outcome = await page.fetch(url, { ...JSON_POST, headers: { ...JSON_POST.headers, 'Ocp-Apim-Subscription-Key': 'gold-primary-key' } });
  assert.equal(outcome.outcome, 'blocked');
  assert.deepEqual(page.preflights(), [url], 'Chromium sent exactly one preflight, without the key');
  assert.equal(await preflightStatus('/catalog/items'), 404);
  assert.equal(answered.filter((e) => e.method === 'POST' && e.url === '/catalog/items').length, 0, 'the POST itself was never sent');
});

test('product-scope cors, key in the subscription-key query parameter (the documented workaround): the preflight resolves the product and the call succeeds', async () => {
  const page = await openApp();
  const url = `${GATEWAY}/catalog/items?subscription-key=gold-primary-key`;
  const outcome = await page.fetch(url, JSON_POST, ['x-product']);
  assert.ok(outcome.outcome === 'allowed', JSON.stringify(outcome));
  assert.equal(outcome.status, 200);
  assert.deepEqual(JSON.parse(outcome.body), { url: '/catalog/items?subscription-key=gold-primary-key', key: null });
  assert.deepEqual(page.preflights(), [url]);
  assert.equal(await preflightStatus('/catalog/items?subscription-key=gold-primary-key'), 200);
});

test('API-scope cors on a Header-versioned API: the preflight has no Api-Version header, so no API is found (404) and Chromium blocks the call', async () => {
  const page = await openApp();
  const url = `${GATEWAY}/films/items`;
  const outcome = await page.fetch(url, { method: 'GET', headers: { 'Api-Version': 'v2' } });
  assert.equal(outcome.outcome, 'blocked');
  assert.deepEqual(page.preflights(), [url]);
  assert.equal(await preflightStatus('/films/items'), 404);
  // The same request from a non-browser client (no preflight) works: only CORS is broken.
  const direct = await fetch(`${gateway.url}/films/items`, { headers: { 'Api-Version': 'v2' } });
  assert.equal(direct.status, 200);
  assert.equal(direct.headers.get('x-version'), 'films-v2');
});

test('API-scope cors with Segment versioning (workaround): the preflight finds the version and the call succeeds', async () => {
  const page = await openApp();
  const url = `${GATEWAY}/books/v2/items`;
  const outcome = await page.fetch(url, { method: 'GET', headers: { 'x-client': 'spa' } });
  assert.ok(outcome.outcome === 'allowed', JSON.stringify(outcome));
  assert.equal(outcome.status, 200);
  assert.deepEqual(JSON.parse(outcome.body), { url: '/books-v2/items', key: null });
  assert.deepEqual(page.preflights(), [url]);
  assert.equal(await preflightStatus('/books/v2/items'), 200);
});

test('API-scope cors with Query versioning (workaround): the preflight finds the version and the call succeeds', async () => {
  const page = await openApp();
  const url = `${GATEWAY}/music/items?api-version=v2`;
  const outcome = await page.fetch(url, { method: 'GET', headers: { 'x-client': 'spa' } });
  assert.ok(outcome.outcome === 'allowed', JSON.stringify(outcome));
  assert.equal(outcome.status, 200);
  assert.deepEqual(JSON.parse(outcome.body), { url: '/music-v2/items?api-version=v2', key: null });
  assert.deepEqual(page.preflights(), [url]);
  assert.equal(await preflightStatus('/music/items?api-version=v2'), 200);
});
