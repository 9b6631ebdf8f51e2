/**
 * The demo end to end, as `npm start` runs it (docs/browser-tests.md): demo backends, the gateway
 * over demo/apiops, the SPA page and the second origin, all from startServices, on ephemeral ports.
 *
 * The demo's policy allows exactly `http://localhost:3000`. Rather than edit it, Chromium is told
 * to connect `localhost:3000` to the SPA's ephemeral port (--host-resolver-rules maps host:port),
 * so the page's origin is the one the policy names and nothing listens on a fixed port.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';
import { startServices, type Started } from '../../src/start.ts';
import { launchChromium, newSession } from './harness.ts';

const RESULTS_DIR = fileURLToPath(new URL('../../test-results/', import.meta.url));
/** The origin demo/apiops/apis/{telemetry,audit}/policy.xml allow. */
const APP_ORIGIN = 'http://localhost:3000';

let started: Started;
let browser: Browser;
const banner: string[] = [];

before(async () => {
  const io = { out: (t: string) => banner.push(t), err: (t: string) => banner.push(t) };
  started = await startServices(io, { port: 0, host: '127.0.0.1', demoPorts: { app: 0, other: 0 } });
  const spaPort = new URL(started.spa?.url ?? assert.fail('the demo started no SPA')).port;
  browser = await launchChromium([`--host-resolver-rules=MAP localhost:3000 127.0.0.1:${spaPort}`]);
});

after(async () => {
  await Promise.allSettled([browser?.close(), started?.close()]);
});

interface Row {
  id: string;
  expected: string | undefined;
  outcome: string | undefined;
  badge: string;
  detail: string;
  verdict: string;
}

test('the demo page shows the seed scenario: allowed GET/POST on both APIs, PUT and DELETE blocked, the second origin blocked', { timeout: 60_000 }, async () => {
  const session = await newSession(browser);
  try {
    const app = await session.open(APP_ORIGIN);
    const { page } = app;
    await page.waitForSelector('body[data-done="true"]', { timeout: 30_000 });
    assert.equal(new URL(page.url()).origin, APP_ORIGIN);

    const rows = await page.$$eval('#results tr', (trs) =>
      trs.map((tr) => ({
        id: tr.id,
        expected: (tr as unknown as { dataset: Record<string, string> }).dataset.expected,
        outcome: (tr as unknown as { dataset: Record<string, string> }).dataset.outcome,
        badge: tr.querySelector('.badge')?.textContent ?? '',
        detail: tr.querySelector('.detail')?.textContent ?? '',
        verdict: tr.querySelector('.verdict')?.textContent ?? '',
      })),
    ) as Row[];
    assert.deepEqual(
      rows.map((r) => [r.id, r.outcome]),
      [
        ['telemetry-get', 'allowed'],
        ['telemetry-post', 'allowed'],
        ['audit-get', 'allowed'],
        ['audit-post', 'allowed'],
        ['telemetry-put', 'blocked'],
        ['audit-delete', 'blocked'],
        ['other-get', 'blocked'],
      ],
    );
    for (const row of rows) assert.equal(row.verdict, `✓ expected ${row.expected}`, `${row.id}: ${row.detail}`);

    // What the backends answered, as the page saw it.
    const byId = new Map(rows.map((r) => [r.id, `${r.badge} ${r.detail}`]));
    assert.match(byId.get('telemetry-get') ?? '', /^allowed · 200 \{"service":"telemetry","path":"\/telemetry\/events"/);
    assert.match(byId.get('telemetry-post') ?? '', /^allowed · 201 \{"service":"telemetry","stored":\{"id":\d+,"received":\{"event":"page-view"\}\}\}$/);
    assert.match(byId.get('audit-get') ?? '', /^allowed · 200 \{"service":"audit"/);
    assert.match(byId.get('audit-post') ?? '', /^allowed · 201 \{"service":"audit","stored":\{"id":\d+,"received":\{"action":"login"\}\}\}$/);
    for (const id of ['telemetry-put', 'audit-delete', 'other-get']) assert.equal(byId.get(id), 'blocked TypeError: Failed to fetch', id);

    // The blocked PUT and DELETE were stopped by their preflights: the browser asked (OPTIONS) and never
    // sent them; the two POSTs needed a preflight too. The second origin's GET is simple (no preflight).
    const gateway = new URL(started.gateway.url.replace('127.0.0.1', 'localhost')).origin;
    assert.deepEqual([...app.preflights()].sort(), [
      `${gateway}/audit/records`,
      `${gateway}/audit/records`,
      `${gateway}/telemetry/events`,
      `${gateway}/telemetry/events`,
    ]);

    assert.match(await page.textContent('#summary') ?? '', /^All 7 calls behaved as the policy says: 4 allowed, 3 blocked by the browser\.$/);
    assert.match(await page.textContent('#policy') ?? '', /<origin>http:\/\/localhost:3000<\/origin>/);
    assert.equal(await page.isVisible('#origin-warning'), false, 'the page is on the allowed origin');

    await mkdir(RESULTS_DIR, { recursive: true });
    await page.setViewportSize({ width: 1100, height: 900 });
    await page.screenshot({ path: `${RESULTS_DIR}demo.png`, fullPage: true });
  } finally {
    await session.close();
  }
});

test('opened on an origin the policy does not list, the page says so and where to go instead', { timeout: 60_000 }, async () => {
  const session = await newSession(browser);
  try {
    // The SPA's real (ephemeral) address: same page, but http://localhost:<port> is not http://localhost:3000.
    const wrong = await session.open(started.spa?.url ?? '');
    await wrong.page.waitForSelector('body[data-done="true"]', { timeout: 30_000 });
    assert.equal(
      await wrong.page.textContent('#origin-warning'),
      `This page's origin, ${started.spa?.url}, is not in allowed-origins (http://localhost:3000), so even the allowed calls will be blocked. Open http://localhost:3000/ instead.`,
    );
    assert.equal(await wrong.page.textContent('#summary'), '4 of 7 calls did not behave as the policy says.');
    assert.equal(await wrong.page.getAttribute('#telemetry-get', 'data-outcome'), 'blocked');
  } finally {
    await session.close();
  }
});

test('the banner tells a person where to look', () => {
  const text = banner.join('\n');
  assert.match(text, /serving 2 API\(s\) from the built-in demo/);
  assert.match(text, /^demo SPA: http:\/\/localhost:\d+\/ {2}\(open it in a browser; the second, disallowed origin is http:\/\/127\.0\.0\.1:\d+\)$/m);
});
