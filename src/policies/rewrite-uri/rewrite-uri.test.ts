import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { GatewayContext } from '../../pipeline/context.ts';
import { createTestContext } from '../../pipeline/testing.ts';
import { compileForTest } from '../../policy/testing.ts';
import { parseTable } from '../shared/testing.ts';
import { rewriteUriPolicy, type RewriteUriConfig } from './rewrite-uri.ts';

parseTable<RewriteUriConfig>(rewriteUriPolicy, [
  { name: 'template', xml: '<rewrite-uri template="/put" />', config: { template: '/put', copyUnmatchedParams: true }, diagnostics: [] },
  {
    name: 'template with parameters and query; copy-unmatched-params false',
    xml: '<rewrite-uri template="/v2/US/hardware/{storenumber}/{ordernumber}?City=city&amp;State=state" copy-unmatched-params="false" />',
    config: { template: '/v2/US/hardware/{storenumber}/{ordernumber}?City=city&State=state', copyUnmatchedParams: false },
    diagnostics: [],
  },
  { name: 'template is required', xml: '<rewrite-uri />', config: undefined, diagnostics: ['GH_POLICY_ATTR_REQUIRED 1:1'] },
  { name: 'unclosed brace', xml: '<rewrite-uri template="/items/{id" />', config: undefined, diagnostics: ['GH_POLICY_ATTR_INVALID 1:24'] },
  { name: 'stray closing brace', xml: '<rewrite-uri template="/items/id}" />', config: undefined, diagnostics: ['GH_POLICY_ATTR_INVALID 1:24'] },
  { name: 'invalid parameter name', xml: '<rewrite-uri template="/items/{a b}" />', config: undefined, diagnostics: ['GH_POLICY_ATTR_INVALID 1:24'] },
  { name: 'wildcard outside the path', xml: '<rewrite-uri template="/files?p={*rest}" />', config: undefined, diagnostics: ['GH_POLICY_ATTR_INVALID 1:24'] },
  { name: 'absolute URL', xml: '<rewrite-uri template="https://other.example.com/put" />', config: undefined, diagnostics: ['GH_POLICY_ATTR_INVALID 1:24'] },
  { name: 'fragment', xml: '<rewrite-uri template="/put#top" />', config: undefined, diagnostics: ['GH_POLICY_ATTR_INVALID 1:24'] },
  { name: 'invalid boolean', xml: '<rewrite-uri template="/" copy-unmatched-params="no" />', config: { template: '/', copyUnmatchedParams: true }, diagnostics: ['GH_POLICY_ATTR_INVALID 1:50'] },
  {
    name: 'expression template',
    xml: '<rewrite-uri template="@(&quot;/&quot; + context.Variables[&quot;p&quot;])" />',
    config: undefined,
    diagnostics: ['GH_POLICY_EXPRESSION_UNSUPPORTED 1:24'],
  },
  { name: 'inbound only', xml: '<rewrite-uri template="/" />', section: 'outbound', config: undefined, diagnostics: ['GH_POLICY_SECTION_NOT_ALLOWED 1:1'] },
]);

interface Case {
  readonly name: string;
  readonly xml: string;
  /** The operation's URL template. */
  readonly operation: string;
  readonly params?: Record<string, string>;
  readonly query?: string;
  readonly path: string;
  readonly backendQuery: string;
}

const cases: Case[] = [
  { name: 'APIM example: unmatched parameters are copied', xml: '<rewrite-uri template="/put" />', operation: '/get?a={b}', params: { b: 'b' }, query: 'a=b&c=d', path: '/put', backendQuery: 'c=d' },
  { name: 'APIM example: copy-unmatched-params="false"', xml: '<rewrite-uri template="/put" copy-unmatched-params="false" />', operation: '/get?a={b}', params: { b: 'b' }, query: 'a=b&c=d', path: '/put', backendQuery: '' },
  {
    name: 'path parameters and literal query from the template',
    xml: '<rewrite-uri template="/v2/US/hardware/{storenumber}/{ordernumber}?City=city&amp;State=state" />',
    operation: '/{storenumber}/{ordernumber}',
    params: { storenumber: '12', ordernumber: '7' },
    path: '/v2/US/hardware/12/7',
    backendQuery: 'City=city&State=state',
  },
  { name: 'template query parameter from a captured query parameter', xml: '<rewrite-uri template="/search?q={term}" />', operation: '/find?term={term}', params: { term: 'a b&c' }, query: 'term=a+b%26c&page=2', path: '/search', backendQuery: 'q=a%20b%26c&page=2' },
  { name: 'captured values are percent-encoded in the path', xml: '<rewrite-uri template="/files/{name}" />', operation: '/f/{name}', params: { name: 'a/b c' }, path: '/files/a%2Fb%20c', backendQuery: '' },
  { name: 'a wildcard keeps its slashes', xml: '<rewrite-uri template="/static/{*rest}" />', operation: '/s/{*rest}', params: { rest: 'css/site main.css' }, path: '/static/css/site%20main.css', backendQuery: '' },
  { name: 'a missing path parameter expands to nothing', xml: '<rewrite-uri template="/items/{id}/x" />', operation: '/items', path: '/items//x', backendQuery: '' },
  { name: 'a query item with a missing parameter is left out', xml: '<rewrite-uri template="/items?a={a}&amp;b=1" />', operation: '/items', path: '/items', backendQuery: 'b=1' },
  { name: 'prototype names are never parameters', xml: '<rewrite-uri template="/x/{constructor}" />', operation: '/x', path: '/x/', backendQuery: '' },
  { name: 'a template parameter wins over a copied one with the same key', xml: '<rewrite-uri template="/put?c=1" />', operation: '/get', query: 'C=2&d=3', path: '/put', backendQuery: 'c=1&d=3' },
  { name: 'captured keys compare case-insensitively', xml: '<rewrite-uri template="/put" />', operation: '/get?Version={v}', params: { v: '1' }, query: 'version=1&x=y', path: '/put', backendQuery: 'x=y' },
  { name: 'copied items are kept byte for byte', xml: '<rewrite-uri template="/put" />', operation: '/get', query: 'sig=a%2Fb%3D&empty=&flag', path: '/put', backendQuery: 'sig=a%2Fb%3D&empty=&flag' },
  { name: 'a template without a leading slash gets one', xml: '<rewrite-uri template="put" />', operation: '/get', path: '/put', backendQuery: '' },
  { name: 'a trailing slash is kept', xml: '<rewrite-uri template="/put/" />', operation: '/get', path: '/put/', backendQuery: '' },
  { name: 'literal text that cannot appear raw is encoded; escapes as written stay', xml: '<rewrite-uri template="/a b/caf%C3%A9/é" />', operation: '/get', path: '/a%20b/caf%C3%A9/%C3%A9', backendQuery: '' },
];

function context(c: Case): GatewayContext {
  const base = createTestContext({ query: c.query ?? '' }, { operation: { name: 'op', method: 'GET', urlTemplate: c.operation } });
  return { ...base, matchedParameters: c.params ?? {} };
}

for (const c of cases) {
  test(`run <rewrite-uri>: ${c.name}`, () => {
    const [handler] = compileForTest(c.xml, rewriteUriPolicy as never);
    const ctx = context(c);
    assert.equal(handler?.run(ctx), undefined);
    assert.equal(ctx.backendPath, c.path);
    assert.equal(ctx.backendQuery, c.backendQuery);
  });
}

test('run <rewrite-uri>: copies from the query as earlier policies left it', () => {
  const [handler] = compileForTest('<rewrite-uri template="/put" />', rewriteUriPolicy as never);
  const ctx = createTestContext({ query: 'a=1' });
  ctx.backendQuery = 'a=1&added=2';
  handler?.run(ctx);
  assert.equal(ctx.backendQuery, 'a=1&added=2');
});

test('run <rewrite-uri>: no operation (API-level) copies every parameter', () => {
  const [handler] = compileForTest('<rewrite-uri template="/put" />', rewriteUriPolicy as never);
  const ctx = createTestContext({ query: 'a=1&b=2' }, { operation: null });
  handler?.run(ctx);
  assert.equal(ctx.backendQuery, 'a=1&b=2');
});
