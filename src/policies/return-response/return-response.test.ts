import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createTestContext } from '../../pipeline/testing.ts';
import type { SectionName } from '../../policy/define-policy.ts';
import { compileForTest } from '../../policy/testing.ts';
import { parseTable } from '../shared/testing.ts';
import { returnResponsePolicy, type ReturnResponseConfig } from './return-response.ts';

parseTable<ReturnResponseConfig>(returnResponsePolicy, [
  { name: 'empty: 200 with no body', xml: '<return-response />', config: { status: 200, reason: undefined, headers: [], body: null }, diagnostics: [] },
  {
    name: 'status, header and body',
    xml: [
      '<return-response>',
      '  <set-status code="401" reason="Unauthorized" />',
      '  <set-header name="WWW-Authenticate" exists-action="override">',
      '    <value>Bearer error="invalid_token"</value>',
      '  </set-header>',
      '  <set-body>{"error":"invalid_token"}</set-body>',
      '</return-response>',
    ].join('\n'),
    config: {
      status: 401,
      reason: 'Unauthorized',
      headers: [{ name: 'WWW-Authenticate', existsAction: 'override', values: ['Bearer error="invalid_token"'], target: 'response' }],
      body: '{"error":"invalid_token"}',
    },
    diagnostics: [],
  },
  { name: 'CDATA body', xml: '<return-response><set-body><![CDATA[<ok a="1"/>]]></set-body></return-response>', config: { status: 200, reason: undefined, headers: [], body: '<ok a="1"/>' }, diagnostics: [] },
  { name: 'allowed in on-error', xml: '<return-response><set-status code="500" reason="Policy Error" /></return-response>', section: 'on-error', config: { status: 500, reason: 'Policy Error', headers: [], body: null }, diagnostics: [] },
  {
    name: 'response-variable-name is not supported yet',
    xml: '<return-response response-variable-name="tokenstate"><set-status code="401" /></return-response>',
    config: undefined,
    diagnostics: ['GH_POLICY_ATTR_UNSUPPORTED 1:42'],
  },
  { name: 'bad set-status child reported at its position', xml: '<return-response>\n  <set-status code="abc" />\n</return-response>', config: undefined, diagnostics: ['GH_POLICY_ATTR_INVALID 2:21'] },
  {
    name: 'set-header child is checked like set-header',
    xml: '<return-response>\n  <set-header name="x"><value>a&#10;b</value></set-header>\n</return-response>',
    config: { status: 200, reason: undefined, headers: [], body: null },
    diagnostics: ['GH_POLICY_CHILD_INVALID 2:31'],
  },
  {
    name: 'protected header child: warning, left out',
    xml: '<return-response><set-header name="Content-Length"><value>5</value></set-header></return-response>',
    config: { status: 200, reason: undefined, headers: [], body: null },
    diagnostics: ['warning GH_POLICY_HEADER_PROTECTED 1:18'],
  },
  { name: 'liquid template', xml: '<return-response><set-body template="liquid">{{body.a}}</set-body></return-response>', config: undefined, diagnostics: ['GH_POLICY_ATTR_UNSUPPORTED 1:38'] },
  { name: 'expression body', xml: '<return-response><set-body>@(context.Variables["x"])</set-body></return-response>', config: undefined, diagnostics: ['GH_POLICY_EXPRESSION_UNSUPPORTED 1:28'] },
  { name: 'markup in the body', xml: '<return-response><set-body><error code="1"/></set-body></return-response>', config: undefined, diagnostics: ['GH_POLICY_CHILD_INVALID 1:28'] },
  { name: 'two set-status', xml: '<return-response><set-status code="200" /><set-status code="201" /></return-response>', config: undefined, diagnostics: ['GH_POLICY_CHILD_INVALID 1:43'] },
  { name: 'unknown child', xml: '<return-response><set-method>GET</set-method></return-response>', config: undefined, diagnostics: ['GH_POLICY_CHILD_INVALID 1:18'] },
]);

const XML = `<return-response>
  <set-status code="401" reason="Unauthorized" />
  <set-header name="WWW-Authenticate"><value>Bearer</value></set-header>
  <set-header name="Set-Cookie"><value>a=1</value><value>b=2</value></set-header>
  <set-header name="X-Gone" exists-action="delete" />
  <set-body>{"error":"invalid_token"}</set-body>
</return-response>`;

for (const section of ['inbound', 'backend', 'outbound', 'on-error'] as SectionName[]) {
  test(`run <return-response> in ${section}: answers with the configured response`, () => {
    const [handler] = compileForTest(XML, returnResponsePolicy as never, { section });
    const ctx = createTestContext({}, { response: section === 'outbound' || section === 'on-error' ? { status: 502, headers: { 'x-backend': '1' }, body: 'old' } : null });
    assert.equal(handler?.run(ctx), 'respond');
    assert.deepEqual(ctx.response, {
      status: 401,
      statusText: 'Unauthorized',
      headers: { 'www-authenticate': 'Bearer', 'set-cookie': ['a=1', 'b=2'] },
      body: '{"error":"invalid_token"}',
    });
  });
}

test('run <return-response>: default is 200, no headers, no body', () => {
  const [handler] = compileForTest('<return-response />', returnResponsePolicy as never);
  const ctx = createTestContext();
  assert.equal(handler?.run(ctx), 'respond');
  assert.deepEqual(ctx.response, { status: 200, statusText: undefined, headers: {}, body: null });
});

test('run <return-response>: each request gets its own header map and lists', () => {
  const [handler] = compileForTest(XML, returnResponsePolicy as never);
  const first = createTestContext();
  handler?.run(first);
  first.response!.headers['access-control-allow-origin'] = '*';
  (first.response!.headers['set-cookie'] as string[]).push('c=3');
  const second = createTestContext();
  handler?.run(second);
  assert.deepEqual(second.response?.headers, { 'www-authenticate': 'Bearer', 'set-cookie': ['a=1', 'b=2'] });
});

test('run <return-response> in outbound: the replaced backend body is released', () => {
  // A backend body nobody reads or destroys holds its pooled connection until the body timeout.
  let released = 0;
  const backendBody = {
    async *[Symbol.asyncIterator]() {
      yield new Uint8Array(1);
    },
    dump: () => {
      released++;
      return Promise.resolve();
    },
  };
  const [handler] = compileForTest('<return-response><set-body>replaced</set-body></return-response>', returnResponsePolicy as never, { section: 'outbound' });
  const ctx = createTestContext({}, { response: { status: 200, headers: {}, body: backendBody } });
  assert.equal(handler?.run(ctx), 'respond');
  assert.equal(released, 1);
  assert.equal(ctx.response?.body, 'replaced');
});
