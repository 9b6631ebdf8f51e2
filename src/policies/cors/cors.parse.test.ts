import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { parseForTest } from '../../policy/testing.ts';
import { corsPolicy } from './cors.ts';
import type { CorsConfig } from './compiled.ts';

// Snippets start with a newline so <cors> sits on line 2 and columns are the author's
// (parseForTest wraps the snippet in <test-root> on line 1).
function parse(xml: string, options: { section?: 'inbound' | 'outbound' } = {}) {
  const r = parseForTest<CorsConfig>(xml, corsPolicy, options);
  return { config: r.config, diagnostics: r.diagnostics.map((d) => `${d.code} ${d.severity} ${d.location?.line}:${d.location?.column}`), raw: r.diagnostics };
}

const HEADERS = '<allowed-headers><header>*</header></allowed-headers>';
const cors = (origins: string, extra = HEADERS, attrs = '') => `\n<cors${attrs}>\n  <allowed-origins>${origins}</allowed-origins>\n  ${extra}\n</cors>`;
const origin = (o: string) => `<origin>${o}</origin>`;

// ── Origins: normalisation and APIM's rejection rule ──────────────────────────────────────────
const ORIGIN_OK: [string, string, string][] = [
  ['trailing slash (APIM docs example)', 'http://localhost:8080/', 'http://localhost:8080'],
  ['uppercase host (real file 092)', 'https://Custom-api-level2-democonference.azure-api.net', 'https://custom-api-level2-democonference.azure-api.net'],
  ['trailing space inside <origin> (real file 137)', 'https://colors-web.azurewebsites.net ', 'https://colors-web.azurewebsites.net'],
  ['uppercase scheme', 'HTTPS://example.com', 'https://example.com'],
  ['default https port dropped', 'https://example.com:443', 'https://example.com'],
  ['default http port dropped', 'http://example.com:80/', 'http://example.com'],
  ['non-default port kept', 'https://example.com:8443', 'https://example.com:8443'],
  ['http on 443 is not a default port', 'http://example.com:443', 'http://example.com:443'],
  ['IDN to punycode, as browsers send it', 'https://bücher.example', 'https://xn--bcher-kva.example'],
  ['IPv6 literal', 'http://[::1]:3000', 'http://[::1]:3000'],
  ['IPv4 address', 'http://127.0.0.1:5173', 'http://127.0.0.1:5173'],
  ['hybrid app scheme', 'capacitor://LocalHost', 'capacitor://localhost'],
];
for (const [name, input, expected] of ORIGIN_OK) {
  test(`origin accepted: ${name}`, () => {
    const r = parse(cors(origin(input)));
    assert.deepEqual(r.diagnostics, []);
    assert.deepEqual(r.config?.origins, [expected]);
  });
}

// <origin> text starts at line 3, column 22 in every case below.
const ORIGIN_BAD: [string, string, RegExp][] = [
  ['wildcard subdomain (APIM rejects, portal#2690)', 'https://*.azurewebsites.net', /wildcard hosts/],
  ['path', 'https://example.com/app', /path, query or fragment/],
  ['query', 'https://example.com?x=1', /path, query or fragment/],
  ['empty query', 'https://example.com/?', /path, query or fragment/],
  ['fragment', 'https://example.com/#top', /path, query or fragment/],
  ['userinfo', 'https://user:pw@example.com', /user information/],
  ['no scheme', 'example.com', /absolute URL/],
  ['scheme without //', 'https:example.com', /absolute URL/],
  ['null', 'null', /absolute URL/],
  ['quoted', '"https://example.com"', /quotation marks/],
  ['unsubstituted named value', 'https://{{ValidatorSubdomain}}.iatistandard.org/', /named value/],
  ['policy expression (APIM allows none in <origin>)', '@(context.Request.Headers.GetValueOrDefault("Origin",""))', /policy expressions/],
  ['port out of range', 'https://example.com:99999', /not a valid host/],
  ['percent-escaped host', 'https://ex%61mple.com', /not a valid host/],
  ['empty label', 'https://a..example.com', /not a valid host name/],
];
for (const [name, input, problem] of ORIGIN_BAD) {
  test(`origin rejected with APIM's message: ${name}`, () => {
    const r = parse(cors(origin(input)));
    assert.deepEqual(r.diagnostics, ['GH_CORS_ORIGIN_INVALID error 3:28']);
    const message = r.raw[0]?.message ?? '';
    assert.ok(message.startsWith('Origin must be a valid URL consisting of scheme, host, and port only: '), message);
    assert.match(message, problem);
    assert.equal(r.config, undefined);
  });
}

test('an empty <origin/> is rejected at the element', () => {
  const r = parse(cors('<origin/>'));
  assert.deepEqual(r.diagnostics, ['GH_CORS_ORIGIN_INVALID error 3:20']);
});

test('origins are de-duplicated after normalisation, order kept', () => {
  const r = parse(cors(origin('https://b.example') + origin('https://a.example:443/') + origin('HTTPS://A.EXAMPLE')));
  assert.deepEqual(r.config?.origins, ['https://b.example', 'https://a.example']);
});

test('every bad origin is reported, not just the first', () => {
  const r = parse(`\n<cors>\n  <allowed-origins>\n    <origin>https://*.a.com</origin>\n    <origin>https://ok.com</origin>\n    <origin>https://b.com/x</origin>\n  </allowed-origins>\n  ${HEADERS}\n</cors>`);
  assert.deepEqual(r.diagnostics, ['GH_CORS_ORIGIN_INVALID error 4:13', 'GH_CORS_ORIGIN_INVALID error 6:13']);
});

// ── `*` origin rules ──────────────────────────────────────────────────────────────────────────
test('* alone without credentials: any origin, no diagnostic', () => {
  const r = parse(cors(origin('*')));
  assert.deepEqual(r.diagnostics, []);
  assert.equal(r.config?.origins, '*');
  assert.equal(r.config?.allowCredentials, false);
});

test('* with allow-credentials="true" is a warning at the *', () => {
  const r = parse(cors(origin('*'), HEADERS, ' allow-credentials="true"'));
  assert.deepEqual(r.diagnostics, ['GH_CORS_WILDCARD_CREDENTIALS warning 3:28']);
  assert.equal(r.config?.origins, '*');
  assert.equal(r.config?.allowCredentials, true);
});

test('* mixed with other origins is an error', () => {
  const r = parse(cors(origin('https://a.com') + origin('*')));
  assert.deepEqual(r.diagnostics, ['GH_CORS_WILDCARD_MIXED error 3:58']);
  assert.equal(r.config, undefined);
});

// ── Children, order, required parts ───────────────────────────────────────────────────────────
test('children in any order give the same config (toolkit writes allowed-headers first)', () => {
  const documented = `\n<cors allow-credentials="true">\n<allowed-origins><origin>https://a.com</origin></allowed-origins>\n<allowed-methods preflight-result-max-age="300"><method>GET</method><method>PUT</method></allowed-methods>\n<allowed-headers><header>X-Api-Key</header></allowed-headers>\n<expose-headers><header>X-Total</header></expose-headers>\n</cors>`;
  const shuffled = `\n<cors allow-credentials="true">\n<expose-headers><header>X-Total</header></expose-headers>\n<allowed-headers><header>X-Api-Key</header></allowed-headers>\n<allowed-methods preflight-result-max-age="300"><method>GET</method><method>PUT</method></allowed-methods>\n<allowed-origins><origin>https://a.com</origin></allowed-origins>\n</cors>`;
  const a = parse(documented);
  const b = parse(shuffled);
  assert.deepEqual(a.diagnostics, []);
  assert.deepEqual(b.diagnostics, []);
  assert.deepEqual(a.config, {
    allowCredentials: true,
    terminateUnmatchedRequest: 'unset',
    origins: ['https://a.com'],
    methods: ['GET', 'PUT'],
    methodsDefaulted: false,
    maxAge: 300,
    headers: ['X-Api-Key'],
    exposeHeaders: ['X-Total'],
  });
  assert.deepEqual(b.config, a.config);
});

test('real-world shape without <allowed-headers> (files 010, 052): warning at <cors>, defaults GET/POST', () => {
  const r = parse(`\n<cors>\n  <allowed-origins>\n    <origin>https://dev-ds.iatistandard.org/</origin>\n  </allowed-origins>\n</cors>`);
  assert.deepEqual(r.diagnostics, ['GH_CORS_ALLOWED_HEADERS_MISSING warning 2:1']);
  assert.deepEqual(r.config, {
    allowCredentials: false,
    terminateUnmatchedRequest: 'unset',
    origins: ['https://dev-ds.iatistandard.org'],
    methods: ['GET', 'POST'],
    methodsDefaulted: true,
    maxAge: undefined,
    headers: undefined,
    exposeHeaders: [],
  });
});

test('missing <allowed-origins> is an error at <cors>', () => {
  const r = parse(`\n<cors>\n  ${HEADERS}\n</cors>`);
  assert.deepEqual(r.diagnostics, ['GH_POLICY_CHILD_REQUIRED error 2:1']);
  assert.equal(r.config, undefined);
});

const STRUCTURE_BAD: [string, string, string[]][] = [
  ['unknown child (misspelt)', cors(origin('https://a.com'), `${HEADERS}<allowed-origin/>`), ['GH_POLICY_CHILD_INVALID error 4:56']],
  ['duplicate child', cors(origin('https://a.com'), `${HEADERS}${HEADERS}`), ['GH_POLICY_CHILD_INVALID error 4:56']],
  ['wrong element inside allowed-origins', cors('<url>https://a.com</url>'), ['GH_POLICY_CHILD_INVALID error 3:20', 'GH_CORS_LIST_EMPTY error 3:3']],
  ['text directly in <cors>', `\n<cors>\n  oops\n  <allowed-origins>${origin('https://a.com')}</allowed-origins>${HEADERS}\n</cors>`, ['GH_POLICY_TEXT_UNEXPECTED error 3:3']],
  ['element inside <origin>', cors('<origin><b/>https://a.com</origin>'), ['GH_POLICY_CHILD_INVALID error 3:28']],
  ['empty allowed-origins', cors(''), ['GH_CORS_LIST_EMPTY error 3:3']],
  ['empty allowed-methods', cors(origin('https://a.com'), `${HEADERS}<allowed-methods></allowed-methods>`), ['GH_CORS_LIST_EMPTY error 4:56']],
  ['empty allowed-headers', cors(origin('https://a.com'), '<allowed-headers/>'), ['GH_CORS_LIST_EMPTY error 4:3']],
  ['empty expose-headers', cors(origin('https://a.com'), `${HEADERS}<expose-headers>\n  </expose-headers>`), ['GH_CORS_LIST_EMPTY error 4:56']],
];
for (const [name, xml, expected] of STRUCTURE_BAD) {
  test(`structure: ${name}`, () => {
    const r = parse(xml);
    assert.deepEqual(r.diagnostics, expected);
    assert.equal(r.config, undefined);
  });
}

test('unknown attribute is a warning and the config still loads', () => {
  const r = parse(cors(origin('https://a.com'), HEADERS, ' allow-credential="true"'));
  assert.deepEqual(r.diagnostics, ['GH_POLICY_ATTR_UNKNOWN warning 2:7']);
  assert.equal(r.config?.allowCredentials, false);
});

test('the id attribute every policy may carry is accepted', () => {
  const r = parse(cors(origin('https://a.com'), HEADERS, ' id="cors-1"'));
  assert.deepEqual(r.diagnostics, []);
});

// ── Attributes ────────────────────────────────────────────────────────────────────────────────
test('booleans: absent, true, false, True (bool.Parse ignores case)', () => {
  assert.equal(parse(cors(origin('https://a.com'))).config?.terminateUnmatchedRequest, 'unset');
  assert.equal(parse(cors(origin('https://a.com'), HEADERS, ' terminate-unmatched-request="false"')).config?.terminateUnmatchedRequest, false);
  assert.equal(parse(cors(origin('https://a.com'), HEADERS, ' terminate-unmatched-request="true"')).config?.terminateUnmatchedRequest, true);
  assert.equal(parse(cors(origin('https://a.com'), HEADERS, ' allow-credentials="True"')).config?.allowCredentials, true);
  assert.equal(parse(cors(origin('https://a.com'), HEADERS, ' allow-credentials=" false "')).config?.allowCredentials, false);
});

test('a boolean that is not true/false is an error at the value', () => {
  const r = parse(cors(origin('https://a.com'), HEADERS, ' allow-credentials="yes"'));
  assert.deepEqual(r.diagnostics, ['GH_POLICY_ATTR_INVALID error 2:26']);
});

const EXPRESSIONS: [string, string, string][] = [
  ['allow-credentials', cors(origin('https://a.com'), HEADERS, ' allow-credentials="@(true)"'), '2:26'],
  ['terminate-unmatched-request', cors(origin('https://a.com'), HEADERS, ' terminate-unmatched-request="@(false)"'), '2:36'],
  ['preflight-result-max-age', cors(origin('https://a.com'), `${HEADERS}\n<allowed-methods preflight-result-max-age="@(300)"><method>GET</method></allowed-methods>`), '5:44'],
  ['method', cors(origin('https://a.com'), `${HEADERS}\n<allowed-methods><method>@(context.Request.Method)</method></allowed-methods>`), '5:26'],
];
for (const [where, xml, position] of EXPRESSIONS) {
  test(`expression in ${where} (APIM allows one there) → GH_POLICY_EXPRESSION_UNSUPPORTED`, () => {
    const r = parse(xml);
    assert.deepEqual(r.diagnostics, [`GH_POLICY_EXPRESSION_UNSUPPORTED error ${position}`]);
    assert.equal(r.config, undefined);
  });
}

test('expression in <header> (APIM allows none) → GH_CORS_HEADER_INVALID with a hint', () => {
  const r = parse(cors(origin('https://a.com'), '<allowed-headers><header>@(context.Variables["h"])</header></allowed-headers>'));
  assert.deepEqual(r.diagnostics, ['GH_CORS_HEADER_INVALID error 4:28']);
  assert.match(r.raw[0]?.message ?? '', /does not allow policy expressions in <header>/);
});

const MAX_AGE: [string, number | string][] = [
  ['0', 0],
  ['300', 300],
  [' 86400 ', 86400],
  ['007', 7],
  ['2147483647', 2147483647],
  ['-1', 'GH_CORS_MAX_AGE_INVALID error 4:99'],
  ['1.5', 'GH_CORS_MAX_AGE_INVALID error 4:99'],
  ['abc', 'GH_CORS_MAX_AGE_INVALID error 4:99'],
  ['', 'GH_CORS_MAX_AGE_INVALID error 4:99'],
  ['2147483648', 'GH_CORS_MAX_AGE_INVALID error 4:99'],
];
for (const [value, expected] of MAX_AGE) {
  test(`preflight-result-max-age="${value}"`, () => {
    const r = parse(cors(origin('https://a.com'), `${HEADERS}<allowed-methods preflight-result-max-age="${value}"><method>GET</method></allowed-methods>`));
    if (typeof expected === 'number') {
      assert.deepEqual(r.diagnostics, []);
      assert.equal(r.config?.maxAge, expected);
    } else {
      assert.deepEqual(r.diagnostics, [expected]);
    }
  });
}

// ── Methods and headers ───────────────────────────────────────────────────────────────────────
test('methods are upper-cased and de-duplicated; * collapses the list', () => {
  assert.deepEqual(parse(cors(origin('https://a.com'), `${HEADERS}<allowed-methods><method>get</method><method>patch</method><method>GET</method></allowed-methods>`)).config?.methods, ['GET', 'PATCH']);
  const star = parse(cors(origin('https://a.com'), `${HEADERS}<allowed-methods><method>*</method></allowed-methods>`));
  assert.equal(star.config?.methods, '*');
  assert.deepEqual(star.diagnostics, []);
});

test('* beside other methods or headers is a warning (redundant), and * wins', () => {
  const r = parse(cors(origin('https://a.com'), '<allowed-headers><header>x-a</header><header>*</header></allowed-headers>\n<allowed-methods><method>GET</method><method>*</method></allowed-methods>'));
  assert.deepEqual(r.diagnostics, ['GH_CORS_WILDCARD_MIXED warning 5:46', 'GH_CORS_WILDCARD_MIXED warning 4:48']);
  assert.equal(r.config?.headers, '*');
  assert.equal(r.config?.methods, '*');
});

test('invalid method and header names', () => {
  const r = parse(cors(origin('https://a.com'), '<allowed-headers><header>x foo</header><header></header></allowed-headers>\n<allowed-methods><method>GET, POST</method></allowed-methods>'));
  assert.deepEqual(r.diagnostics, ['GH_CORS_METHOD_INVALID error 5:26', 'GH_CORS_HEADER_INVALID error 4:28', 'GH_CORS_HEADER_INVALID error 4:42']);
});

test('headers keep their spelling, de-duplicated case-insensitively; expose-headers keeps * literally', () => {
  const r = parse(cors(origin('https://a.com'), '<allowed-headers><header>Content-Type</header><header>content-type</header><header>Ocp-Apim-Subscription-Key</header></allowed-headers><expose-headers><header>*</header><header>X-Total</header></expose-headers>'));
  assert.deepEqual(r.diagnostics, []);
  assert.deepEqual(r.config?.headers, ['Content-Type', 'Ocp-Apim-Subscription-Key']);
  assert.deepEqual(r.config?.exposeHeaders, ['*', 'X-Total']);
});

test('expose-headers * with credentials is a warning (Fetch reads it literally)', () => {
  const r = parse(cors(origin('https://a.com'), `${HEADERS}<expose-headers><header>*</header></expose-headers>`, ' allow-credentials="true"'));
  assert.deepEqual(r.diagnostics, ['GH_CORS_WILDCARD_CREDENTIALS warning 4:80']);
  assert.deepEqual(r.config?.exposeHeaders, ['*']);
});

// ── Where cors may appear (framework checks, with the cors definition) ─────────────────────────
test('cors is inbound only and once per section', () => {
  assert.deepEqual(parse(cors(origin('https://a.com')), { section: 'outbound' }).diagnostics, ['GH_POLICY_SECTION_NOT_ALLOWED error 2:1']);
  const twice = parse(cors(origin('https://a.com')) + cors(origin('https://b.com')));
  assert.deepEqual(twice.diagnostics, ['GH_POLICY_ONCE_PER_SECTION error 6:1']);
});

// ── The real-world collection ─────────────────────────────────────────────────────────────────
test('every <cors> in the real-policy fixtures parses as APIM would take it', (t) => {
  const dir = new URL('../../../../shared/fixtures/real-policies/', import.meta.url);
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.xml'));
  } catch {
    t.skip('the shared fixture folder (../shared/fixtures/real-policies) is not present in this checkout');
    return;
  }
  const outcome: Record<string, string[]> = {};
  for (const file of files) {
    const text = readFileSync(new URL(file, dir), 'utf8');
    const match = /<cors[\s>][\s\S]*?<\/cors>/.exec(text);
    if (match === null || /\$\{|%\{/.test(match[0])) continue; // Terraform templates are not loadable as they are
    const r = parseForTest<CorsConfig>(match[0], corsPolicy);
    const codes = r.diagnostics.filter((d) => d.severity === 'error').map((d) => d.code);
    if (codes.length > 0) outcome[file] = codes;
    else assert.notEqual(r.config, undefined, file);
  }
  // 011: {{named values}} inside the host (substituted by the loader, raw here);
  // 113: wildcard subdomains, which APIM rejects (portal#2690).
  assert.deepEqual(outcome, {
    '011.xml': ['GH_CORS_ORIGIN_INVALID', 'GH_CORS_ORIGIN_INVALID', 'GH_CORS_ORIGIN_INVALID'],
    '016.xml': ['GH_CORS_ORIGIN_INVALID'],
    '113.xml': ['GH_CORS_ORIGIN_INVALID', 'GH_CORS_ORIGIN_INVALID'],
  });
});
