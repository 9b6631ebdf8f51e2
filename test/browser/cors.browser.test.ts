/**
 * The cors policy as Chromium sees it (docs/browser-tests.md). Every case asserts what the browser
 * actually allowed script to do (fetch resolved or TypeError, a header readable or null) and what
 * reached the gateway and the backend, so a wrong answer from the gateway cannot hide behind a
 * right-looking header.
 *
 * One gateway serves one inline APIOps folder with an API per case; each test gets a fresh browser
 * context, so no preflight cache or cookie carries over. Origins:
 * - APP  http://localhost:<pages>       the allowed SPA
 * - EVIL http://evil.localhost:<pages>  another site, never listed
 * - the gateway http://localhost:<gateway>
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Browser } from 'playwright-core';
import {
  corsXml,
  launchChromium,
  withSession,
  policyXml,
  startGatewayOver,
  startPageServer,
  startRecordingBackend,
  waitFor,
  type BrowserSession,
  type FetchOutcome,
  type InlineApi,
  type PageServer,
  type RecordingBackend,
  type TestGateway,
} from './harness.ts';

let browser: Browser;
let pages: PageServer;
let backend: RecordingBackend;
let gw: TestGateway;
let APP: string;
let EVIL: string;

const JSON_POST = (body: unknown) => ({
  method: 'POST',
  headers: { 'Content-Type': 'application/json', 'x-requested-by': 'browser-test' },
  body: JSON.stringify(body),
});

/** GET, POST, PUT and DELETE on /items, so a blocked method is blocked by CORS and not by a 404. */
const ITEMS_CRUD = [
  { id: 'list', method: 'GET', path: '/items' },
  { id: 'create', method: 'POST', path: '/items' },
  { id: 'replace', method: 'PUT', path: '/items' },
  { id: 'remove', method: 'DELETE', path: '/items' },
] as const;

function apis(): InlineApi[] {
  const seedCors = corsXml({ origins: [APP], methods: ['OPTIONS', 'GET', 'POST'], headers: ['Content-Type', 'x-requested-by'] });
  return [
    // The blog post's policy (the demo's), against the test's own origin.
    { name: 'seed', policy: policyXml(seedCors), operations: ITEMS_CRUD },
    { name: 'creds', policy: policyXml(corsXml({ origins: [APP], methods: ['GET', 'POST'], headers: ['content-type'], credentials: true })), operations: ITEMS_CRUD },
    { name: 'nocreds', policy: policyXml(corsXml({ origins: [APP], methods: ['GET'], headers: ['content-type'], credentials: false })), operations: ITEMS_CRUD },
    { name: 'star', policy: policyXml(corsXml({ origins: ['*'], methods: ['GET'], headers: ['content-type'] })), operations: ITEMS_CRUD },
    { name: 'star-creds', policy: policyXml(corsXml({ origins: ['*'], methods: ['GET', 'POST'], headers: ['content-type'], credentials: true })), operations: ITEMS_CRUD },
    { name: 'expose', policy: policyXml(corsXml({ origins: [APP], methods: ['GET'], headers: ['content-type'], expose: ['x-trace-id'] })), operations: ITEMS_CRUD },
    { name: 'cache', policy: policyXml(corsXml({ origins: [APP], methods: ['GET', 'PUT'], headers: ['content-type'], maxAge: 600 })), operations: ITEMS_CRUD },
    { name: 'nocache', policy: policyXml(corsXml({ origins: [APP], methods: ['GET', 'PUT'], headers: ['content-type'], maxAge: 0 })), operations: ITEMS_CRUD },
    // No preflight-result-max-age: no Access-Control-Max-Age header, so the browser's default (5 s) applies.
    { name: 'defaultage', policy: policyXml(corsXml({ origins: [APP], methods: ['GET', 'PUT'], headers: ['content-type'] })), operations: ITEMS_CRUD },
    // Wildcards with credentials: Fetch reads '*' literally there, so gatehouse echoes what was asked.
    { name: 'wild', policy: policyXml(corsXml({ origins: [APP], methods: ['*'], headers: ['*'], credentials: true })), operations: ITEMS_CRUD },
    // A backend nobody listens on: the answer is on-error's 500, which the cors still decorates.
    { name: 'down', policy: policyXml(corsXml({ origins: [APP], methods: ['GET'], headers: ['content-type'] })), operations: ITEMS_CRUD, serviceUrl: 'http://127.0.0.1:1/down' },
    terminateApi('terminate', true),
    terminateApi('proceed', false),
    {
      // API scope does not allow PUT; the OPTIONS operation's own cors does, for its URL only.
      name: 'optop',
      policy: policyXml(corsXml({ origins: [APP], methods: ['GET', 'POST'], headers: ['content-type'] })),
      operations: [
        ...ITEMS_CRUD,
        {
          id: 'preflight',
          method: 'OPTIONS',
          path: '/items',
          policy: policyXml(corsXml({ origins: [APP], methods: ['PUT'], headers: ['content-type'], terminate: true }), { base: false }),
        },
      ],
    },
  ];
}

/**
 * The API's cors allows APP only and writes terminate-unmatched-request; the PUT operation adds a
 * second top-level cors (after <base />) that allows EVIL. APIM: an unmatched preflight falls
 * through to that second cors only when terminate is false.
 */
function terminateApi(name: string, terminate: boolean): InlineApi {
  return {
    name,
    policy: policyXml(corsXml({ origins: [APP], methods: ['GET', 'PUT'], headers: ['content-type'], terminate })),
    operations: ITEMS_CRUD.map((op) =>
      op.method === 'PUT'
        ? { ...op, policy: policyXml(`<base />\n    ${corsXml({ origins: [EVIL], methods: ['PUT'], headers: ['content-type'] })}`, { base: false }) }
        : op,
    ),
  };
}

before(async () => {
  [browser, pages, backend] = await Promise.all([launchChromium(), startPageServer(), startRecordingBackend()]);
  APP = pages.origin('localhost');
  EVIL = pages.origin('evil.localhost');
  gw = await startGatewayOver({ apis: apis() }, backend);
});

after(async () => {
  await Promise.allSettled([browser?.close(), gw?.close(), pages?.close(), backend?.close()]);
});

const inSession = (body: (s: BrowserSession) => Promise<void>): Promise<void> => withSession(browser, body);

function assertAllowed(outcome: FetchOutcome, status: number, what: string): asserts outcome is Extract<FetchOutcome, { outcome: 'allowed' }> {
  assert.equal(outcome.outcome, 'allowed', `${what}: expected the browser to allow it, got ${JSON.stringify(outcome)}`);
  assert.equal((outcome as { status: number }).status, status, what);
}

function assertBlocked(outcome: FetchOutcome, what: string): void {
  assert.deepEqual(outcome, { outcome: 'blocked', error: 'TypeError: Failed to fetch' }, `${what}: expected the browser to block it`);
}

const TIMEOUT = { timeout: 30_000 };

test('seed scenario: the allowed SPA origin GETs and POSTs JSON with x-requested-by; one preflight, answered by the gateway', TIMEOUT, async () => {
  await inSession(async (s) => {
    const app = await s.open(APP);
    const get = await app.fetch(`${gw.url}/seed/items`);
    assertAllowed(get, 200, 'GET');
    assert.equal(JSON.parse(get.body).path, '/seed/items');

    const post = await app.fetch(`${gw.url}/seed/items`, JSON_POST({ event: 'page-view' }));
    assertAllowed(post, 200, 'POST');
    const seen = JSON.parse(post.body) as { method: string; contentType: string; requestedBy: string; bytes: number };
    assert.deepEqual(seen, { ...seen, method: 'POST', contentType: 'application/json', requestedBy: 'browser-test', bytes: '{"event":"page-view"}'.length });

    // A GET without custom headers is simple (no preflight); the JSON POST needs one.
    assert.deepEqual(app.preflights(), [`${gw.url}/seed/items`]);
    await waitFor(() => gw.count('POST', '/seed/') === 1, 'the POST in the gateway log');
    assert.equal(gw.count('OPTIONS', '/seed/'), 1, 'the gateway answered one preflight');
    assert.equal(backend.count('OPTIONS', '/seed/'), 0, 'the preflight never reached the backend');
    assert.equal(backend.count('POST', '/seed/'), 1);
  });
});

test('a disallowed origin: its GET runs but the browser hides the answer; its JSON POST never leaves the browser', TIMEOUT, async () => {
  await inSession(async (s) => {
    const evil = await s.open(EVIL);
    const before = backend.count('GET', '/seed/');
    assertBlocked(await evil.fetch(`${gw.url}/seed/items`), 'GET from EVIL');
    // terminate-unmatched-request defaults to false: the GET proceeds without CORS headers (docs/cors.md A4).
    assert.equal(backend.count('GET', '/seed/'), before + 1);

    assertBlocked(await evil.fetch(`${gw.url}/seed/items`, JSON_POST({ stolen: true })), 'POST from EVIL');
    assert.equal(evil.preflights().length, 1, 'the browser asked first');
    assert.equal(backend.requests.some((r) => r.headers.origin === EVIL && r.method === 'POST'), false, 'no POST from EVIL reached the backend');
  });
});

test('a method not allowed: PUT and DELETE fail their preflight and never reach the backend', TIMEOUT, async () => {
  await inSession(async (s) => {
    const app = await s.open(APP);
    assertBlocked(await app.fetch(`${gw.url}/seed/items`, { method: 'PUT', headers: { 'Content-Type': 'application/json' }, body: '{}' }), 'PUT');
    assertBlocked(await app.fetch(`${gw.url}/seed/items`, { method: 'DELETE' }), 'DELETE');
    assert.deepEqual(app.preflights(), [`${gw.url}/seed/items`, `${gw.url}/seed/items`]);
    await waitFor(() => gw.count('OPTIONS', '/seed/') >= 3, 'both preflights in the gateway log');
    assert.equal(gw.count('PUT', '/seed/'), 0);
    assert.equal(gw.count('DELETE', '/seed/'), 0);
    assert.equal(backend.count('PUT', '/seed/'), 0);
    assert.equal(backend.count('DELETE', '/seed/'), 0);
  });
});

test('a header not allowed: a GET carrying x-api-key fails its preflight; with only x-requested-by it passes', TIMEOUT, async () => {
  await inSession(async (s) => {
    const app = await s.open(APP);
    assertBlocked(await app.fetch(`${gw.url}/seed/items?h=key`, { headers: { 'x-api-key': 'k' } }), 'GET with x-api-key');
    assert.equal(backend.requests.some((r) => r.headers['x-api-key'] !== undefined), false, 'the GET never reached the backend');
    assertAllowed(await app.fetch(`${gw.url}/seed/items?h=rb`, { headers: { 'X-Requested-By': 'spa' } }), 200, 'GET with x-requested-by');
    assert.equal(app.preflights().length, 2, 'both GETs needed a preflight');
  });
});

test('credentials with a listed origin: the origin is echoed with Allow-Credentials, so a cookie-carrying fetch succeeds', TIMEOUT, async () => {
  await inSession(async (s) => {
    // localhost:<pages> and localhost:<gateway> are the same site, so a SameSite=Lax cookie goes along.
    await s.context.addCookies([{ name: 'session', value: 's3cret', domain: 'localhost', path: '/', sameSite: 'Lax' }]);
    const app = await s.open(APP);
    const get = await app.fetch(`${gw.url}/creds/items`, { credentials: 'include' });
    assertAllowed(get, 200, 'credentialed GET');
    assert.equal(JSON.parse(get.body).cookie, 'session=s3cret', 'the cookie reached the backend');
    const post = await app.fetch(`${gw.url}/creds/items`, { method: 'POST', credentials: 'include', headers: { 'content-type': 'application/json' }, body: '{}' });
    assertAllowed(post, 200, 'credentialed JSON POST (credentialed preflight)');

    // Without allow-credentials the same fetch is blocked (no Access-Control-Allow-Credentials: true) …
    assertBlocked(await app.fetch(`${gw.url}/nocreds/items`, { credentials: 'include' }), 'credentialed GET, allow-credentials=false');
    // … while the uncredentialed one is fine.
    assertAllowed(await app.fetch(`${gw.url}/nocreds/items`, { credentials: 'omit' }), 200, 'uncredentialed GET, allow-credentials=false');
  });
});

test('credentials with *: a literal * is refused by the browser, so with allow-credentials the origin is echoed instead', TIMEOUT, async () => {
  await inSession(async (s) => {
    const evil = await s.open(EVIL);
    // origins *, credentials false: any origin, but never with credentials.
    assertAllowed(await evil.fetch(`${gw.url}/star/items`), 200, 'uncredentialed GET, *');
    assertBlocked(await evil.fetch(`${gw.url}/star/items`, { credentials: 'include' }), 'credentialed GET, * without allow-credentials');
    // origins *, credentials true: gatehouse echoes the origin (docs/cors.md §2.3), which the browser accepts.
    assertAllowed(await evil.fetch(`${gw.url}/star-creds/items`, { credentials: 'include' }), 200, 'credentialed GET, * with allow-credentials');
    assertAllowed(
      await evil.fetch(`${gw.url}/star-creds/items`, { method: 'POST', credentials: 'include', headers: { 'content-type': 'application/json' }, body: '{}' }),
      200,
      'credentialed JSON POST, * with allow-credentials',
    );
  });
});

test('wildcards: allowed-headers * lets Authorization through and allowed-methods * a credentialed PUT (both echoed)', TIMEOUT, async () => {
  await inSession(async (s) => {
    const app = await s.open(APP);
    // Fetch: a literal '*' in Access-Control-Allow-Headers never covers Authorization, and with
    // credentials '*' is no wildcard at all; an echo of the requested names works in both cases.
    const res = await app.fetch(`${gw.url}/wild/items`, {
      method: 'PUT',
      credentials: 'include',
      headers: { Authorization: 'Bearer t0ken', 'X-Custom-Thing': '1', 'content-type': 'application/json' },
      body: '{}',
    });
    assertAllowed(res, 200, 'credentialed PUT with Authorization, * methods and headers');
    const seen = backend.requests.find((r) => r.path === '/wild/items' && r.method === 'PUT');
    assert.equal(seen?.headers.authorization, 'Bearer t0ken');
    assert.equal(seen?.headers['x-custom-thing'], '1');
  });
});

test('a backend failure: the allowed origin reads the real 500 from on-error; another origin cannot', TIMEOUT, async () => {
  await inSession(async (s) => {
    const app = await s.open(APP);
    const res = await app.fetch(`${gw.url}/down/items`);
    assertAllowed(res, 500, 'GET with the backend down');
    assert.equal((JSON.parse(res.body) as { statusCode: number }).statusCode, 500);
    const evil = await s.open(EVIL);
    assertBlocked(await evil.fetch(`${gw.url}/down/items`), 'GET with the backend down, from EVIL');
  });
});

test('expose-headers: script reads a backend header only when it is listed', TIMEOUT, async () => {
  await inSession(async (s) => {
    const app = await s.open(APP);
    const read = ['x-trace-id', 'x-secret', 'content-type'];
    const listed = await app.fetch(`${gw.url}/expose/items`, {}, read);
    assertAllowed(listed, 200, 'GET /expose');
    assert.deepEqual(listed.headers, { 'x-trace-id': 'trace-42', 'x-secret': null, 'content-type': 'application/json' });
    const unlisted = await app.fetch(`${gw.url}/seed/items`, {}, read);
    assertAllowed(unlisted, 200, 'GET /seed');
    assert.deepEqual(unlisted.headers, { 'x-trace-id': null, 'x-secret': null, 'content-type': 'application/json' });
  });
});

test('preflight cache: within preflight-result-max-age the browser does not ask again; with 0 it asks every time', TIMEOUT, async () => {
  await inSession(async (s) => {
    const app = await s.open(APP);
    const put = { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{}' };
    const putAll = async (round: string) => {
      for (const api of ['cache', 'nocache', 'defaultage']) assertAllowed(await app.fetch(`${gw.url}/${api}/items`, put), 200, `PUT ${api} (${round})`);
    };
    await putAll('first');
    await putAll('second');
    // Chromium caches a preflight for 5 s when the answer has no Access-Control-Max-Age. Past that,
    // only the 600 s answer still covers the PUT: this is what tells "600" from "no header".
    await new Promise((r) => setTimeout(r, 5500));
    await putAll('after 5.5 s');

    const sent = (api: string) => app.preflights().filter((u) => u === `${gw.url}/${api}/items`).length;
    assert.deepEqual({ cache: sent('cache'), nocache: sent('nocache'), defaultage: sent('defaultage') }, { cache: 1, nocache: 3, defaultage: 2 });
    await waitFor(() => gw.count('PUT', '/defaultage/') === 3, 'the PUTs in the gateway log');
    assert.equal(gw.count('OPTIONS', '/cache/'), 1, 'max-age 600: one preflight for three PUTs over 5.5 s');
    assert.equal(gw.count('OPTIONS', '/nocache/'), 3, 'max-age 0: a preflight before every PUT');
    assert.equal(gw.count('OPTIONS', '/defaultage/'), 2, 'no max-age: the browser default (5 s) expired once');
    assert.equal(backend.count('PUT', '/cache/'), 3);
  });
});

test('terminate-unmatched-request on a GET from a disallowed origin: true answers an empty 200 without the backend; false lets it run', TIMEOUT, async () => {
  await inSession(async (s) => {
    const evil = await s.open(EVIL);
    assertBlocked(await evil.fetch(`${gw.url}/terminate/items`), 'GET, terminate=true');
    assertBlocked(await evil.fetch(`${gw.url}/proceed/items`), 'GET, terminate=false');
    await waitFor(() => gw.count('GET', '/proceed/') === 1, 'the GETs in the gateway log');
    assert.deepEqual(gw.log.filter((e) => e.url === '/terminate/items'), [{ method: 'GET', url: '/terminate/items', status: 200 }]);
    assert.equal(backend.count('GET', '/terminate/'), 0, 'true: the backend never saw it');
    assert.equal(backend.count('GET', '/proceed/'), 1, 'false: the request ran, only its answer was hidden');
  });
});

test('terminate-unmatched-request on a preflight: true stops at the first cors; false falls through to the next one', TIMEOUT, async () => {
  await inSession(async (s) => {
    const evil = await s.open(EVIL);
    const put = { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{}' };
    // true: the API's cors (APP only) ends the preflight with an empty 200; the PUT is never sent.
    assertBlocked(await evil.fetch(`${gw.url}/terminate/items`, put), 'PUT, terminate=true');
    assert.equal(backend.count('PUT', '/terminate/'), 0);
    // false: the operation's cors (EVIL, PUT) answers the preflight, so the browser sends the PUT.
    // Only the first cors decides an actual request (docs/cors.md §2.2), so the PUT's answer has no
    // CORS headers and the browser still blocks it, but the backend did run it.
    assertBlocked(await evil.fetch(`${gw.url}/proceed/items`, put), 'PUT, terminate=false');
    assert.equal(backend.count('PUT', '/proceed/'), 1);
    assert.deepEqual(evil.preflights(), [`${gw.url}/terminate/items`, `${gw.url}/proceed/items`]);
  });
});

test('an OPTIONS operation takes over preflights for its URL: its own cors allows a PUT that the API-scope cors does not', TIMEOUT, async () => {
  await inSession(async (s) => {
    const app = await s.open(APP);
    const put = { method: 'PUT', headers: { 'content-type': 'application/json' }, body: '{}' };
    const res = await app.fetch(`${gw.url}/optop/items`, put);
    assertAllowed(res, 200, 'PUT through the OPTIONS operation');
    assert.equal(JSON.parse(res.body).method, 'PUT');
    // Without the OPTIONS operation (seed has the same API-scope shape) the same PUT is blocked.
    assertBlocked(await app.fetch(`${gw.url}/seed/items?optop=control`, put), 'PUT without an OPTIONS operation');
    assert.equal(backend.count('OPTIONS', '/optop/'), 0, 'the operation\'s cors answered; the backend never saw the preflight');
    assert.equal(backend.count('PUT', '/optop/'), 1);

    // The operation's cors has terminate=true and lists APP only: EVIL gets an empty 200 and no PUT is sent.
    const evil = await s.open(EVIL);
    assertBlocked(await evil.fetch(`${gw.url}/optop/items`, put), 'PUT from EVIL');
    assert.equal(backend.count('PUT', '/optop/'), 1);
  });
});
