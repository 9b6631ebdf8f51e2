import { discardBody } from '../../pipeline/body.ts';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { brotliCompressSync, deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import { compileForTest, parseForTest } from '../../policy/testing.ts';
import type { ScopeKind, SectionName } from '../../policy/define-policy.ts';
import { createTestContext } from '../../pipeline/testing.ts';
import { PolicyFailure, type Body, type GatewayResponse, type HeaderMap } from '../../pipeline/context.ts';
import { JSONP_MAX_BODY_BYTES, JSONP_MAX_CALLBACK_LENGTH, isJsonMediaType, isValidCallback, jsonpPolicy, readQueryParameter, type JsonpConfig } from './jsonp.ts';

// ── Parse ───────────────────────────────────────────────────────────────────────────────────
// Snippets start with a newline: the test wrapper sits on line 1, so positions from line 2 on
// are the user's own.

const BAD: ReadonlyArray<{ name: string; xml: string; section?: SectionName; scope?: ScopeKind; expect: ReadonlyArray<readonly [string, number, number]> }> = [
  { name: 'attribute missing', xml: '\n<jsonp />', expect: [['GH_POLICY_ATTR_REQUIRED', 2, 1]] },
  { name: 'attribute empty', xml: '\n<jsonp callback-parameter-name="" />', expect: [['GH_POLICY_ATTR_INVALID', 2, 33]] },
  { name: 'name with a space', xml: '\n<jsonp callback-parameter-name="c b" />', expect: [['GH_POLICY_ATTR_INVALID', 2, 33]] },
  { name: 'name with &', xml: '\n<jsonp callback-parameter-name="cb&amp;x" />', expect: [['GH_POLICY_ATTR_INVALID', 2, 33]] },
  { name: 'name with =', xml: '\n<jsonp callback-parameter-name="cb=x" />', expect: [['GH_POLICY_ATTR_INVALID', 2, 33]] },
  { name: 'name with a control character', xml: '\n<jsonp callback-parameter-name="cb&#127;" />', expect: [['GH_POLICY_ATTR_INVALID', 2, 33]] },
  { name: 'expression', xml: '\n<jsonp callback-parameter-name="@(context.Variables[&quot;n&quot;])" />', expect: [['GH_POLICY_EXPRESSION_UNSUPPORTED', 2, 33]] },
  { name: 'child element', xml: '\n<jsonp callback-parameter-name="cb">\n  <callback/>\n</jsonp>', expect: [['GH_POLICY_CHILD_INVALID', 3, 3]] },
  { name: 'inbound is not allowed', xml: '\n<jsonp callback-parameter-name="cb" />', section: 'inbound', expect: [['GH_POLICY_SECTION_NOT_ALLOWED', 2, 1]] },
];

for (const c of BAD) {
  test(`parse rejects: ${c.name}`, () => {
    const result = parseForTest<JsonpConfig>(c.xml, jsonpPolicy, { section: c.section ?? 'outbound', scope: c.scope ?? 'api' });
    assert.equal(result.config, undefined);
    assert.deepEqual(
      result.diagnostics.filter((d) => d.severity === 'error').map((d) => [d.code, d.location?.line, d.location?.column]),
      c.expect,
    );
  });
}

test('parse: the APIM example', () => {
  const result = parseForTest<JsonpConfig>('<jsonp callback-parameter-name="cb" />', jsonpPolicy, { section: 'outbound' });
  assert.deepEqual(result.diagnostics, []);
  assert.deepEqual(result.config, { parameterName: 'cb' });
});

test('parse: every scope is allowed', () => {
  for (const scope of ['global', 'workspace', 'product', 'api', 'operation'] as const) {
    const result = parseForTest<JsonpConfig>('<jsonp callback-parameter-name="callback" />', jsonpPolicy, { section: 'outbound', scope });
    assert.deepEqual(result.diagnostics, [], scope);
  }
});

test('parse: only once per section, reported at the second one', () => {
  const result = parseForTest('\n<jsonp callback-parameter-name="cb" />\n<jsonp callback-parameter-name="callback" />', jsonpPolicy, { section: 'outbound' });
  assert.deepEqual(result.diagnostics.map((d) => [d.code, d.location?.line, d.location?.column]), [['GH_POLICY_ONCE_PER_SECTION', 3, 1]]);
  assert.equal(result.statements.length, 1);
});

test('parse: stray text is a warning and is ignored', () => {
  const result = parseForTest<JsonpConfig>('\n<jsonp callback-parameter-name="cb">\n  cb\n</jsonp>', jsonpPolicy, { section: 'outbound' });
  assert.deepEqual(result.diagnostics.map((d) => [d.code, d.severity, d.location?.line, d.location?.column]), [['GH_POLICY_TEXT_UNEXPECTED', 'warning', 3, 3]]);
  assert.deepEqual(result.config, { parameterName: 'cb' });
});

test('parse: an unknown attribute is a warning, the policy still loads', () => {
  const result = parseForTest<JsonpConfig>('\n<jsonp callback-parameter-name="cb" content-type="x" />', jsonpPolicy, { section: 'outbound' });
  assert.deepEqual(result.diagnostics.map((d) => [d.code, d.severity, d.location?.line, d.location?.column]), [['GH_POLICY_ATTR_UNKNOWN', 'warning', 2, 37]]);
  assert.deepEqual(result.config, { parameterName: 'cb' });
});

// ── Callback grammar ────────────────────────────────────────────────────────────────────────

test('isValidCallback: identifiers and dotted member paths, ASCII, bounded, no reserved head', () => {
  const good = ['cb', 'render', '_', '$', 'jQuery36005432_1700000000000', 'angular.callbacks._0', 'a.b.c.d', '$.fn', 'a.delete', 'x.new.this', 'a'.repeat(JSONP_MAX_CALLBACK_LENGTH)];
  for (const v of good) assert.equal(isValidCallback(v), true, v);
  const bad = [
    '', 'alert(1)', 'alert(1)//', 'x);alert(document.cookie);//', '</script><script>alert(1)</script>', 'a b', 'a..b', '.a', 'a.', '1abc',
    'a-b', 'a[0]', 'a["x"]', "a['x']", 'a\u2028b', 'a\nb', 'a;b', 'a,b', 'a=b', 'é', 'caf\u00e9', 'a\u200db', '/*', '(function(){})', '`x`',
    'delete', 'import', 'new', 'this', 'this.x', 'typeof', 'void', 'true', 'null', 'super.x', 'await', 'yield',
    'a'.repeat(JSONP_MAX_CALLBACK_LENGTH + 1), `${'a.'.repeat(70)}b`,
  ];
  for (const v of bad) assert.equal(isValidCallback(v), false, JSON.stringify(v));
});

test('readQueryParameter: only the named parameter, decoded like URLSearchParams', () => {
  const INVALID_MARK = readQueryParameter('cb=a&cb=b', 'cb');
  assert.equal(typeof INVALID_MARK, 'symbol');
  const cases: Array<[string, string | undefined | 'INVALID']> = [
    ['', undefined],
    ['a=1', undefined],
    ['cb=render', 'render'],
    ['a=1&cb=render&b=2', 'render'],
    ['xcb=1&cbx=2&a=cb', undefined],
    ['CB=render', undefined],
    ['cb=', undefined],
    ['cb', undefined],
    ['c%62=render', 'render'],
    ['cb=a%2Eb', 'a.b'],
    ['cb=a+b', 'a b'],
    ['cb=a=b', 'a=b'],
    ['&&cb=x&&', 'x'],
    ['cb=a&cb=b', 'INVALID'],
    ['cb=&cb=b', 'INVALID'],
    ['cb=a&c%62=b', 'INVALID'],
    ['cb=%zz', 'INVALID'],
    ['cb=%E2%80%A8', '\u2028'],
  ];
  for (const [query, expected] of cases) {
    const got = readQueryParameter(query, 'cb');
    assert.equal(typeof got === 'symbol' ? 'INVALID' : got, expected, query);
  }
});

test('isJsonMediaType follows the WHATWG JSON MIME type rule', () => {
  for (const t of ['application/json', 'application/json; charset=utf-8', 'APPLICATION/JSON', 'text/json', 'application/problem+json', 'application/vnd.api+json; x=1']) assert.equal(isJsonMediaType(t), true, t);
  for (const t of [undefined, '', 'text/plain', 'text/html', 'application/javascript', 'application/jsonx', 'application/json-seq', '+json', 'json']) assert.equal(isJsonMediaType(t), false, String(t));
});

// ── Behaviour ───────────────────────────────────────────────────────────────────────────────

const [HANDLER] = compileForTest('<jsonp callback-parameter-name="cb" />', jsonpPolicy, { section: 'outbound' });
const handler = HANDLER as NonNullable<typeof HANDLER>;

interface Outcome {
  readonly result: unknown;
  readonly response: GatewayResponse;
  readonly failure?: { source: string; reason: string; message: string; status: number };
}

async function run(query: string, response: Partial<GatewayResponse> & { body: Body }, method = 'GET'): Promise<Outcome> {
  const full: GatewayResponse = { status: 200, headers: { 'content-type': 'application/json; charset=utf-8' }, ...response };
  const ctx = createTestContext({ query, method }, { response: full });
  ctx.section = 'outbound';
  try {
    const result = handler.run(ctx);
    await result;
    return { result, response: ctx.response as GatewayResponse };
  } catch (error) {
    if (!(error instanceof PolicyFailure)) throw error;
    return { result: undefined, response: ctx.response as GatewayResponse, failure: { source: error.source, reason: error.reason, message: error.message, status: error.statusCode } };
  }
}

async function bytes(body: Body): Promise<Buffer> {
  if (body === null) return Buffer.alloc(0);
  if (typeof body === 'string') return Buffer.from(body);
  if (body instanceof Uint8Array) return Buffer.from(body);
  const chunks: Uint8Array[] = [];
  for await (const chunk of body) chunks.push(chunk);
  return Buffer.concat(chunks);
}

async function text(body: Body): Promise<string> {
  return (await bytes(body)).toString('utf8');
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    return value;
  }
}

async function* stream(...chunks: string[]): AsyncGenerator<Uint8Array> {
  for (const c of chunks) yield Buffer.from(c);
}

const JSON_BODY = '{"items":[{"id":1,"name":"caf\u00e9 \u2028"}],"n":12345678901234567890}';
const INVALID_FAILURE = { source: 'jsonp', reason: 'CallbackParameterInvalid', status: 400, message: 'Value of callback parameter cb is not a valid JavaScript identifier.' };

test('no callback parameter: the response is not touched and run stays synchronous', async () => {
  const headers: HeaderMap = { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(JSON_BODY)) };
  const response: GatewayResponse = { status: 200, headers: { ...headers }, body: JSON_BODY };
  const ctx = createTestContext({ query: 'a=1&callback=x' }, { response });
  assert.equal(handler.run(ctx), undefined);
  assert.equal(ctx.response, response);
  assert.equal(response.body, JSON_BODY);
  assert.deepEqual(response.headers, headers);
});

test('?cb=name wraps the JSON exactly as name(<json>); with script headers', async () => {
  const { result, response } = await run('cb=render', { body: JSON_BODY, headers: { 'content-type': 'application/json; charset=utf-8', 'content-length': '999', vary: 'Accept-Encoding', etag: '"v1"', 'transfer-encoding': 'chunked', 'content-md5': 'x' } });
  assert.ok(result instanceof Promise);
  const expected = `render(${JSON_BODY});`;
  assert.equal(await text(response.body), expected);
  assert.equal(response.status, 200);
  assert.deepEqual(response.headers, {
    'content-type': 'text/javascript; charset=utf-8',
    'x-content-type-options': 'nosniff',
    'content-length': String(Buffer.byteLength(expected)),
    vary: 'Accept-Encoding',
    etag: 'W/"v1"',
  });
});

test('a UTF-8 byte order mark is dropped, and Content-Length counts the bytes actually sent', async () => {
  const json = '{"name":"caf\u00e9 \u{1f600}"}';
  const { response } = await run('cb=f', { body: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(json)]) });
  const sent = await bytes(response.body);
  assert.equal(sent.toString('utf8'), `f(${json});`);
  assert.equal(response.headers['content-length'], String(sent.length));
});

test('dotted callbacks, encoded keys and values, other parameters around it', async () => {
  for (const [query, callback] of [['cb=angular.callbacks._0', 'angular.callbacks._0'], ['x=1&c%62=jQuery_1&y=2', 'jQuery_1'], ['cb=a%2Eb', 'a.b']] as const) {
    const { response } = await run(query, { body: '[1,2]' });
    assert.equal(await text(response.body), `${callback}([1,2]);`, query);
  }
});

test('hostile callbacks are refused with CallbackParameterInvalid and never reach the body', async () => {
  const hostile = [
    'alert(1)//', 'x);alert(document.cookie);//', '%3C/script%3E%3Cscript%3Ealert(1)%3C/script%3E', 'a+b', 'a%0Ab', 'a%E2%80%A8b', 'a%00b', 'a[0]',
    "a['constructor']", 'eval(name)', '1x', 'delete', 'import', 'this.x', 'caf%C3%A9', '%zz', encodeURIComponent('a'.repeat(129)), 'a;b',
    '/**/alert', 'a.b(', '(a)', '`a`', 'a%20', '%20a',
  ];
  for (const value of hostile) {
    const original = '{"secret":"do not leak"}';
    const { failure, response } = await run(`cb=${value}`, { body: original });
    assert.deepEqual(failure, INVALID_FAILURE, value);
    assert.equal(response.body, original, value);
    assert.equal(response.headers['content-type'], 'application/json; charset=utf-8', value);
    const decoded = safeDecode(value);
    if (decoded.length > 2) assert.ok(!failure?.message.includes(decoded), value);
  }
});

test('a repeated callback parameter is refused (parameter pollution)', async () => {
  assert.deepEqual((await run('cb=a&cb=b', { body: '{}' })).failure, INVALID_FAILURE);
  assert.deepEqual((await run('cb=a&c%62=a', { body: '{}' })).failure, INVALID_FAILURE);
});

test('empty or differently cased parameters mean "no callback"', async () => {
  for (const query of ['cb=', 'cb', 'CB=render', 'callback=render', 'xcb=render']) {
    const { failure, response, result } = await run(query, { body: '{}' });
    assert.equal(failure, undefined, query);
    assert.equal(result, undefined, query);
    assert.equal(response.body, '{}', query);
  }
});

test('the callback is validated even when the response will not be wrapped', async () => {
  assert.deepEqual((await run('cb=alert(1)', { status: 404, body: '{}' })).failure, INVALID_FAILURE);
  assert.deepEqual((await run('cb=alert(1)', { body: '<p>', headers: { 'content-type': 'text/html' } })).failure, INVALID_FAILURE);
});

const UNTOUCHED: ReadonlyArray<[string, Partial<GatewayResponse> & { body: Body }, string?]> = [
  ['404 JSON error', { status: 404, body: '{"statusCode":404}' }],
  ['500 JSON error', { status: 500, body: '{"statusCode":500}' }],
  ['304', { status: 304, body: null }],
  ['204', { status: 204, body: null }],
  ['206 fragment', { status: 206, body: '{"a":' }],
  ['200 without a body', { body: null }],
  ['200 with an empty body', { body: '' }],
  ['text/html', { body: '<script>alert(1)</script>', headers: { 'content-type': 'text/html' } }],
  ['text/plain that looks like code', { body: 'alert(1)', headers: { 'content-type': 'text/plain' } }],
  ['no content type', { body: '{}', headers: {} }],
  ['labelled JSON but not JSON', { body: '1);alert(document.domain);(', headers: { 'content-type': 'application/json' } }],
  ['JSON with trailing script', { body: '{"a":1}; alert(1)' }],
  ['invalid UTF-8', { body: Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]) }],
  ['unknown content coding', { body: '{}', headers: { 'content-type': 'application/json', 'content-encoding': 'zstd' } }],
  ['HEAD', { body: '{}' }, 'HEAD'],
];

for (const [name, response, method] of UNTOUCHED) {
  test(`not wrapped, passed through as is: ${name}`, async () => {
    const before = await bytes(response.body);
    const headersBefore = { ...(response.headers ?? { 'content-type': 'application/json; charset=utf-8' }) };
    const out = await run('cb=render', response, method);
    assert.equal(out.failure, undefined);
    assert.deepEqual(await bytes(out.response.body), before);
    assert.deepEqual(out.response.headers, headersBefore);
    assert.equal(out.response.status, response.status ?? 200);
  });
}

test('application/problem+json, text/json and 201 are wrapped', async () => {
  for (const [status, type] of [[200, 'application/problem+json'], [201, 'text/json'], [299, 'application/json']] as const) {
    const { response } = await run('cb=f', { status, body: '{"ok":true}', headers: { 'content-type': type } });
    assert.equal(await text(response.body), 'f({"ok":true});', type);
    assert.equal(response.status, status);
  }
});

test('a UTF-8 byte order mark is dropped; non-ASCII JSON keeps its exact bytes', async () => {
  const json = Buffer.from(JSON_BODY, 'utf8');
  const { response } = await run('cb=f', { body: Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), json]) });
  assert.deepEqual(await bytes(response.body), Buffer.concat([Buffer.from('f('), json, Buffer.from(');')]));
});

test('compressed backend bodies are decoded (gzip, x-gzip, deflate, raw deflate, br, stacked) and sent uncompressed', async () => {
  const raw = Buffer.from(JSON_BODY);
  const cases: Array<[string, Buffer]> = [
    ['gzip', gzipSync(raw)],
    ['x-gzip', gzipSync(raw)],
    ['deflate', deflateSync(raw)],
    ['deflate', deflateRawSync(raw)],
    ['br', brotliCompressSync(raw)],
    ['GZIP', gzipSync(raw)],
    ['deflate, gzip', gzipSync(deflateSync(raw))],
    ['identity', raw],
  ];
  for (const [coding, body] of cases) {
    const { response } = await run('cb=f', { body, headers: { 'content-type': 'application/json', 'content-encoding': coding, 'content-length': String(body.length) } });
    const expected = `f(${JSON_BODY});`;
    assert.equal(await text(response.body), expected, coding);
    assert.equal(response.headers['content-encoding'], undefined, coding);
    assert.equal(response.headers['content-length'], String(Buffer.byteLength(expected)), coding);
  }
});

test('a corrupt compressed body is passed through with its headers', async () => {
  const body = Buffer.from('not gzip at all');
  const headers = { 'content-type': 'application/json', 'content-encoding': 'gzip' };
  const { response, failure } = await run('cb=f', { body, headers: { ...headers } });
  assert.equal(failure, undefined);
  assert.deepEqual(await bytes(response.body), body);
  assert.deepEqual(response.headers, headers);
});

test('a decompression bomb stops at the limit and is passed through', async () => {
  const bomb = gzipSync(Buffer.alloc(JSONP_MAX_BODY_BYTES + 1, 0x20));
  assert.ok(bomb.length < 64 * 1024);
  const { response } = await run('cb=f', { body: bomb, headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' } });
  assert.deepEqual(await bytes(response.body), bomb);
  assert.equal(response.headers['content-encoding'], 'gzip');
});

test('a streamed body is buffered and wrapped', async () => {
  const { response } = await run('cb=f', { body: stream('{"a":', '[1,2,', '3]}') });
  assert.equal(await text(response.body), 'f({"a":[1,2,3]});');
  assert.equal(response.headers['content-length'], '17');
});

test('a streamed body over the limit is replayed in full, unwrapped, and the source is drained in order', async () => {
  const chunk = 'x'.repeat(1024 * 1024);
  const parts = ['[', ...Array.from({ length: 4 }, () => `"${chunk}",`), '0]'];
  const { response } = await run('cb=f', { body: stream(...parts) });
  assert.equal(typeof response.body === 'object' && response.body !== null && Symbol.asyncIterator in response.body, true);
  assert.equal(await text(response.body), parts.join(''));
  assert.equal(response.headers['content-type'], 'application/json; charset=utf-8');
});

test('stopping the replayed stream early releases the source', async () => {
  let released = false;
  async function* source(): AsyncGenerator<Uint8Array> {
    try {
      for (let i = 0; i < 10; i++) yield Buffer.alloc(1024 * 1024, 0x20);
    } finally {
      released = true;
    }
  }
  const { response } = await run('cb=f', { body: source() });
  for await (const _ of response.body as AsyncIterable<Uint8Array>) break;
  assert.equal(released, true);
});

test('a replayed body discarded before anyone reads it still releases the source', async () => {
  let released = false;
  async function* source(): AsyncGenerator<Uint8Array> {
    try {
      for (let i = 0; i < 10; i++) yield Buffer.alloc(1024 * 1024, 0x20);
    } finally {
      released = true;
    }
  }
  const { response } = await run('cb=f', { body: source() });
  // What on-error or respond does with a body it will not send.
  discardBody(response.body);
  await new Promise((resolve) => setImmediate(resolve));
  assert.equal(released, true);
});

test('a string body over the limit is passed through', async () => {
  const big = `"${'y'.repeat(JSONP_MAX_BODY_BYTES)}"`;
  const { response } = await run('cb=f', { body: big });
  assert.equal(await text(response.body), big);
  assert.equal(response.headers['content-type'], 'application/json; charset=utf-8');
});

test('the LAST content-type field line decides, as in Fetch', async () => {
  const { response } = await run('cb=f', { body: '{}', headers: { 'content-type': ['text/plain', 'application/json'] } });
  assert.equal(await text(response.body), 'f({});');
});

test('the callback comes from the original request query, not the backend query', async () => {
  const response: GatewayResponse = { status: 200, headers: { 'content-type': 'application/json' }, body: '{}' };
  const ctx = createTestContext({ query: 'cb=f' }, { response });
  ctx.backendQuery = ''; // e.g. set-query-parameter removed it before forwarding
  await handler.run(ctx);
  assert.equal(await text(response.body), 'f({});');
});
