import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileEnvForTest, compileForTest } from '../../policy/testing.ts';
import type { PolicyDefinition } from '../../policy/define-policy.ts';
import type { PolicyHandler } from '../../pipeline/handler.ts';
import { corsPolicy } from './cors.ts';
import { isCorsHandler, type CompiledCors } from './compiled.ts';
import { applyCorsHeaders, applyCorsToGatewayError, decideCors, explainCorsDecision, isPreflight, preflightResponse, type CorsDecision, type CorsRequest } from './decide.ts';

const def = corsPolicy as PolicyDefinition<unknown>;

/** Compiles one `<cors>` (attrs + children) at 'api' scope; `file` gives each its own name in reasons. */
function cors(attrs: string, children: string, options: { file?: string; terminateDefault?: boolean } = {}): CompiledCors {
  const env = compileEnvForTest({ compat: { corsTerminateUnmatchedDefault: options.terminateDefault ?? false } });
  const [handler] = compileForTest(`\n<cors${attrs}>${children}</cors>`, def, { env });
  assert.ok(handler !== undefined && isCorsHandler(handler));
  if (options.file === undefined) return handler.cors;
  return { ...handler.cors, location: { ...handler.cors.location, file: options.file } };
}

const origins = (...list: string[]) => `<allowed-origins>${list.map((o) => `<origin>${o}</origin>`).join('')}</allowed-origins>`;
const methods = (...list: string[]) => `<allowed-methods>${list.map((m) => `<method>${m}</method>`).join('')}</allowed-methods>`;
const methodsMaxAge = (age: string, ...list: string[]) => `<allowed-methods preflight-result-max-age="${age}">${list.map((m) => `<method>${m}</method>`).join('')}</allowed-methods>`;
const headers = (...list: string[]) => `<allowed-headers>${list.map((h) => `<header>${h}</header>`).join('')}</allowed-headers>`;
const expose = (...list: string[]) => `<expose-headers>${list.map((h) => `<header>${h}</header>`).join('')}</expose-headers>`;

// The typical real-world file: dev portal origin, credentials, * methods/headers/expose, max-age 300.
const PORTAL = cors(' allow-credentials="true"', origins('https://portal.example.net') + methodsMaxAge('300', '*') + headers('*') + expose('*'));
// A strict list configuration without credentials.
const LIST = cors('', origins('https://app.example.com', 'http://localhost:4200/') + methodsMaxAge('600', 'GET', 'PUT', 'patch') + headers('Content-Type', 'X-Api-Key') + expose('X-Total', 'ETag'));
const ANY = cors('', origins('*') + methods('*') + headers('*'));
const ANY_CRED = cors(' allow-credentials="true"', origins('*') + methods('GET', 'POST') + headers('*'));

function preflight(origin: string | undefined, method: string, requestHeaders?: string): CorsRequest {
  return { method: 'OPTIONS', origin, accessControlRequestMethod: method, accessControlRequestHeaders: requestHeaders };
}
function actual(method: string, origin: string | undefined): CorsRequest {
  return { method, origin, accessControlRequestMethod: undefined, accessControlRequestHeaders: undefined };
}
const codes = (d: CorsDecision) => d.reasons.map((r) => r.code);

// ── Preflight: matched answers ────────────────────────────────────────────────────────────────
test('preflight, list config, no credentials: origin echoed, list answers, max-age, Vary: Origin', () => {
  const d = decideCors([LIST], preflight('https://app.example.com', 'PUT', 'content-type,x-api-key'));
  assert.equal(d.kind, 'preflight-answer');
  assert.equal(d.preflight, true);
  assert.equal(d.decidedBy, LIST);
  assert.deepEqual(d.headers, [
    ['access-control-allow-origin', 'https://app.example.com'],
    ['access-control-allow-methods', 'GET, PUT, PATCH'],
    ['access-control-allow-headers', 'Content-Type, X-Api-Key'],
    ['access-control-max-age', '600'],
    ['vary', 'Origin'],
  ]);
  assert.deepEqual(codes(d), ['origin-allowed', 'method-allowed', 'headers-allowed']);
});

test('preflight, credentials with * methods and headers (the common real file): echo, never *', () => {
  const d = decideCors([PORTAL], preflight('https://portal.example.net', 'DELETE', 'authorization, content-type, x-custom'));
  assert.equal(d.kind, 'preflight-answer');
  assert.deepEqual(d.headers, [
    ['access-control-allow-origin', 'https://portal.example.net'],
    ['access-control-allow-credentials', 'true'],
    ['access-control-allow-methods', 'DELETE'],
    ['access-control-allow-headers', 'authorization, content-type, x-custom'],
    ['access-control-max-age', '300'],
    ['vary', 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers'],
  ]);
});

test('preflight, * everything without credentials: ACAO *, ACAM *, requested headers echoed (Authorization is never covered by *)', () => {
  const d = decideCors([ANY], preflight('https://anywhere.example', 'PATCH', 'Authorization'));
  assert.deepEqual(d.headers, [
    ['access-control-allow-origin', '*'],
    ['access-control-allow-methods', '*'],
    ['access-control-allow-headers', 'authorization'],
    ['vary', 'Origin, Access-Control-Request-Headers'],
  ]);
  assert.deepEqual(codes(d), ['origin-any', 'method-allowed', 'headers-allowed']);
});

test('preflight, * origins with credentials: the Origin is echoed, ACAC true, no ACAO *', () => {
  const d = decideCors([ANY_CRED], preflight('https://site.example', 'POST'));
  assert.deepEqual(d.headers, [
    ['access-control-allow-origin', 'https://site.example'],
    ['access-control-allow-credentials', 'true'],
    ['access-control-allow-methods', 'GET, POST'],
    ['vary', 'Origin'],
  ]);
  assert.deepEqual(codes(d), ['origin-any-echoed', 'method-allowed']);
});

test('preflight without Access-Control-Request-Headers: no ACAH for *; the configured list is still sent', () => {
  assert.deepEqual(decideCors([ANY], preflight('https://x.example', 'GET')).headers, [
    ['access-control-allow-origin', '*'],
    ['access-control-allow-methods', '*'],
    ['vary', 'Origin'],
  ]);
  assert.deepEqual(decideCors([LIST], preflight('https://app.example.com', 'GET')).headers.map(([n]) => n), [
    'access-control-allow-origin', 'access-control-allow-methods', 'access-control-allow-headers', 'access-control-max-age', 'vary',
  ]);
});

test('preflight: request headers match case-insensitively; empty list items and spaces are ignored', () => {
  const d = decideCors([LIST], preflight('https://app.example.com', 'GET', ' X-API-KEY ,, content-type '));
  assert.equal(d.kind, 'preflight-answer');
  assert.deepEqual(d.reasons.at(-1), { code: 'headers-allowed', cors: LIST, value: 'X-API-KEY, content-type' });
});

test('preflight: a method allowed only case-insensitively is echoed as requested (Fetch compares methods byte for byte)', () => {
  const d = decideCors([LIST], preflight('https://app.example.com', 'patch'));
  assert.equal(d.kind, 'preflight-answer');
  assert.deepEqual(d.headers[1], ['access-control-allow-methods', 'patch']);
  assert.deepEqual(d.headers.at(-1), ['vary', 'Origin, Access-Control-Request-Method']);
});

test('preflight: max-age 0 is sent as 0; absent max-age sends no header', () => {
  const zero = cors('', origins('https://a.example') + methodsMaxAge('0', 'GET') + headers('x'));
  assert.deepEqual(decideCors([zero], preflight('https://a.example', 'GET')).headers.find(([n]) => n === 'access-control-max-age'), ['access-control-max-age', '0']);
  const none = cors('', origins('https://a.example') + methods('GET') + headers('x'));
  assert.equal(decideCors([none], preflight('https://a.example', 'GET')).headers.find(([n]) => n === 'access-control-max-age'), undefined);
});

test('preflight: origin matching is case-insensitive and default-port tolerant, and echoes the Origin exactly as sent', () => {
  for (const sent of ['https://APP.example.com', 'HTTPS://app.example.com:443', 'http://localhost:4200']) {
    const d = decideCors([LIST], preflight(sent, 'GET'));
    assert.equal(d.kind, 'preflight-answer', sent);
    assert.deepEqual(d.headers[0], ['access-control-allow-origin', sent]);
  }
});

// ── Preflight: unmatched, terminate, fall-through (§1.7 truth table) ──────────────────────────
test('unmatched preflight, terminate=true: empty 200 with no headers at all; later cors not consulted', () => {
  const first = cors(' terminate-unmatched-request="true"', origins('https://a.example') + headers('*'), { file: 'global.xml' });
  const d = decideCors([first, ANY], preflight('https://evil.example', 'GET'));
  assert.equal(d.kind, 'terminate-empty-200');
  assert.deepEqual(d.headers, []);
  assert.equal(d.decidedBy, first);
  assert.deepEqual(codes(d), ['origin-not-allowed', 'method-allowed', 'terminate']);
});

test('unmatched preflight, terminate=false: the next top-level cors answers', () => {
  const first = cors(' terminate-unmatched-request="false"', origins('https://a.example') + headers('*'), { file: 'api.xml' });
  const d = decideCors([first, LIST], preflight('https://app.example.com', 'PUT'));
  assert.equal(d.kind, 'preflight-answer');
  assert.equal(d.decidedBy, LIST);
  assert.deepEqual(codes(d), ['origin-not-allowed', 'method-not-allowed', 'fall-through', 'origin-allowed', 'method-allowed']);
});

test('unmatched preflight, terminate=false, no cors left: empty 200', () => {
  const first = cors(' terminate-unmatched-request="false"', origins('https://a.example') + headers('*'));
  const second = cors(' terminate-unmatched-request="false"', origins('https://b.example') + headers('*'));
  const d = decideCors([first, second], preflight('https://c.example', 'GET'));
  assert.equal(d.kind, 'terminate-empty-200');
  assert.deepEqual(d.headers, []);
  assert.equal(d.decidedBy, second);
  assert.deepEqual(codes(d), ['origin-not-allowed', 'method-allowed', 'fall-through', 'origin-not-allowed', 'method-allowed', 'fall-through', 'none-left']);
});

test('fall-through stops at the first unmatched cors with terminate=true, even if a later one would match', () => {
  const a = cors(' terminate-unmatched-request="false"', origins('https://a.example') + headers('*'));
  const b = cors(' terminate-unmatched-request="true"', origins('https://b.example') + headers('*'));
  const d = decideCors([a, b, ANY], preflight('https://c.example', 'GET'));
  assert.equal(d.kind, 'terminate-empty-200');
  assert.equal(d.decidedBy, b);
});

test('terminate-unmatched-request absent follows compat.corsTerminateUnmatchedDefault', () => {
  const unsetFalse = cors('', origins('https://a.example') + headers('*'), { terminateDefault: false });
  const unsetTrue = cors('', origins('https://a.example') + headers('*'), { terminateDefault: true });
  assert.equal(unsetFalse.terminateUnmatched, false);
  assert.equal(unsetFalse.terminateSource, 'compat-default');
  assert.equal(unsetTrue.terminateUnmatched, true);
  assert.equal(decideCors([unsetFalse, ANY], preflight('https://x.example', 'GET')).kind, 'preflight-answer');
  assert.equal(decideCors([unsetTrue, ANY], preflight('https://x.example', 'GET')).kind, 'terminate-empty-200');
  // A written value beats the compat default.
  const written = cors(' terminate-unmatched-request="false"', origins('https://a.example') + headers('*'), { terminateDefault: true });
  assert.equal(written.terminateSource, 'attribute');
  assert.equal(decideCors([written, ANY], preflight('https://x.example', 'GET')).kind, 'preflight-answer');
});

test('preflight unmatched on the method: default methods are GET and POST only (HEAD/PUT not allowed)', () => {
  const defaults = cors('', origins('https://a.example') + headers('*'));
  assert.equal(decideCors([defaults], preflight('https://a.example', 'POST')).kind, 'preflight-answer');
  for (const m of ['PUT', 'HEAD', 'DELETE']) {
    const d = decideCors([defaults], preflight('https://a.example', m));
    assert.equal(d.kind, 'terminate-empty-200', m);
    assert.deepEqual(d.reasons[1], { code: 'method-not-allowed', cors: defaults, value: m });
  }
});

test('preflight unmatched on headers: each refused header is named', () => {
  const d = decideCors([LIST], preflight('https://app.example.com', 'GET', 'x-api-key, authorization, x-other'));
  assert.equal(d.kind, 'terminate-empty-200');
  assert.deepEqual(d.reasons.filter((r) => r.code === 'header-not-allowed').map((r) => r.value), ['authorization', 'x-other']);
});

test('missing <allowed-headers>: a preflight asking for any header does not match; one asking for none does', () => {
  const noHeaders = cors('', origins('https://a.example') + methods('GET', 'PUT'));
  assert.equal(decideCors([noHeaders], preflight('https://a.example', 'PUT', 'content-type')).kind, 'terminate-empty-200');
  const ok = decideCors([noHeaders], preflight('https://a.example', 'PUT'));
  assert.equal(ok.kind, 'preflight-answer');
  assert.equal(ok.headers.find(([n]) => n === 'access-control-allow-headers'), undefined);
  assert.match(explainCorsDecision(decideCors([noHeaders], preflight('https://a.example', 'PUT', 'content-type')))[2] ?? '', /has no <allowed-headers>/);
});

test('invalid Access-Control-Request-Method or header token never matches', () => {
  assert.deepEqual(codes(decideCors([ANY], preflight('https://a.example', ''))), ['origin-any', 'method-invalid', 'fall-through', 'none-left']);
  assert.deepEqual(codes(decideCors([ANY], preflight('https://a.example', 'GET', 'x y'))), ['origin-any', 'method-allowed', 'header-invalid', 'fall-through', 'none-left']);
});

// ── Origin values that never match or are never reflected ─────────────────────────────────────
const BAD_ORIGINS = ['null', '', 'https://app.example.com/', 'https://app.example.com/path', 'app.example.com', 'https://app.example.com, https://other.example', 'https://app.example.com\r\nSet-Cookie: a=b', 'https://app.example.com\u0000', 'https://ápp.example.com'];
for (const bad of BAD_ORIGINS) {
  test(`origin ${JSON.stringify(bad)} never matches a list and is never reflected`, () => {
    for (const c of [LIST, ANY_CRED]) {
      const p = decideCors([c], preflight(bad, 'GET'));
      assert.equal(p.kind, 'terminate-empty-200');
      assert.deepEqual(p.headers, []);
      assert.equal(p.reasons[0]?.code, 'origin-invalid');
      const a = decideCors([c], actual('GET', bad));
      assert.equal(a.kind, 'no-cors');
      assert.deepEqual(a.headers, [['vary', 'Origin']]);
    }
  });
}

test('* without credentials answers * to a null (or malformed) Origin: nothing is reflected', () => {
  assert.deepEqual(decideCors([ANY], actual('GET', 'null')).headers, [['access-control-allow-origin', '*'], ['vary', 'Origin']]);
  assert.equal(decideCors([ANY], preflight('null', 'PUT')).headers[0]?.[1], '*');
  assert.equal(decideCors([ANY], actual('GET', '')).kind, 'no-cors');
});

// ── Actual requests ───────────────────────────────────────────────────────────────────────────
test('actual, matched list: ACAO echo, expose list, Vary; no preflight-only headers', () => {
  const d = decideCors([LIST], actual('PUT', 'https://app.example.com'));
  assert.equal(d.kind, 'actual-headers');
  assert.equal(d.preflight, false);
  assert.deepEqual(d.headers, [
    ['access-control-allow-origin', 'https://app.example.com'],
    ['access-control-expose-headers', 'X-Total, ETag'],
    ['vary', 'Origin'],
  ]);
});

test('actual, matched with credentials: ACAC true on the actual response too; expose * kept literally', () => {
  assert.deepEqual(decideCors([PORTAL], actual('GET', 'https://portal.example.net')).headers, [
    ['access-control-allow-origin', 'https://portal.example.net'],
    ['access-control-allow-credentials', 'true'],
    ['access-control-expose-headers', '*'],
    ['vary', 'Origin'],
  ]);
});

test('actual, * origins: * without credentials, the echoed origin with credentials', () => {
  assert.deepEqual(decideCors([ANY], actual('POST', 'https://x.example')).headers, [['access-control-allow-origin', '*'], ['vary', 'Origin']]);
  assert.deepEqual(decideCors([ANY_CRED], actual('POST', 'https://x.example')).headers, [
    ['access-control-allow-origin', 'https://x.example'],
    ['access-control-allow-credentials', 'true'],
    ['vary', 'Origin'],
  ]);
});

test('actual without Origin: not CORS; only Vary: Origin (Fetch: the answer depends on Origin)', () => {
  const d = decideCors([LIST], actual('GET', undefined));
  assert.equal(d.kind, 'no-cors');
  assert.deepEqual(d.headers, [['vary', 'Origin']]);
  assert.deepEqual(codes(d), ['origin-missing']);
});

const TERMINATE_TABLE: [method: string, terminate: boolean, kind: CorsDecision['kind'], last: string][] = [
  ['GET', true, 'terminate-empty-200', 'terminate'],
  ['HEAD', true, 'terminate-empty-200', 'terminate'],
  ['POST', true, 'no-cors', 'proceed-not-get-head'],
  ['DELETE', true, 'no-cors', 'proceed-not-get-head'],
  ['GET', false, 'no-cors', 'proceed'],
  ['HEAD', false, 'no-cors', 'proceed'],
  ['POST', false, 'no-cors', 'proceed-not-get-head'],
];
for (const [method, terminate, kind, last] of TERMINATE_TABLE) {
  test(`actual ${method}, unmatched origin, terminate=${terminate} → ${kind}`, () => {
    const c = cors(` terminate-unmatched-request="${terminate}"`, origins('https://a.example') + headers('*'));
    const d = decideCors([c], actual(method, 'https://evil.example'));
    assert.equal(d.kind, kind);
    assert.deepEqual(d.headers, [['vary', 'Origin']]);
    assert.deepEqual(codes(d), ['origin-not-allowed', last]);
  });
}

test('actual: only the first cors decides; a later matching cors is ignored (no fall-through)', () => {
  const first = cors(' terminate-unmatched-request="false"', origins('https://a.example') + headers('*'));
  const d = decideCors([first, ANY], actual('GET', 'https://b.example'));
  assert.equal(d.kind, 'no-cors');
  assert.equal(d.decidedBy, first);
  assert.deepEqual(codes(d), ['origin-not-allowed', 'proceed', 'later-cors-ignored']);
  const matched = decideCors([LIST, ANY], actual('GET', 'https://app.example.com'));
  assert.equal(matched.decidedBy, LIST);
  assert.equal(matched.headers[0]?.[1], 'https://app.example.com');
});

test('OPTIONS without Access-Control-Request-Method (or without Origin) is an actual request', () => {
  const d = decideCors([LIST], { method: 'OPTIONS', origin: 'https://app.example.com', accessControlRequestMethod: undefined, accessControlRequestHeaders: undefined });
  assert.equal(d.kind, 'actual-headers');
  assert.equal(d.preflight, false);
  assert.equal(decideCors([LIST], { method: 'OPTIONS', origin: undefined, accessControlRequestMethod: 'GET', accessControlRequestHeaders: undefined }).kind, 'no-cors');
});

test('no cors at all: no-cors, nothing added', () => {
  const d = decideCors([], preflight('https://a.example', 'GET'));
  assert.equal(d.kind, 'no-cors');
  assert.deepEqual(d.headers, []);
  assert.deepEqual(codes(d), ['no-cors-policy']);
});

test('actual decisions without Origin are precomputed (same object every time)', () => {
  assert.equal(decideCors([LIST], actual('GET', undefined)), decideCors([LIST], actual('GET', undefined)));
});

// ── isPreflight, preflightResponse, applyCorsHeaders, explain ───────────────────────────────────
test('isPreflight: OPTIONS + Origin + Access-Control-Request-Method', () => {
  assert.equal(isPreflight('OPTIONS', { origin: 'https://a', 'access-control-request-method': 'PUT' }), true);
  assert.equal(isPreflight('OPTIONS', { origin: 'https://a' }), false);
  assert.equal(isPreflight('OPTIONS', { 'access-control-request-method': 'PUT' }), false);
  assert.equal(isPreflight('GET', { origin: 'https://a', 'access-control-request-method': 'PUT' }), false);
});

test('preflightResponse (the reason-free, remembering fast path) answers exactly what decideCors decides, over a grid of policies and preflights', () => {
  const handlerOf = (c: CompiledCors): PolicyHandler => ({ name: 'cors', cors: c, location: c.location, scope: c.scope, policyId: undefined, run: () => undefined }) as PolicyHandler;
  const TERMINATE = cors(' terminate-unmatched-request="true"', origins('https://app.example.com') + methods('GET'));
  const chains: CompiledCors[][] = [[PORTAL], [LIST], [ANY], [ANY_CRED], [TERMINATE], [LIST, ANY], [TERMINATE, ANY], [LIST, PORTAL, ANY_CRED], []];
  const originsTried = ['https://app.example.com', 'http://localhost:4200', 'https://portal.example.net', 'https://evil.example', 'null', 'not an origin', 'https://APP.example.com'];
  const methodsTried = ['GET', 'PUT', 'patch', 'PATCH', 'DELETE', 'bad method', ''];
  const headersTried = [undefined, '', 'content-type', 'Content-Type, X-Api-Key', 'x-other', 'content-type,,authorization', 'bad header'];
  let compared = 0;
  for (const chain of chains) {
    // One handler array per chain, as a compiled pipeline holds it: preflightResponse remembers answers per array.
    const handlers = chain.map(handlerOf);
    let distinct = 0;
    for (const origin of originsTried) {
      for (const method of methodsTried) {
        for (const requestHeaders of headersTried) {
          const headerMap: Record<string, string> = { origin, 'access-control-request-method': method };
          if (requestHeaders !== undefined) headerMap['access-control-request-headers'] = requestHeaders;
          const request = { method: 'OPTIONS', path: '/', query: '', body: null, ipAddress: '', protocol: 'http' as const, host: '', headers: headerMap };
          const expected = decideCors(chain, preflight(origin, method, requestHeaders));
          const what = `${chain.length} cors, ${origin} ${method} ${requestHeaders}`;
          // Worked out on the first call, remembered for the second (a new request with equal headers).
          const first = preflightResponse(handlers, request);
          const second = preflightResponse(handlers, { ...request, headers: { ...headerMap } });
          assert.deepEqual(first, { status: 200, statusText: 'OK', headers: Object.fromEntries(expected.headers), body: null }, what);
          assert.deepEqual(second, first, what);
          // Every preflight of the grid is a new key; the first 256 per chain are remembered.
          if (++distinct <= 256) assert.equal(second.headers, first.headers, `remembered: ${what}`);
          else assert.notEqual(second.headers, first.headers, `past the bound: ${what}`);
          assert.notEqual(second, first, 'a response object per request');
          compared++;
        }
      }
    }
  }
  assert.equal(compared, chains.length * originsTried.length * methodsTried.length * headersTried.length);
});

test('preflightResponse: remembered answers are frozen and bounded (256 per chain, keys up to 512 characters)', () => {
  const [handler] = compileForTest(`\n<cors>${origins('*')}${methods('GET')}${headers('*')}</cors>`, def);
  assert.ok(handler !== undefined);
  const chain = [handler];
  const ask = (requested: string) =>
    preflightResponse(chain, { method: 'OPTIONS', path: '/', query: '', body: null, ipAddress: '', protocol: 'http', host: '', headers: { origin: 'https://a.example', 'access-control-request-method': 'GET', 'access-control-request-headers': requested } });
  const answer = ask('x-h0');
  assert.ok(Object.isFrozen(answer.headers));
  assert.equal(answer.headers['access-control-allow-headers'], 'x-h0');
  for (let i = 1; i < 256; i++) ask(`x-h${i}`);
  assert.equal(ask('x-h255').headers, ask('x-h255').headers, 'the 256th answer is remembered');
  const beyond = ask('x-h256');
  assert.equal(beyond.headers['access-control-allow-headers'], 'x-h256', 'past the bound: still the right answer');
  assert.notEqual(ask('x-h256').headers, beyond.headers, 'past the bound: not remembered');
  const long = `x-${'a'.repeat(520)}`;
  const chain2 = [handler].slice();
  const ask2 = () =>
    preflightResponse(chain2, { method: 'OPTIONS', path: '/', query: '', body: null, ipAddress: '', protocol: 'http', host: '', headers: { origin: 'https://a.example', 'access-control-request-method': 'GET', 'access-control-request-headers': long } });
  assert.equal(ask2().headers['access-control-allow-headers'], long);
  assert.notEqual(ask2().headers, ask2().headers, 'a key over 512 characters is not remembered');
});

test('preflightResponse: skips non-cors handlers; with no cors it is an empty 200, as decideCors\'s no-cors', () => {
  const [handler] = compileForTest(`\n<cors>${origins('https://app.example.com')}${headers('x-a')}</cors>`, def);
  assert.ok(handler !== undefined);
  const other: PolicyHandler = { name: 'ip-filter', location: handler.location, scope: 'global', policyId: undefined, run: () => undefined };
  const response = preflightResponse([other, handler], {
    method: 'OPTIONS', path: '/api/x', query: '', body: null, ipAddress: '127.0.0.1', protocol: 'http', host: 'gw',
    headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST', 'access-control-request-headers': 'x-a' },
  });
  assert.deepEqual(response, {
    status: 200,
    statusText: 'OK',
    body: null,
    headers: {
      'access-control-allow-origin': 'https://app.example.com',
      'access-control-allow-methods': 'GET, POST',
      'access-control-allow-headers': 'x-a',
      vary: 'Origin',
    },
  });
  const none = preflightResponse([other], { method: 'OPTIONS', path: '/', query: '', body: null, ipAddress: '', protocol: 'http', host: '', headers: { origin: 'https://a', 'access-control-request-method': 'GET' } });
  assert.deepEqual(none, { status: 200, statusText: 'OK', headers: {}, body: null });
  assert.equal(decideCors([], preflight('https://a', 'GET', undefined)).kind, 'no-cors');
});

test('applyCorsToGatewayError (compat.corsOnGatewayErrors): the first cors decorates a gateway 404/401 as an actual request', () => {
  const [handler] = compileForTest(`\n<cors allow-credentials="true">${origins('https://app.example.com')}${headers('*')}</cors>`, def);
  assert.ok(handler !== undefined);
  const other: PolicyHandler = { name: 'ip-filter', location: handler.location, scope: 'global', policyId: undefined, run: () => undefined };
  const request = (origin: string, method = 'GET') => ({ method, path: '/api/x', query: '', body: null, ipAddress: '', protocol: 'http' as const, host: 'gw', headers: { origin, 'access-control-request-method': 'PUT' } });
  const notFound = { status: 404, body: '{"statusCode":404,"message":"Resource not found"}', headers: { 'content-type': 'application/json; charset=utf-8' } as Record<string, string> };
  const decided = applyCorsToGatewayError([other, handler], request('https://app.example.com', 'OPTIONS'), notFound);
  assert.equal(decided?.kind, 'actual-headers');
  assert.deepEqual(notFound.headers, {
    'content-type': 'application/json; charset=utf-8',
    'access-control-allow-origin': 'https://app.example.com',
    'access-control-allow-credentials': 'true',
    vary: 'Origin',
  });
  const unauthorized = { status: 401, body: null, headers: {} as Record<string, string> };
  assert.equal(applyCorsToGatewayError([handler], request('https://evil.example'), unauthorized)?.kind, 'no-cors');
  assert.deepEqual(unauthorized.headers, { vary: 'Origin' });
  assert.equal(applyCorsToGatewayError([other], request('https://app.example.com'), { status: 404, body: null, headers: {} }), undefined);
});

test('applyCorsHeaders: ours replace the backend\'s CORS headers; Vary merged without duplicates', () => {
  const response = { status: 200, body: null, headers: { 'access-control-allow-origin': '*', 'access-control-allow-credentials': 'false', 'access-control-expose-headers': 'x-internal', vary: 'Accept-Encoding, origin', 'content-type': 'text/plain' } };
  applyCorsHeaders(response, decideCors([PORTAL], actual('GET', 'https://portal.example.net')));
  assert.deepEqual(response.headers, {
    'access-control-allow-origin': 'https://portal.example.net',
    'access-control-allow-credentials': 'true',
    'access-control-expose-headers': '*',
    vary: 'Accept-Encoding, origin',
    'content-type': 'text/plain',
  });
});

test('applyCorsHeaders for an unmatched request adds only Vary and leaves the backend\'s headers alone', () => {
  const response = { status: 200, body: null, headers: { 'access-control-allow-origin': 'https://backend-choice.example' } as Record<string, string> };
  applyCorsHeaders(response, decideCors([LIST], actual('POST', 'https://evil.example')));
  assert.deepEqual(response.headers, { 'access-control-allow-origin': 'https://backend-choice.example', vary: 'Origin' });
});

test('Vary merge on apply: absent, present, case-insensitive, list form, *', () => {
  const noOrigin = decideCors([LIST], actual('GET', undefined));
  const cases: [string | string[] | undefined, string][] = [
    [undefined, 'Origin'],
    ['', 'Origin'],
    ['Accept-Encoding', 'Accept-Encoding, Origin'],
    ['ORIGIN', 'ORIGIN'],
    [['Accept', 'Accept-Language'], 'Accept, Accept-Language, Origin'],
    ['*', '*'],
  ];
  for (const [before, after] of cases) {
    const response = { status: 200, body: null, headers: { vary: before } };
    applyCorsHeaders(response, noOrigin);
    assert.equal(response.headers.vary, after, JSON.stringify(before));
  }
  const echoed = { status: 200, body: null, headers: { vary: 'origin' } };
  applyCorsHeaders(echoed, decideCors([PORTAL], preflight('https://portal.example.net', 'PUT')));
  assert.equal(echoed.headers.vary, 'origin, Access-Control-Request-Method');
});

test('explainCorsDecision names the cors by file:line:column and scope, the allowed list and the outcome', () => {
  const global = cors(' terminate-unmatched-request="false"', origins('https://a.example', 'https://b.example') + headers('*'), { file: 'policy.xml' });
  const lines = explainCorsDecision(decideCors([global], preflight('https://evil.example', 'PUT')));
  assert.deepEqual(lines, [
    'cors at policy.xml:2:1 (api): origin "https://evil.example" is not allowed (allowed: https://a.example, https://b.example)',
    'cors at policy.xml:2:1 (api): method PUT is not allowed (allowed: GET, POST, the APIM default without <allowed-methods>)',
    'cors at policy.xml:2:1 (api): terminate-unmatched-request is false (written): trying the next top-level <cors>',
    'gatehouse: no further top-level <cors> to try: empty 200, no CORS headers',
  ]);
});

test('compiled cors is frozen, lists precomputed', () => {
  assert.ok(Object.isFrozen(LIST));
  assert.ok(Object.isFrozen(LIST.fixed));
  assert.deepEqual([...LIST.origins], ['https://app.example.com', 'http://localhost:4200']);
  assert.deepEqual([...LIST.headers], ['content-type', 'x-api-key']);
  assert.deepEqual([...LIST.methods], ['GET', 'PUT', 'PATCH']);
});
