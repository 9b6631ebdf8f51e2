import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { GatewayResponse, HeaderMap } from '../../pipeline/context.ts';
import { createTestContext } from '../../pipeline/testing.ts';
import type { SectionName } from '../../policy/define-policy.ts';
import { compileForTest } from '../../policy/testing.ts';
import { parseTable } from '../shared/testing.ts';
import { setHeaderPolicy, type SetHeaderConfig } from './set-header.ts';

parseTable<SetHeaderConfig>(setHeaderPolicy, [
  {
    name: 'one value, explicit override',
    xml: '<set-header name="X-Test" exists-action="override"><value>1</value></set-header>',
    config: { name: 'X-Test', existsAction: 'override', values: ['1'], target: 'request' },
    diagnostics: [],
  },
  {
    name: 'exists-action defaults to override; values trimmed, in order',
    xml: '<set-header name="x-list">\n  <value> a </value>\n  <value>b</value>\n</set-header>',
    config: { name: 'x-list', existsAction: 'override', values: ['a', 'b'], target: 'request' },
    diagnostics: [],
  },
  {
    name: 'exists-action is read case-insensitively',
    xml: '<set-header name="a" exists-action="Skip"><value>1</value></set-header>',
    config: { name: 'a', existsAction: 'skip', values: ['1'], target: 'request' },
    diagnostics: [],
  },
  {
    name: 'outbound targets the response',
    xml: '<set-header name="a" exists-action="append"><value>1</value></set-header>',
    section: 'outbound',
    config: { name: 'a', existsAction: 'append', values: ['1'], target: 'response' },
    diagnostics: [],
  },
  {
    name: 'on-error targets the response, backend the request',
    xml: '<set-header name="a" exists-action="delete" />',
    section: 'on-error',
    config: { name: 'a', existsAction: 'delete', values: [], target: 'response' },
    diagnostics: [],
  },
  {
    name: 'backend section targets the request',
    xml: '<set-header name="a" exists-action="delete" />',
    section: 'backend',
    config: { name: 'a', existsAction: 'delete', values: [], target: 'request' },
    diagnostics: [],
  },
  {
    name: 'delete ignores values (warning)',
    xml: '<set-header name="a" exists-action="delete"><value>1</value></set-header>',
    config: { name: 'a', existsAction: 'delete', values: ['1'], target: 'request' },
    diagnostics: ['warning GH_POLICY_CHILD_INVALID 1:1'],
  },
  {
    name: 'no <value> with override: empty value (warning)',
    xml: '<set-header name="a" exists-action="override" />',
    config: { name: 'a', existsAction: 'override', values: [], target: 'request' },
    diagnostics: ['warning GH_POLICY_CHILD_REQUIRED 1:1'],
  },
  { name: 'name is required', xml: '<set-header exists-action="delete" />', config: undefined, diagnostics: ['GH_POLICY_ATTR_REQUIRED 1:1'] },
  { name: 'empty name', xml: '<set-header name="" exists-action="delete" />', config: undefined, diagnostics: ['GH_POLICY_ATTR_INVALID 1:19'] },
  { name: 'name must be a token', xml: '<set-header name="X Bad"><value>1</value></set-header>', config: undefined, diagnostics: ['GH_POLICY_ATTR_INVALID 1:19'] },
  {
    name: 'unknown exists-action: reported at the value, default used',
    xml: '<set-header name="a" exists-action="replace"><value>1</value></set-header>',
    config: { name: 'a', existsAction: 'override', values: ['1'], target: 'request' },
    diagnostics: ['GH_POLICY_ATTR_INVALID 1:37'],
  },
  {
    name: 'expression in name',
    xml: '<set-header name="@(context.Variables[&quot;h&quot;])"><value>1</value></set-header>',
    config: undefined,
    diagnostics: ['GH_POLICY_EXPRESSION_UNSUPPORTED 1:19'],
  },
  {
    name: 'expression in a value',
    xml: '<set-header name="a">\n  <value>@(context.User.Id)</value>\n</set-header>',
    config: { name: 'a', existsAction: 'override', values: [], target: 'request' },
    diagnostics: ['GH_POLICY_EXPRESSION_UNSUPPORTED 2:10'],
  },
  {
    name: 'LF inside a value is refused at load',
    xml: '<set-header name="a">\n  <value>one&#10;Injected: yes</value>\n</set-header>',
    config: undefined,
    diagnostics: ['GH_POLICY_CHILD_INVALID 2:10'],
  },
  {
    name: 'CR inside a value is refused at load',
    xml: '<set-header name="a"><value>one&#13;two</value></set-header>',
    config: undefined,
    diagnostics: ['GH_POLICY_CHILD_INVALID 1:29'],
  },
  {
    name: 'characters above U+00FF are refused at load',
    xml: '<set-header name="a"><value>5 €</value></set-header>',
    config: undefined,
    diagnostics: ['GH_POLICY_CHILD_INVALID 1:29'],
  },
  {
    name: 'Content-Length cannot be modified: warning, statement dropped',
    xml: '<set-header name="Content-Length"><value>0</value></set-header>',
    config: undefined,
    diagnostics: ['warning GH_POLICY_HEADER_PROTECTED 1:1'],
  },
  {
    name: 'Transfer-Encoding cannot be deleted either',
    xml: '<set-header name="transfer-encoding" exists-action="delete" />',
    config: undefined,
    diagnostics: ['warning GH_POLICY_HEADER_PROTECTED 1:1'],
  },
  {
    name: 'deleting Server: info (APIM cannot, gatehouse does)',
    xml: '<set-header name="Server" exists-action="delete" />',
    section: 'outbound',
    config: { name: 'Server', existsAction: 'delete', values: [], target: 'response' },
    diagnostics: ['info GH_POLICY_HEADER_PROTECTED 1:1'],
  },
  {
    name: 'unknown attribute: warning at the attribute',
    xml: '<set-header name="a" exist-action="skip"><value>1</value></set-header>',
    config: { name: 'a', existsAction: 'override', values: ['1'], target: 'request' },
    diagnostics: ['warning GH_POLICY_ATTR_UNKNOWN 1:22'],
  },
  {
    name: 'id attribute is always allowed',
    xml: '<set-header id="h1" name="a"><value>1</value></set-header>',
    config: { name: 'a', existsAction: 'override', values: ['1'], target: 'request' },
    diagnostics: [],
  },
  {
    name: 'a child other than <value>',
    xml: '<set-header name="a">\n  <values>1</values>\n</set-header>',
    diagnostics: ['GH_POLICY_CHILD_INVALID 2:3', 'warning GH_POLICY_CHILD_REQUIRED 1:1'],
  },
  {
    name: 'markup inside <value>',
    xml: '<set-header name="a"><value><b>1</b></value></set-header>',
    diagnostics: ['GH_POLICY_CHILD_INVALID 1:29'],
  },
]);

interface BehaviourCase {
  readonly name: string;
  readonly xml: string;
  readonly section?: SectionName;
  readonly requestHeaders?: HeaderMap;
  readonly response?: GatewayResponse | null;
  readonly expectRequest?: HeaderMap;
  readonly expectResponse?: GatewayResponse | null;
}

const ok = (headers: HeaderMap): GatewayResponse => ({ status: 200, headers, body: null });

const behaviour: BehaviourCase[] = [
  { name: 'override replaces a request header', xml: '<set-header name="X-A"><value>new</value></set-header>', requestHeaders: { 'x-a': 'old', b: '1' }, expectRequest: { 'x-a': 'new', b: '1' } },
  { name: 'override adds a missing header (name lower-cased)', xml: '<set-header name="X-A"><value>v</value></set-header>', requestHeaders: {}, expectRequest: { 'x-a': 'v' } },
  { name: 'several values are joined with a comma', xml: '<set-header name="Accept"><value>a/b</value><value>c/d</value></set-header>', requestHeaders: {}, expectRequest: { accept: 'a/b,c/d' } },
  { name: 'User-Agent values stay separate field lines', xml: '<set-header name="User-Agent"><value>a, 1</value><value>b</value></set-header>', requestHeaders: {}, expectRequest: { 'user-agent': ['a, 1', 'b'] } },
  { name: 'skip keeps an existing header', xml: '<set-header name="x-a" exists-action="skip"><value>new</value></set-header>', requestHeaders: { 'x-a': 'old' }, expectRequest: { 'x-a': 'old' } },
  { name: 'skip adds a missing header', xml: '<set-header name="x-a" exists-action="skip"><value>new</value></set-header>', requestHeaders: {}, expectRequest: { 'x-a': 'new' } },
  { name: 'append adds to the value with a comma', xml: '<set-header name="x-a" exists-action="append"><value>b</value><value>c</value></set-header>', requestHeaders: { 'x-a': 'a' }, expectRequest: { 'x-a': 'a,b,c' } },
  { name: 'append joins a multi-line value first', xml: '<set-header name="x-a" exists-action="append"><value>c</value></set-header>', requestHeaders: { 'x-a': ['a', 'b'] }, expectRequest: { 'x-a': 'a,b,c' } },
  { name: 'append to a missing header sets it', xml: '<set-header name="x-a" exists-action="append"><value>b</value></set-header>', requestHeaders: {}, expectRequest: { 'x-a': 'b' } },
  { name: 'delete removes a request header', xml: '<set-header name="Ocp-Apim-Subscription-Key" exists-action="delete" />', requestHeaders: { 'ocp-apim-subscription-key': 'k', a: '1' }, expectRequest: { a: '1' } },
  { name: 'delete of a missing header is a no-op', xml: '<set-header name="x" exists-action="delete" />', requestHeaders: { a: '1' }, expectRequest: { a: '1' } },
  { name: 'backend section changes the request', section: 'backend', xml: '<set-header name="x-b"><value>1</value></set-header>', requestHeaders: {}, expectRequest: { 'x-b': '1' } },
  {
    name: 'outbound changes the response, not the request',
    section: 'outbound',
    xml: '<set-header name="X-Powered-By" exists-action="delete" />',
    requestHeaders: { 'x-powered-by': 'req' },
    response: ok({ 'x-powered-by': 'ASP.NET', 'content-type': 'text/plain' }),
    expectRequest: { 'x-powered-by': 'req' },
    expectResponse: ok({ 'content-type': 'text/plain' }),
  },
  {
    name: 'append Set-Cookie adds a field line',
    section: 'outbound',
    xml: '<set-header name="Set-Cookie" exists-action="append"><value>b=2</value></set-header>',
    response: ok({ 'set-cookie': 'a=1' }),
    expectResponse: ok({ 'set-cookie': ['a=1', 'b=2'] }),
  },
  {
    name: 'on-error changes the default error response in place',
    section: 'on-error',
    xml: '<set-header name="x-error" exists-action="override"><value>yes</value></set-header>',
    response: { status: 504, headers: { 'content-type': 'application/json' }, body: '{}' },
    expectResponse: { status: 504, headers: { 'content-type': 'application/json', 'x-error': 'yes' }, body: '{}' },
  },
  {
    name: 'outbound with no response yet starts APIM\'s empty 200',
    section: 'outbound',
    xml: '<set-header name="x-a"><value>1</value></set-header>',
    response: null,
    expectResponse: ok({ 'x-a': '1' }),
  },
];

for (const c of behaviour) {
  test(`run <set-header>: ${c.name}`, () => {
    const [handler] = compileForTest(c.xml, setHeaderPolicy as never, { section: c.section ?? 'inbound' });
    assert.ok(handler);
    const ctx = createTestContext({ headers: c.requestHeaders ?? {} }, { response: c.response ?? null });
    assert.equal(handler.run(ctx), undefined);
    if (c.expectRequest) assert.deepEqual(ctx.request.headers, c.expectRequest);
    if (c.expectResponse !== undefined) assert.deepEqual(ctx.response, c.expectResponse);
    else assert.equal(ctx.response, c.response ?? null);
  });
}

test('run <set-header>: repeated-header lists are fresh per request', () => {
  const [handler] = compileForTest('<set-header name="Set-Cookie"><value>a=1</value><value>b=2</value></set-header>', setHeaderPolicy as never, { section: 'outbound' });
  const first = createTestContext({}, { response: ok({}) });
  handler?.run(first);
  (first.response?.headers['set-cookie'] as string[]).push('mutated=1');
  const second = createTestContext({}, { response: ok({}) });
  handler?.run(second);
  assert.deepEqual(second.response?.headers['set-cookie'], ['a=1', 'b=2']);
});

test('compile <set-header>: handler carries name, scope, position and id', () => {
  const [handler] = compileForTest('\n  <set-header id="strip-key" name="a" exists-action="delete" />', setHeaderPolicy as never);
  assert.equal(handler?.name, 'set-header');
  assert.equal(handler?.policyId, 'strip-key');
  assert.equal(handler?.scope, 'api');
  assert.deepEqual(handler?.location, { file: 'test.xml', line: 2, column: 3 });
});
