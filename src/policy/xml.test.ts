import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DiagnosticBag } from './diagnostics.ts';
import { getAttribute, type PolicyElement } from './element.ts';
import { EXPRESSION_TOO_DEEP, findExpressionEnd, MAX_ELEMENT_DEPTH, MAX_INTERPOLATION_DEPTH, readPolicyXml } from './xml.ts';

function read(text: string) {
  const diagnostics = new DiagnosticBag();
  const root = readPolicyXml(text, 'p.xml', diagnostics);
  return { root, diagnostics: diagnostics.items };
}

function first(root: PolicyElement | undefined, ...path: number[]): PolicyElement {
  let node = root;
  for (const i of path) node = node?.children[i];
  assert.ok(node, 'element exists');
  return node;
}

test('elements, attributes and text carry exact 1-based positions', () => {
  const { root, diagnostics } = read('<policies>\n  <inbound>\n    <set-header name="x" exists-action="override">\n      <value>v</value>\n    </set-header>\n  </inbound>\n</policies>');
  assert.deepEqual(diagnostics, []);
  const setHeader = first(root, 0, 0);
  assert.deepEqual([setHeader.location.line, setHeader.location.column], [3, 5]);
  const action = getAttribute(setHeader, 'exists-action');
  assert.deepEqual([action?.location.line, action?.location.column, action?.valueLocation.column], [3, 26, 41]);
  const value = first(setHeader, 0);
  assert.equal(value.text, 'v');
  assert.deepEqual([value.textLocation?.line, value.textLocation?.column], [4, 14]);
});

test('expressions with raw quotes, &&, < and > inside attributes read as APIM reads them', () => {
  const xml = '<policies><inbound><set-variable name="v" value="@(context.Request.Headers.GetValueOrDefault("a","") == "b" && 1 < 2 || 3 > 4)" /><x y="after"/></inbound></policies>';
  const { root, diagnostics } = read(xml);
  assert.deepEqual(diagnostics, []);
  const v = first(root, 0, 0);
  assert.equal(getAttribute(v, 'value')?.value, '@(context.Request.Headers.GetValueOrDefault("a","") == "b" && 1 < 2 || 3 > 4)');
  const x = first(root, 0, 1);
  assert.equal(getAttribute(x, 'y')?.value, 'after');
  assert.equal(x.location.column, xml.indexOf('<x ') + 1);
});

test('multi-statement expressions in text keep generics, comparisons and strings', () => {
  const body = '@{\n  var body = context.Request.Body.As<JObject>(preserveContent: true);\n  if (body["a"] != null && (int)body["n"] < 5) { return "x}"; }\n  return $"{body["a"]}-{1}";\n}';
  const { root, diagnostics } = read(`<policies><inbound><set-body>${body}</set-body></inbound></policies>`);
  assert.deepEqual(diagnostics, []);
  assert.equal(first(root, 0, 0).text, body);
});

test('XML-escaped quotes inside expressions are decoded, raw ones restored', () => {
  const { root, diagnostics } = read('<policies><inbound><set-variable name="v" value="@(context.Variables.GetValueOrDefault&lt;string&gt;(&quot;k&quot;))" /></inbound></policies>');
  assert.deepEqual(diagnostics, []);
  assert.equal(getAttribute(first(root, 0, 0), 'value')?.value, '@(context.Variables.GetValueOrDefault<string>("k"))');
});

test('single-quoted attributes with expressions and C# char literals', () => {
  const { root, diagnostics } = read(`<policies><inbound><set-variable name='v' value='@(string.Join(',', new [] {"a"}).Split('x'))' /></inbound></policies>`);
  assert.deepEqual(diagnostics, []);
  assert.equal(getAttribute(first(root, 0, 0), 'value')?.value, `@(string.Join(',', new [] {"a"}).Split('x'))`);
});

test('verbatim and interpolated strings do not end the expression early', () => {
  const text = '@(@"C:\\path "" ) " + $"{(1 > 0 ? ")" : "(")}")';
  assert.equal(findExpressionEnd(text, 0), text.length);
  const unterminated = '@(context.Request.Url';
  assert.equal(findExpressionEnd(unterminated, 0), -1);
});

test('an unterminated expression is reported at its @', () => {
  const { root, diagnostics } = read('<policies>\n<inbound>\n<set-variable name="v" value="@(context.Request.Url" />\n</inbound>\n</policies>');
  assert.equal(root, undefined);
  assert.equal(diagnostics[0]?.code, 'GH_POLICY_EXPRESSION_UNTERMINATED');
  assert.deepEqual([diagnostics[0]?.location?.line, diagnostics[0]?.location?.column], [3, 31]);
});

test('DTDs and entity declarations are refused before parsing', () => {
  const { root, diagnostics } = read('<?xml version="1.0"?>\n<!DOCTYPE policies [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n<policies>&x;</policies>');
  assert.equal(root, undefined);
  assert.equal(diagnostics.length, 1);
  assert.equal(diagnostics[0]?.code, 'GH_XML_DTD_FORBIDDEN');
  assert.equal(diagnostics[0]?.location?.line, 2);
});

test('<!DOCTYPE html> inside CDATA, a comment or an expression is text, not a DTD', () => {
  // A maintenance page returned with return-response is a common APIM pattern.
  const page = '<!DOCTYPE html><html><body>Down for maintenance</body></html>';
  const { root, diagnostics } = read(`<policies><inbound><return-response><set-body><![CDATA[${page}]]></set-body></return-response></inbound></policies>`);
  assert.deepEqual(diagnostics, []);
  assert.equal(first(root, 0, 0, 0).text, page);
  assert.deepEqual(read('<policies><!-- no <!DOCTYPE here --><inbound /></policies>').diagnostics, []);
  const expression = read('<policies><inbound><set-variable name="x" value="@(&quot;<!DOCTYPE html>&quot;)" /></inbound></policies>');
  assert.deepEqual(expression.diagnostics, []);
  assert.equal(getAttribute(first(expression.root, 0, 0), 'value')?.value, '@("<!DOCTYPE html>")');
});

test('a DTD or entity declaration anywhere in the markup is refused at its position', () => {
  for (const [text, line, column] of [
    ['<policies>\n  <!DOCTYPE x>\n</policies>', 2, 3],
    ['<policies><inbound /></policies>\n<!doctype policies>', 2, 1],
    ['<policies><!ENTITY x "y"></policies>', 1, 11],
  ] as const) {
    const { root, diagnostics } = read(text);
    assert.equal(root, undefined, text);
    assert.deepEqual(diagnostics.map((d) => [d.code, d.location?.line, d.location?.column]), [['GH_XML_DTD_FORBIDDEN', line, column]], text);
  }
});

test('undefined entities are malformed XML, never expanded', () => {
  const { root, diagnostics } = read('<policies><inbound>&ext;</inbound></policies>');
  assert.equal(root, undefined);
  assert.equal(diagnostics[0]?.code, 'GH_XML_MALFORMED');
});

test('template placeholders are named with their position, and the rest is still read', () => {
  const { root, diagnostics } = read('<policies>\n  <inbound>\n    <cors><allowed-origins><origin>${origin}</origin></allowed-origins></cors>\n%{ if x ~}\n  </inbound>\n</policies>');
  assert.ok(root, 'the document is still read');
  assert.deepEqual(diagnostics.map((d) => [d.code, d.location?.line, d.location?.column]), [
    ['GH_POLICY_TEMPLATE_PLACEHOLDER', 3, 36],
    ['GH_POLICY_TEMPLATE_PLACEHOLDER', 4, 1],
  ]);
});

test('a broken tag is malformed XML with the position where the reader stopped', () => {
  const { root, diagnostics } = read('<policies>\n  <inbound>\n    <send-requestignore-error="true" mode="new" />\n  </inbound>\n</policies>');
  assert.equal(root, undefined);
  assert.equal(diagnostics[0]?.code, 'GH_XML_MALFORMED');
  assert.equal(diagnostics[0]?.location?.line, 3);
  assert.match(diagnostics[0]?.message ?? '', /^malformed XML: /);
});

test('comments, CDATA, processing instructions and a BOM are handled', () => {
  const { root, diagnostics } = read('\uFEFF<?xml version="1.0" encoding="utf-8"?>\n<!-- c --><policies><inbound><!-- <cors> --><set-body><![CDATA[a < b]]></set-body></inbound></policies>');
  assert.deepEqual(diagnostics, []);
  const body = first(root, 0, 0);
  assert.equal(root?.children[0]?.children.length, 1);
  assert.equal(body.text, 'a < b');
});

test('a missing close tag is malformed XML', () => {
  const { diagnostics } = read('<policies><inbound></policies>');
  assert.equal(diagnostics[0]?.code, 'GH_XML_MALFORMED');
});

test('elements nested deeper than MAX_ELEMENT_DEPTH are refused at the first too-deep tag', () => {
  // Later steps walk the tree recursively; a few thousand levels used to overflow the stack (GH_INTERNAL, no position).
  const depth = 5000;
  const text = `<policies>\n${'<a>'.repeat(depth)}${'</a>'.repeat(depth)}</policies>`;
  const { root, diagnostics } = read(text);
  assert.equal(root, undefined);
  // <policies> is level 1, so the first refused <a> is element MAX_ELEMENT_DEPTH + 1 (the MAX_ELEMENT_DEPTH-th <a>).
  const column = (MAX_ELEMENT_DEPTH - 1) * 3 + 1;
  assert.deepEqual(diagnostics.map((d) => [d.code, d.location?.line, d.location?.column]), [['GH_XML_TOO_DEEP', 2, column]]);
  // The limit itself is accepted.
  const ok = read(`<policies>${'<a>'.repeat(MAX_ELEMENT_DEPTH - 1)}${'</a>'.repeat(MAX_ELEMENT_DEPTH - 1)}</policies>`);
  assert.deepEqual(ok.diagnostics, []);
});

test('interpolated strings nested too deeply in an expression are a positioned diagnostic, not a stack overflow', () => {
  const depth = 10000;
  const expression = `@{ return ${'$"{'.repeat(depth)}1${'}"'.repeat(depth)}; }`;
  const { root, diagnostics } = read(`<policies>\n  <v>${expression}</v>\n</policies>`);
  assert.equal(root, undefined);
  assert.deepEqual(diagnostics.map((d) => [d.code, d.location?.line, d.location?.column]), [['GH_XML_TOO_DEEP', 2, 6]]);
  assert.equal(findExpressionEnd(expression, 0), EXPRESSION_TOO_DEEP);
  // Nesting within the limit still reads.
  const shallow = `@{ return ${'$"{'.repeat(MAX_INTERPOLATION_DEPTH)}1${'}"'.repeat(MAX_INTERPOLATION_DEPTH)}; }`;
  assert.equal(findExpressionEnd(shallow, 0), shallow.length);
});
