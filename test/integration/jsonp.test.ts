/**
 * jsonp through a real gateway: the APIOps folder test/fixtures/jsonp-e2e (jsonp at API scope after
 * <base />, composed with the global outbound and on-error), a real node:http backend on port 0,
 * the real HTTP server, requests through undici. docs/jsonp.md is the specification.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { request } from 'undici';
import { createGateway, type Gateway } from '../../src/gateway.ts';
import { JSONP_MAX_BODY_BYTES } from '../../src/policies/jsonp/jsonp.ts';

const FOLDER = fileURLToPath(new URL('../fixtures/jsonp-e2e', import.meta.url));

/** Non-ASCII and U+2028 inside a string: the bytes must reach the page exactly as the backend wrote them. */
const ITEMS_JSON = '{"items":[{"id":1,"name":"caf\u00e9 \u2028 \u00fcber"}],"total":1}';
const ITEMS_BYTES = Buffer.from(ITEMS_JSON, 'utf8');
const GZIP_JSON = '{"compressed":true,"pad":"' + 'x'.repeat(2000) + '"}';
const GZIP_BYTES = gzipSync(Buffer.from(GZIP_JSON));
/** Just over the 4 MiB buffering limit, valid JSON. */
const BIG_JSON = Buffer.from(`{"pad":"${'y'.repeat(JSONP_MAX_BODY_BYTES)}"}`);

let backend: Server;
let gateway: Gateway;
/** Every URL the backend received, in order. */
const seen: string[] = [];

function answer(req: IncomingMessage, res: ServerResponse): void {
  seen.push(req.url ?? '');
  const kind = new URL(req.url ?? '/', 'http://backend').pathname.split('/').pop();
  switch (kind) {
    case 'items':
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', etag: '"v1"', 'cache-control': 'max-age=60', 'content-length': ITEMS_BYTES.length });
      res.end(ITEMS_BYTES);
      return;
    case 'gzip':
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'gzip', 'content-length': GZIP_BYTES.length });
      res.end(GZIP_BYTES);
      return;
    case 'html':
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
      res.end('<p>not json</p>');
      return;
    case 'fake-json':
      // Labelled JSON, but a script payload: must never be wrapped into script.
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('1);alert(document.domain);(');
      return;
    case 'missing':
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"error":"no such thing"}');
      return;
    case 'fail':
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end('{"error":"backend broke"}');
      return;
    case 'chunked':
      // Several chunks, no Content-Length: the body arrives as a stream.
      res.writeHead(200, { 'content-type': 'application/vnd.api+json' });
      res.write('{"data":');
      setTimeout(() => {
        res.write('[1,2,3]');
        setTimeout(() => res.end('}'), 10);
      }, 10);
      return;
    case 'broken':
      // The connection drops in the middle of the body.
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"half":');
      setTimeout(() => res.destroy(), 20);
      return;
    case 'big': {
      // Streamed in 64 KiB chunks without Content-Length (chunked).
      res.writeHead(200, { 'content-type': 'application/json' });
      let offset = 0;
      const write = (): void => {
        while (offset < BIG_JSON.length) {
          const chunk = BIG_JSON.subarray(offset, offset + 65536);
          offset += chunk.length;
          if (!res.write(chunk)) {
            res.once('drain', write);
            return;
          }
        }
        res.end();
      };
      write();
      return;
    }
    default:
      res.writeHead(404, { 'content-type': 'text/plain' });
      res.end('unknown kind');
  }
}

before(async () => {
  backend = createServer(answer);
  await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve));
  const backendUrl = `http://127.0.0.1:${(backend.address() as AddressInfo).port}`;
  gateway = await createGateway({
    configDir: FOLDER,
    port: 0,
    host: '127.0.0.1',
    serviceUrls: { data: `${backendUrl}/data`, plain: `${backendUrl}/plain` },
  });
});

after(async () => {
  await gateway?.close();
  backend?.closeAllConnections();
  await new Promise((r) => backend?.close(r));
});

async function get(path: string) {
  const res = await request(`${gateway.url}${path}`);
  const bytes = Buffer.from(await res.body.arrayBuffer());
  return { status: res.statusCode, headers: res.headers, bytes, text: bytes.toString('utf8') };
}

const INVALID_BODY = '{"statusCode":400,"message":"Value of callback parameter cb is not a valid JavaScript identifier."}';

test('?cb=name wraps the JSON as name(<json>); with text/javascript, nosniff and the right Content-Length', async () => {
  const res = await get('/data/items?cb=handleData');
  assert.equal(res.status, 200);
  const expected = Buffer.concat([Buffer.from('handleData('), ITEMS_BYTES, Buffer.from(');')]);
  assert.deepEqual(res.bytes, expected, 'the backend JSON bytes, unchanged, inside the call');
  assert.equal(res.headers['content-type'], 'text/javascript; charset=utf-8');
  assert.equal(res.headers['x-content-type-options'], 'nosniff');
  assert.equal(res.headers['content-length'], String(expected.length));
  assert.equal(res.headers['etag'], 'W/"v1"', 'a strong validator becomes weak: the bytes are no longer the backend\'s');
  assert.equal(res.headers['cache-control'], 'max-age=60', 'other headers are kept');
  // Composition: the global outbound ran before the API's jsonp (<base /> first), the statement after it ran too.
  assert.equal(res.headers['x-global-outbound'], 'ran');
  assert.equal(res.headers['x-after-jsonp'], 'ran');
  assert.equal(res.headers['x-on-error'], undefined);
  // The parameter reaches the backend unchanged (docs/jsonp.md §2).
  assert.equal(seen.at(-1), '/data/items?cb=handleData');
});

test('a dotted member path and an encoded callback are accepted', async () => {
  const dotted = await get('/data/items?cb=angular.callbacks._0');
  assert.equal(dotted.status, 200);
  assert.equal(dotted.text, `angular.callbacks._0(${ITEMS_JSON});`);
  // %5F is '_', %24 is '$': the value is percent-decoded before it is checked.
  const encoded = await get('/data/items?other=1&cb=jQuery%5F1%24');
  assert.equal(encoded.status, 200);
  assert.equal(encoded.text, `jQuery_1$(${ITEMS_JSON});`);
  const longest = 'a'.repeat(128);
  assert.equal((await get(`/data/items?cb=${longest}`)).text, `${longest}(${ITEMS_JSON});`);
});

test('without the parameter (or with it empty) the JSON passes through untouched', async () => {
  for (const query of ['', '?x=1', '?cb=', '?CB=upper']) {
    const res = await get(`/data/items${query}`);
    assert.equal(res.status, 200, query);
    assert.deepEqual(res.bytes, ITEMS_BYTES, query);
    assert.equal(res.headers['content-type'], 'application/json; charset=utf-8', query);
    assert.equal(res.headers['x-content-type-options'], undefined, query);
    assert.equal(res.headers['etag'], '"v1"', query);
    assert.equal(res.headers['x-after-jsonp'], 'ran', query);
  }
});

const HOSTILE: readonly [what: string, raw: string][] = [
  ['a call with a comment', 'alert(1)//'],
  ['a statement separator', 'a;b'],
  ['a closing script tag', '</script><script>alert(1)</script>'],
  ['a line separator after a name', 'x\u2028'],
  ['a paragraph separator', 'x\u2029alert(1)'],
  ['a line feed', 'x\nalert(1)'],
  ['a NUL', 'x\u0000'],
  ['a space', 'a b'],
  ['brackets', 'a[0]'],
  ['a quote', "a'"],
  ['an arrow function', '(()=>alert(1))'],
  ['a non-ASCII letter', 'caf\u00e9'],
  ['a look-alike', '\u0430lert'],
  ['a leading digit', '1abc'],
  ['an empty member', 'a..b'],
  ['a trailing dot', 'a.'],
  ['129 characters', 'a'.repeat(129)],
  ['10 000 characters', 'b'.repeat(10_000)],
  ['the reserved word delete', 'delete'],
  ['the reserved word typeof with a member', 'typeof.x'],
  ['the reserved word import', 'import'],
  ['the reserved word new', 'new'],
  ['this', 'this.alert'],
  ['void', 'void'],
];

for (const [what, raw] of HOSTILE) {
  test(`a hostile callback (${what}) is refused with the documented 400 through on-error, never echoed`, async () => {
    const before = seen.length;
    const res = await get(`/data/items?cb=${encodeURIComponent(raw)}`);
    assert.equal(res.status, 400);
    assert.equal(res.text, INVALID_BODY);
    assert.equal(res.headers['content-type'], 'application/json');
    // on-error ran: the global one through the API's <base />, then the API's own.
    assert.equal(res.headers['x-on-error'], 'global');
    assert.equal(res.headers['x-api-on-error'], 'data');
    // The rest of outbound was skipped, and the error response replaced the backend's.
    assert.equal(res.headers['x-after-jsonp'], undefined);
    assert.equal(res.headers['x-global-outbound'], undefined);
    assert.equal(res.headers['x-content-type-options'], undefined);
    assert.equal(res.headers['etag'], undefined);
    // The request did reach the backend (jsonp runs in outbound); the answer does not depend on it.
    assert.equal(seen.length, before + 1);
    const raws = [raw, encodeURIComponent(raw)];
    for (const r of raws) assert.ok(!res.text.includes(r), 'the callback is never written into the response');
  });
}

test('repeated callback parameters are refused (parameter pollution), also when one name is encoded', async () => {
  for (const query of ['cb=a&cb=b', 'cb=a&c%62=b', 'cb=a&cb=']) {
    const res = await get(`/data/items?${query}`);
    assert.equal(res.status, 400, query);
    assert.equal(res.text, INVALID_BODY, query);
  }
});

test('malformed percent-encoding in the callback is refused', async () => {
  const res = await get('/data/items?cb=%E0%A4%A');
  assert.equal(res.status, 400);
  assert.equal(res.text, INVALID_BODY);
});

test('a refused callback is refused whatever the backend answered (404, HTML)', async () => {
  for (const kind of ['missing', 'html']) {
    const res = await get(`/data/${kind}?cb=alert(1)//`);
    assert.equal(res.status, 400, kind);
    assert.equal(res.text, INVALID_BODY, kind);
  }
});

test('a gzip-compressed JSON body is decoded and wrapped, sent uncompressed with the new length', async () => {
  const res = await get('/data/gzip?cb=cb1');
  assert.equal(res.status, 200);
  assert.equal(res.text, `cb1(${GZIP_JSON});`);
  assert.equal(res.headers['content-encoding'], undefined);
  assert.equal(res.headers['content-length'], String(Buffer.byteLength(`cb1(${GZIP_JSON});`)));
  assert.equal(res.headers['content-type'], 'text/javascript; charset=utf-8');

  // Without a callback the compressed bytes pass through as the backend sent them.
  const plain = await get('/data/gzip');
  assert.equal(plain.headers['content-encoding'], 'gzip');
  assert.deepEqual(plain.bytes, GZIP_BYTES);
});

test('a JSON body streamed in chunks (a +json type, no Content-Length) is buffered and wrapped', async () => {
  const res = await get('/data/chunked?cb=cb2');
  assert.equal(res.status, 200);
  assert.equal(res.text, 'cb2({"data":[1,2,3]});');
  assert.equal(res.headers['content-length'], String('cb2({"data":[1,2,3]});'.length));
  assert.equal(res.headers['transfer-encoding'], undefined);
});

test('a backend body that breaks while it is buffered goes to on-error (500), not to a cut-off script', async () => {
  const res = await get('/data/broken?cb=cb3');
  assert.equal(res.status, 500);
  assert.equal(res.headers['x-on-error'], 'global');
  assert.equal(res.headers['x-api-on-error'], 'data');
  assert.equal(res.headers['content-type'], 'application/json');
  assert.equal((JSON.parse(res.text) as { statusCode: number }).statusCode, 500);
  assert.ok(!res.text.includes('half'), 'no part of the broken body is sent');
});

test('non-JSON, JSON-labelled non-JSON and non-2xx responses pass through untouched', async () => {
  const html = await get('/data/html?cb=render');
  assert.equal(html.status, 200);
  assert.equal(html.text, '<p>not json</p>');
  assert.equal(html.headers['content-type'], 'text/html; charset=utf-8');
  assert.equal(html.headers['x-content-type-options'], undefined);

  const fake = await get('/data/fake-json?cb=render');
  assert.equal(fake.status, 200);
  assert.equal(fake.text, '1);alert(document.domain);(');
  assert.equal(fake.headers['content-type'], 'application/json');

  const missing = await get('/data/missing?cb=render');
  assert.equal(missing.status, 404);
  assert.equal(missing.text, '{"error":"no such thing"}');
  assert.equal(missing.headers['content-type'], 'application/json');

  const fail = await get('/data/fail?cb=render');
  assert.equal(fail.status, 500);
  assert.equal(fail.text, '{"error":"backend broke"}');
  assert.equal(fail.headers['content-type'], 'application/json');
  assert.equal(fail.headers['x-on-error'], undefined, 'a backend 500 is a response, not an error');
  for (const r of [html, fake, missing, fail]) assert.equal(r.headers['x-after-jsonp'], 'ran');
});

test('a streamed JSON body over the 4 MiB limit passes through unwrapped and whole', async () => {
  const res = await get('/data/big?cb=render');
  assert.equal(res.status, 200);
  assert.equal(res.bytes.length, BIG_JSON.length);
  assert.ok(res.bytes.equals(BIG_JSON), 'every byte, in order, none cut');
  assert.equal(res.headers['content-type'], 'application/json');
});

test('composition: an operation that keeps <base /> inherits the API\'s jsonp; one without it does not', async () => {
  const nested = await get('/data/nested/items?cb=render');
  assert.equal(nested.status, 200);
  assert.equal(nested.text, `render(${ITEMS_JSON});`);
  assert.equal(nested.headers['x-operation'], 'nested-kind');

  const raw = await get('/data/raw/items?cb=render');
  assert.equal(raw.status, 200);
  assert.deepEqual(raw.bytes, ITEMS_BYTES);
  assert.equal(raw.headers['content-type'], 'application/json; charset=utf-8');
  assert.equal(raw.headers['x-global-outbound'], undefined, 'the whole inherited outbound is gone');
  // Without the policy, even a hostile callback is no concern of the gateway: nothing is wrapped.
  assert.equal((await get('/data/raw/items?cb=alert(1)//')).status, 200);
});

test('an API without jsonp ignores the parameter', async () => {
  const res = await get('/plain/items?cb=render');
  assert.equal(res.status, 200);
  assert.deepEqual(res.bytes, ITEMS_BYTES);
  assert.equal(res.headers['content-type'], 'application/json; charset=utf-8');
  assert.equal(res.headers['x-global-outbound'], 'ran');
});
