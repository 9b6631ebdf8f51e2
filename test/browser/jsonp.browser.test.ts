/**
 * jsonp as Chromium sees it (docs/jsonp.md): a page on another origin loads the API through a
 * `<script src="…?cb=…">` tag, the way JSONP clients do. A valid callback runs with the backend's
 * JSON; a refused one gets the 400, the script element fires `error`, and nothing the attacker
 * wrote runs. Each case also checks what the gateway answered (its own request log).
 *
 * Origins: the page at http://app.localhost:<pages>; the gateway at http://localhost:<gateway>.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser, Page } from 'playwright-core';
import {
  launchChromium,
  withSession,
  startGatewayOver,
  startPageServer,
  startRecordingBackend,
  waitFor,
  type BrowserSession,
  type PageServer,
  type RecordingBackend,
  type TestGateway,
} from './harness.ts';

let browser: Browser;
let pages: PageServer;
let backend: RecordingBackend;
let gw: TestGateway;
let APP: string;

/** jsonp at API scope, after <base /> (the global outbound runs first). */
const DATA_POLICY = `<policies>
  <inbound><base /></inbound>
  <backend><base /></backend>
  <outbound>
    <base />
    <jsonp callback-parameter-name="cb" />
  </outbound>
  <on-error><base /></on-error>
</policies>`;

before(async () => {
  [browser, pages, backend] = await Promise.all([launchChromium(), startPageServer(), startRecordingBackend()]);
  APP = pages.origin('app.localhost');
  gw = await startGatewayOver({ apis: [{ name: 'api', policy: DATA_POLICY, operations: [{ id: 'get-data', method: 'GET', path: '/data' }] }] }, backend);
});

after(async () => {
  await Promise.allSettled([browser?.close(), gw?.close(), pages?.close(), backend?.close()]);
});

const inSession = (body: (s: BrowserSession) => Promise<void>): Promise<void> => withSession(browser, body);

/** What the page recorded: callback calls, script element events, window errors, and the injection flag. */
interface PageRecord {
  readonly received: unknown[];
  readonly events: string[];
  readonly errors: string[];
  readonly injected: boolean;
}

/**
 * Replaces the page's document (same origin) with one that loads `src` through a static
 * `<script>` tag. `alert` is replaced by a function that only raises the `injected` flag, so any
 * attacker code in these cases (they all call alert) is recorded instead of blocking the page.
 */
async function loadScriptTag(page: Page, src: string): Promise<PageRecord> {
  const attribute = src.replace(/&/g, '&amp;').replace(/"/g, '&quot;');
  await page.setContent(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>jsonp</title>
<script>
  window.record = { received: [], events: [], errors: [], injected: false };
  window.alert = function () { window.record.injected = true; };
  window.onerror = function (message) { window.record.errors.push(String(message)); };
  function handleData(data) { window.record.received.push(data); }
</script>
<script src="${attribute}" onload="record.events.push('load')" onerror="record.events.push('error')"></script>
</head><body><p>jsonp page</p></body></html>`);
  // setContent resolves after 'load', which waits for the parser-blocking script; wait for its event anyway.
  await page.waitForFunction(() => (globalThis as unknown as { record: PageRecord }).record.events.length > 0, undefined, { timeout: 10_000 });
  return page.evaluate(() => (globalThis as unknown as { record: PageRecord }).record);
}

const TIMEOUT = { timeout: 30_000 };

test('a <script src="…?cb=handleData"> tag on another origin runs the callback with the backend\'s JSON', TIMEOUT, async () => {
  await inSession(async (s) => {
    const app = await s.open(APP);
    const record = await loadScriptTag(app.page, `${gw.url}/api/data?cb=handleData`);
    assert.deepEqual(record.events, ['load']);
    assert.deepEqual(record.errors, []);
    assert.equal(record.injected, false);
    assert.equal(record.received.length, 1, 'the callback ran once');
    const data = record.received[0] as { method: string; path: string };
    assert.equal(data.method, 'GET');
    assert.equal(data.path, '/api/data?cb=handleData', 'the recording backend\'s JSON, as it wrote it');
    await waitFor(() => gw.log.some((e) => e.url === '/api/data?cb=handleData' && e.status === 200), 'the gateway log line');
  });
});

const REFUSED: readonly [what: string, query: string][] = [
  ['a call with a comment', 'alert(1)//'],
  ['a closed call and a new statement', encodeURIComponent('handleData);alert(1);//')],
  ['a script-breaking callback', encodeURIComponent('</script><script>alert(1)</script>')],
  ['a line separator before code', encodeURIComponent('handleData\u2028alert(1)')],
];

for (const [what, query] of REFUSED) {
  test(`a refused callback (${what}): the script gets the 400, fires error, and nothing runs`, TIMEOUT, async () => {
    await inSession(async (s) => {
      const app = await s.open(APP);
      const url = `/api/data?cb=${query}`;
      const record = await loadScriptTag(app.page, `${gw.url}${url}`);
      assert.equal(record.injected, false, 'the injected code never ran');
      assert.deepEqual(record.received, [], 'the callback never ran');
      assert.deepEqual(record.events, ['error'], 'a non-2xx answer is a network error for a classic script');
      assert.deepEqual(record.errors, [], 'no script ran, so nothing threw');
      await waitFor(() => gw.log.some((e) => e.url === url), `the gateway log line for ${url}`);
      assert.deepEqual(gw.log.filter((e) => e.url === url).map((e) => e.status), [400]);
    });
  });
}
