import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileForTest, parseForTest } from '../../policy/testing.ts';
import type { ScopeKind } from '../../policy/define-policy.ts';
import { createTestContext } from '../../pipeline/testing.ts';
import type { PolicyHandler } from '../../pipeline/handler.ts';
import { crossDomainPolicy, crossDomainResponder, escapeXml, isCrossDomainHandler, serializeCrossDomainPolicy, type CrossDomainConfig } from './cross-domain.ts';

// Snippets start with a newline so that, from line 2 on, line:column is the user's own.
const wrap = (inner: string) => `\n<cross-domain>\n  <cross-domain-policy>\n${inner}\n  </cross-domain-policy>\n</cross-domain>`;

function parse(xml: string, scope: ScopeKind = 'global') {
  return parseForTest<CrossDomainConfig>(xml, crossDomainPolicy, { section: 'inbound', scope });
}

const BAD: ReadonlyArray<{ name: string; xml: string; scope?: ScopeKind; expect: ReadonlyArray<readonly [string, number, number]> }> = [
  { name: 'product scope', xml: wrap('    <allow-access-from domain="*"/>'), scope: 'product', expect: [['GH_POLICY_SCOPE_NOT_ALLOWED', 2, 1]] },
  { name: 'api scope', xml: wrap('    <allow-access-from domain="*"/>'), scope: 'api', expect: [['GH_POLICY_SCOPE_NOT_ALLOWED', 2, 1]] },
  { name: 'operation scope', xml: wrap('    <allow-access-from domain="*"/>'), scope: 'operation', expect: [['GH_POLICY_SCOPE_NOT_ALLOWED', 2, 1]] },
  { name: 'workspace scope', xml: wrap('    <allow-access-from domain="*"/>'), scope: 'workspace', expect: [['GH_POLICY_SCOPE_NOT_ALLOWED', 2, 1]] },
  { name: 'empty <cross-domain>', xml: '\n<cross-domain />', expect: [['GH_POLICY_CHILD_REQUIRED', 2, 1]] },
  { name: 'the 2017 doubled <cross-domain>', xml: '\n<cross-domain>\n  <cross-domain>\n    <allow-access-from domain="*"/>\n  </cross-domain>\n</cross-domain>', expect: [['GH_POLICY_CHILD_INVALID', 3, 3]] },
  { name: 'policy elements without <cross-domain-policy>', xml: '\n<cross-domain>\n  <allow-access-from domain="*"/>\n</cross-domain>', expect: [['GH_POLICY_CHILD_INVALID', 3, 3]] },
  { name: 'two <cross-domain-policy>', xml: '\n<cross-domain>\n  <cross-domain-policy/>\n  <cross-domain-policy/>\n</cross-domain>', expect: [['GH_POLICY_CHILD_INVALID', 4, 3]] },
  { name: 'unknown element', xml: wrap('    <allow-everything domain="*"/>'), expect: [['GH_POLICY_CHILD_INVALID', 4, 5]] },
  { name: 'policy-file-request (socket only)', xml: wrap('    <policy-file-request/>'), expect: [['GH_POLICY_CHILD_INVALID', 4, 5]] },
  { name: 'domain missing', xml: wrap('    <allow-access-from secure="false"/>'), expect: [['GH_POLICY_ATTR_REQUIRED', 4, 5]] },
  { name: 'domain with scheme', xml: wrap('    <allow-access-from domain="https://example.com"/>'), expect: [['GH_POLICY_ATTR_INVALID', 4, 32]] },
  { name: 'domain with port', xml: wrap('    <allow-access-from domain="example.com:8080"/>'), expect: [['GH_POLICY_ATTR_INVALID', 4, 32]] },
  { name: 'wildcard in the middle', xml: wrap('    <allow-access-from domain="www.*.com"/>'), expect: [['GH_POLICY_ATTR_INVALID', 4, 32]] },
  { name: 'wildcard IP', xml: wrap('    <allow-access-from domain="*.0.0.1"/>'), expect: [['GH_POLICY_ATTR_INVALID', 4, 32]] },
  { name: 'markup in domain', xml: wrap('    <allow-access-from domain="a&quot;/&gt;&lt;x"/>'), expect: [['GH_POLICY_ATTR_INVALID', 4, 32]] },
  { name: 'secure not boolean', xml: wrap('    <allow-access-from domain="*" secure="no"/>'), expect: [['GH_POLICY_ATTR_INVALID', 4, 43]] },
  { name: 'to-ports out of range', xml: wrap('    <allow-access-from domain="*" to-ports="80,70000"/>'), expect: [['GH_POLICY_ATTR_INVALID', 4, 45]] },
  { name: 'to-ports reversed range', xml: wrap('    <allow-access-from domain="*" to-ports="600-500"/>'), expect: [['GH_POLICY_ATTR_INVALID', 4, 45]] },
  { name: 'site-control value', xml: wrap('    <site-control permitted-cross-domain-policies="some"/>'), expect: [['GH_POLICY_ATTR_INVALID', 4, 52]] },
  { name: 'site-control missing value', xml: wrap('    <site-control/>'), expect: [['GH_POLICY_ATTR_REQUIRED', 4, 5]] },
  { name: 'site-control twice', xml: wrap('    <site-control permitted-cross-domain-policies="none"/>\n    <site-control permitted-cross-domain-policies="all"/>'), expect: [['GH_POLICY_CHILD_INVALID', 5, 5]] },
  { name: 'headers missing', xml: wrap('    <allow-http-request-headers-from domain="*"/>'), expect: [['GH_POLICY_ATTR_REQUIRED', 4, 5]] },
  { name: 'headers with a space inside a name', xml: wrap('    <allow-http-request-headers-from domain="*" headers="X Foo"/>'), expect: [['GH_POLICY_ATTR_INVALID', 4, 58]] },
  { name: 'headers with an inner wildcard', xml: wrap('    <allow-http-request-headers-from domain="*" headers="X-*-Foo"/>'), expect: [['GH_POLICY_ATTR_INVALID', 4, 58]] },
  { name: 'headers with an empty item', xml: wrap('    <allow-http-request-headers-from domain="*" headers="A,,B"/>'), expect: [['GH_POLICY_ATTR_INVALID', 4, 58]] },
  { name: 'child in an empty element', xml: wrap('    <allow-access-from domain="*"><x/></allow-access-from>'), expect: [['GH_POLICY_CHILD_INVALID', 4, 35]] },
  { name: 'identity without signatory', xml: wrap('    <allow-access-from-identity/>'), expect: [['GH_POLICY_CHILD_REQUIRED', 4, 5]] },
  { name: 'identity without certificate', xml: wrap('    <allow-access-from-identity><signatory/></allow-access-from-identity>'), expect: [['GH_POLICY_CHILD_REQUIRED', 4, 33]] },
  {
    name: 'identity with a bad fingerprint and algorithm',
    xml: wrap('    <allow-access-from-identity><signatory><certificate fingerprint="01:23" fingerprint-algorithm="md5"/></signatory></allow-access-from-identity>'),
    expect: [['GH_POLICY_ATTR_INVALID', 4, 70], ['GH_POLICY_ATTR_INVALID', 4, 100]],
  },
  { name: 'expression in an attribute', xml: wrap('    <allow-access-from domain="@(context.Variables[&quot;d&quot;])"/>'), expect: [['GH_POLICY_EXPRESSION_UNSUPPORTED', 4, 32]] },
  {
    name: 'every problem is reported at once',
    xml: wrap('    <allow-access-from domain="http://a"/>\n    <unknown/>\n    <allow-http-request-headers-from domain="*" headers="a b"/>'),
    expect: [['GH_POLICY_ATTR_INVALID', 4, 32], ['GH_POLICY_CHILD_INVALID', 5, 5], ['GH_POLICY_ATTR_INVALID', 6, 58]],
  },
];

for (const c of BAD) {
  test(`parse rejects: ${c.name}`, () => {
    const result = parse(c.xml, c.scope);
    assert.equal(result.config, undefined);
    assert.deepEqual(
      result.diagnostics.filter((d) => d.severity === 'error').map((d) => [d.code, d.location?.line, d.location?.column]),
      c.expect,
    );
  });
}

test('parse: the APIM example', () => {
  const result = parse("\n<cross-domain>\n    <cross-domain-policy>\n        <allow-http-request-headers-from domain='*' headers='*' />\n    </cross-domain-policy>\n</cross-domain>");
  assert.deepEqual(result.diagnostics, []);
  assert.deepEqual(result.config, { siteControl: undefined, allowAccessFrom: [], allowHttpRequestHeadersFrom: [{ domain: '*', headers: '*', secure: undefined }], allowAccessFromIdentity: [] });
});

const FULL = wrap(
  [
    '    <allow-access-from domain="*.example.com" />',
    '    <site-control permitted-cross-domain-policies="master-only"/>',
    '    <allow-http-request-headers-from domain="www.example.com" headers="SOAPAction, X-Foo-*" secure="false"/>',
    '    <allow-access-from domain="105.216.0.40" to-ports="507,516-523" secure="true"/>',
    '    <allow-access-from domain="2001:db8::1"/>',
    '    <allow-access-from-identity>',
    '      <signatory>',
    '        <certificate fingerprint="01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67" fingerprint-algorithm="sha-1"/>',
    '      </signatory>',
    '    </allow-access-from-identity>',
  ].join('\n'),
);

test('parse: every element and attribute of the specification', () => {
  const result = parse(FULL);
  assert.deepEqual(result.diagnostics, []);
  assert.deepEqual(result.config, {
    siteControl: 'master-only',
    allowAccessFrom: [
      { domain: '*.example.com', toPorts: undefined, secure: undefined },
      { domain: '105.216.0.40', toPorts: '507,516-523', secure: true },
      { domain: '2001:db8::1', toPorts: undefined, secure: undefined },
    ],
    allowHttpRequestHeadersFrom: [{ domain: 'www.example.com', headers: 'SOAPAction, X-Foo-*', secure: false }],
    allowAccessFromIdentity: [{ fingerprint: '01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67', fingerprintAlgorithm: 'sha-1' }],
  });
});

test('parse: an empty policy file is valid (it grants nothing)', () => {
  const result = parse('<cross-domain><cross-domain-policy/></cross-domain>');
  assert.deepEqual(result.diagnostics, []);
  assert.deepEqual(result.config, { siteControl: undefined, allowAccessFrom: [], allowHttpRequestHeadersFrom: [], allowAccessFromIdentity: [] });
});

test('parse: unknown attributes inside the file are warnings with positions, and are dropped', () => {
  const result = parse(wrap('    <allow-access-from domain="*" id="x" ports="80"/>'));
  assert.deepEqual(result.diagnostics.map((d) => [d.code, d.severity, d.location?.line, d.location?.column]), [
    ['GH_POLICY_ATTR_UNKNOWN', 'warning', 4, 35],
    ['GH_POLICY_ATTR_UNKNOWN', 'warning', 4, 42],
  ]);
  assert.deepEqual(result.config?.allowAccessFrom, [{ domain: '*', toPorts: undefined, secure: undefined }]);
});

test('parse: stray text is a warning with its position and is not served', () => {
  const result = parse('\n<cross-domain>\n  hello\n  <cross-domain-policy>\n    <allow-access-from domain="*">yes</allow-access-from>\n  </cross-domain-policy>\n</cross-domain>');
  assert.deepEqual(result.diagnostics.map((d) => [d.code, d.severity, d.location?.line, d.location?.column]), [
    ['GH_POLICY_TEXT_UNEXPECTED', 'warning', 3, 3],
    ['GH_POLICY_TEXT_UNEXPECTED', 'warning', 5, 35],
  ]);
  assert.deepEqual(result.config?.allowAccessFrom, [{ domain: '*', toPorts: undefined, secure: undefined }]);
});

test('parse: schema attributes on the root are accepted silently', () => {
  const result = parse('<cross-domain><cross-domain-policy xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:noNamespaceSchemaLocation="http://www.adobe.com/xml/schemas/PolicyFile.xsd"/></cross-domain>');
  assert.deepEqual(result.diagnostics, []);
});

// ── Serialising ─────────────────────────────────────────────────────────────────────────────

const FULL_XML = [
  '<?xml version="1.0"?>',
  '<cross-domain-policy>',
  '  <site-control permitted-cross-domain-policies="master-only"/>',
  '  <allow-access-from domain="*.example.com"/>',
  '  <allow-access-from domain="105.216.0.40" to-ports="507,516-523" secure="true"/>',
  '  <allow-access-from domain="2001:db8::1"/>',
  '  <allow-http-request-headers-from domain="www.example.com" headers="SOAPAction, X-Foo-*" secure="false"/>',
  '  <allow-access-from-identity>',
  '    <signatory>',
  '      <certificate fingerprint="01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67" fingerprint-algorithm="sha-1"/>',
  '    </signatory>',
  '  </allow-access-from-identity>',
  '</cross-domain-policy>',
  '',
].join('\n');

test('the file is serialised once, in the DTD order, attributes in a fixed order', () => {
  const [handler] = compileForTest(FULL, crossDomainPolicy, { section: 'inbound', scope: 'global' });
  assert.ok(handler !== undefined && isCrossDomainHandler(handler));
  assert.equal(handler.crossDomain.xml, FULL_XML);
  assert.deepEqual(Buffer.from(handler.crossDomain.body), Buffer.from(FULL_XML));
});

test('an empty policy serialises as an empty <cross-domain-policy>', () => {
  assert.equal(serializeCrossDomainPolicy({ siteControl: undefined, allowAccessFrom: [], allowHttpRequestHeadersFrom: [], allowAccessFromIdentity: [] }), '<?xml version="1.0"?>\n<cross-domain-policy>\n</cross-domain-policy>\n');
});

test('attribute values are escaped (header tokens may hold & and \')', () => {
  assert.equal(escapeXml(`a&b'c"d<e>f`), 'a&amp;b&apos;c&quot;d&lt;e&gt;f');
  const [handler] = compileForTest(wrap(`    <allow-http-request-headers-from domain="*" headers="X-A&amp;B, X-'Q'"/>`), crossDomainPolicy, { section: 'inbound', scope: 'global' });
  assert.ok(handler !== undefined && isCrossDomainHandler(handler));
  assert.match(handler.crossDomain.xml, /headers="X-A&amp;B, X-&apos;Q&apos;"/);
});

// ── Serving ─────────────────────────────────────────────────────────────────────────────────

function compileGlobal(xml: string): PolicyHandler[] {
  return compileForTest(xml, crossDomainPolicy, { section: 'inbound', scope: 'global' });
}

test('crossDomainResponder answers GET /crossdomain.xml with the document', () => {
  const respond = crossDomainResponder(compileGlobal(FULL));
  assert.ok(respond !== null);
  const response = respond('GET', '/crossdomain.xml');
  assert.ok(response !== null);
  assert.equal(response.status, 200);
  assert.deepEqual(response.headers, { 'content-type': 'text/x-cross-domain-policy', 'content-length': String(Buffer.byteLength(FULL_XML)), 'x-content-type-options': 'nosniff' });
  assert.equal(Buffer.from(response.body as Uint8Array).toString(), FULL_XML);
});

test('HEAD gets the headers without the body; responses are fresh objects', () => {
  const respond = crossDomainResponder(compileGlobal(FULL));
  const head = respond?.('HEAD', '/crossdomain.xml');
  assert.equal(head?.body, null);
  assert.equal(head?.headers['content-length'], String(Buffer.byteLength(FULL_XML)));
  const a = respond?.('GET', '/crossdomain.xml');
  const b = respond?.('GET', '/crossdomain.xml');
  assert.notEqual(a?.headers, b?.headers);
});

test('every other request is left alone', () => {
  const respond = crossDomainResponder(compileGlobal(FULL));
  for (const [method, path] of [['POST', '/crossdomain.xml'], ['OPTIONS', '/crossdomain.xml'], ['GET', '/api/crossdomain.xml'], ['GET', '/CROSSDOMAIN.XML'], ['GET', '/crossdomain.xml/'], ['GET', '/clientaccesspolicy.xml'], ['GET', '/']] as const) {
    assert.equal(respond?.(method, path), null, `${method} ${path}`);
  }
});

test('no <cross-domain> at global scope: no responder at all', () => {
  assert.equal(crossDomainResponder([]), null);
});

test('with several <cross-domain> policies the first one serves the file', () => {
  const handlers = [...compileGlobal(wrap('    <allow-access-from domain="first.example"/>')), ...compileGlobal(wrap('    <allow-access-from domain="second.example"/>'))];
  const body = crossDomainResponder(handlers)?.('GET', '/crossdomain.xml')?.body as Uint8Array;
  assert.match(Buffer.from(body).toString(), /first\.example/);
  assert.doesNotMatch(Buffer.from(body).toString(), /second\.example/);
});

test('in the pipeline, run() answers /crossdomain.xml and ignores every other request', () => {
  const [handler] = compileGlobal(FULL);
  assert.ok(handler !== undefined);
  const other = createTestContext({ path: '/test/items' });
  assert.equal(handler.run(other), undefined);
  assert.equal(other.response, null);
  const ctx = createTestContext({ path: '/crossdomain.xml' });
  assert.equal(handler.run(ctx), 'respond');
  assert.equal(ctx.response?.headers['content-type'], 'text/x-cross-domain-policy');
  assert.equal(Buffer.from(ctx.response?.body as Uint8Array).toString(), FULL_XML);
});
