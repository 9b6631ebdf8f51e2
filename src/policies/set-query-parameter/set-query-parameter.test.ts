import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createTestContext } from '../../pipeline/testing.ts';
import { compileForTest } from '../../policy/testing.ts';
import { parseTable } from '../shared/testing.ts';
import { setQueryParameterPolicy, type SetQueryParameterConfig } from './set-query-parameter.ts';

parseTable<SetQueryParameterConfig>(setQueryParameterPolicy, [
  {
    name: 'name, exists-action and a value',
    xml: '<set-query-parameter name="api-key" exists-action="skip"><value>123</value></set-query-parameter>',
    config: { name: 'api-key', existsAction: 'skip', values: ['123'] },
    diagnostics: [],
  },
  {
    name: 'override is the default; several values',
    xml: '<set-query-parameter name="tag">\n  <value>a</value>\n  <value>b c</value>\n</set-query-parameter>',
    config: { name: 'tag', existsAction: 'override', values: ['a', 'b c'] },
    diagnostics: [],
  },
  {
    name: 'delete needs no value',
    xml: '<set-query-parameter name="subscription-key" exists-action="delete" />',
    config: { name: 'subscription-key', existsAction: 'delete', values: [] },
    diagnostics: [],
  },
  {
    name: 'a value is required unless deleting',
    xml: '<set-query-parameter name="a" exists-action="append" />',
    config: undefined,
    diagnostics: ['GH_POLICY_CHILD_REQUIRED 1:1'],
  },
  { name: 'name is required', xml: '<set-query-parameter><value>1</value></set-query-parameter>', config: undefined, diagnostics: ['GH_POLICY_ATTR_REQUIRED 1:1'] },
  {
    name: 'invalid exists-action',
    xml: '<set-query-parameter name="a" exists-action="remove" />',
    config: undefined,
    diagnostics: ['GH_POLICY_ATTR_INVALID 1:46', 'GH_POLICY_CHILD_REQUIRED 1:1'],
  },
  {
    name: 'expression value',
    xml: '<set-query-parameter name="x-product-name">\n  <value>@(context.Product.Name)</value>\n</set-query-parameter>',
    config: { name: 'x-product-name', existsAction: 'override', values: [] },
    diagnostics: ['GH_POLICY_EXPRESSION_UNSUPPORTED 2:10'],
  },
  {
    name: 'not allowed in outbound',
    xml: '<set-query-parameter name="a" exists-action="delete" />',
    section: 'outbound',
    config: undefined,
    diagnostics: ['GH_POLICY_SECTION_NOT_ALLOWED 1:1'],
  },
]);

const cases: { name: string; xml: string; query: string; expect: string }[] = [
  { name: 'override on an empty query', xml: '<set-query-parameter name="a"><value>1</value></set-query-parameter>', query: '', expect: 'a=1' },
  { name: 'override replaces in place and keeps the others byte for byte', xml: '<set-query-parameter name="b"><value>new</value></set-query-parameter>', query: 'a=%20x&b=old&c=d%2Fe', expect: 'a=%20x&b=new&c=d%2Fe' },
  { name: 'override removes later duplicates', xml: '<set-query-parameter name="b"><value>n</value></set-query-parameter>', query: 'b=1&a=2&b=3', expect: 'b=n&a=2' },
  { name: 'override adds at the end when missing', xml: '<set-query-parameter name="z"><value>1</value></set-query-parameter>', query: 'a=1', expect: 'a=1&z=1' },
  { name: 'keys compare case-insensitively after decoding', xml: '<set-query-parameter name="api key"><value>v</value></set-query-parameter>', query: 'API+Key=old&x=1', expect: 'api%20key=v&x=1' },
  { name: 'values are percent-encoded', xml: '<set-query-parameter name="q"><value>a b&amp;c=d/é</value></set-query-parameter>', query: '', expect: 'q=a%20b%26c%3Dd%2F%C3%A9' },
  { name: 'several values give repeated items', xml: '<set-query-parameter name="t"><value>1</value><value>2</value></set-query-parameter>', query: 'x=0', expect: 'x=0&t=1&t=2' },
  { name: 'skip keeps an existing parameter', xml: '<set-query-parameter name="a" exists-action="skip"><value>new</value></set-query-parameter>', query: 'a=old', expect: 'a=old' },
  { name: 'skip adds a missing parameter', xml: '<set-query-parameter name="a" exists-action="skip"><value>new</value></set-query-parameter>', query: 'b=1', expect: 'b=1&a=new' },
  { name: 'append adds another item', xml: '<set-query-parameter name="a" exists-action="append"><value>2</value></set-query-parameter>', query: 'a=1&b=x', expect: 'a=1&b=x&a=2' },
  { name: 'delete removes every item with the key', xml: '<set-query-parameter name="subscription-key" exists-action="delete" />', query: 'subscription-key=k&a=1&Subscription-Key=k2', expect: 'a=1' },
  { name: 'delete of the only item leaves an empty query', xml: '<set-query-parameter name="a" exists-action="delete" />', query: 'a=1', expect: '' },
  { name: 'delete on an empty query', xml: '<set-query-parameter name="a" exists-action="delete" />', query: '', expect: '' },
  { name: 'a bare key counts as present', xml: '<set-query-parameter name="flag" exists-action="skip"><value>1</value></set-query-parameter>', query: 'flag', expect: 'flag' },
];

for (const c of cases) {
  test(`run <set-query-parameter>: ${c.name}`, () => {
    const [handler] = compileForTest(c.xml, setQueryParameterPolicy as never);
    const ctx = createTestContext({ query: c.query });
    assert.equal(handler?.run(ctx), undefined);
    assert.equal(ctx.backendQuery, c.expect);
    assert.equal(ctx.request.query, c.query, 'the received query is never changed');
  });
}
