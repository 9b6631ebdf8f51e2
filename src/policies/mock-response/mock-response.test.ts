import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RuntimeOperation } from '../../pipeline/context.ts';
import { createTestContext } from '../../pipeline/testing.ts';
import { compileForTest } from '../../policy/testing.ts';
import { parseTable } from '../shared/testing.ts';
import { mockResponsePolicy, type MockResponseConfig } from './mock-response.ts';

parseTable<MockResponseConfig>(mockResponsePolicy, [
  { name: 'defaults: 200, content type from the example', xml: '<mock-response />', config: { statusCode: 200, contentType: null }, diagnostics: [] },
  { name: 'status-code and content-type', xml: "<mock-response status-code='404' content-type='application/problem+json' />", config: { statusCode: 404, contentType: 'application/problem+json' }, diagnostics: [] },
  { name: 'allowed in on-error', xml: '<mock-response status-code="503" />', section: 'on-error', config: { statusCode: 503, contentType: null }, diagnostics: [] },
  { name: 'not allowed in backend', xml: '<mock-response />', section: 'backend', config: undefined, diagnostics: ['GH_POLICY_SECTION_NOT_ALLOWED 1:1'] },
  { name: 'status-code must be a number', xml: '<mock-response status-code="ok" />', config: undefined, diagnostics: ['GH_POLICY_ATTR_INVALID 1:29'] },
  { name: 'status-code must be a final status', xml: '<mock-response status-code="100" />', config: undefined, diagnostics: ['GH_POLICY_ATTR_INVALID 1:29'] },
  { name: 'content-type must be a media type', xml: '<mock-response content-type="json" />', config: undefined, diagnostics: ['GH_POLICY_ATTR_INVALID 1:30'] },
  { name: 'expressions are not allowed (APIM)', xml: '<mock-response status-code="@(200)" />', config: undefined, diagnostics: ['GH_POLICY_EXPRESSION_UNSUPPORTED 1:29'] },
]);

const operation: RuntimeOperation = {
  name: 'get-item',
  method: 'GET',
  urlTemplate: '/items/{id}',
  responses: [
    { status: 200, contentType: 'application/xml', example: null },
    { status: 200, contentType: 'application/json', example: '{"id":1}' },
    { status: 200, contentType: 'text/plain', example: 'item 1' },
    { status: 404, contentType: 'application/json', example: null },
    { status: 204, contentType: 'application/json', example: '{}' },
  ],
};

const cases: { name: string; xml: string; operation?: RuntimeOperation | null; expect: unknown }[] = [
  { name: 'first response with an example for the status', xml: '<mock-response />', operation, expect: { status: 200, headers: { 'content-type': 'application/json' }, body: '{"id":1}' } },
  { name: 'the example of the requested media type', xml: '<mock-response content-type="text/plain" />', operation, expect: { status: 200, headers: { 'content-type': 'text/plain' }, body: 'item 1' } },
  { name: 'media types compare without parameters and case', xml: '<mock-response content-type="Application/JSON; charset=utf-8" />', operation, expect: { status: 200, headers: { 'content-type': 'Application/JSON; charset=utf-8' }, body: '{"id":1}' } },
  { name: 'a documented response without example: no content, configured type kept', xml: '<mock-response content-type="application/xml" />', operation, expect: { status: 200, headers: { 'content-type': 'application/xml' }, body: null } },
  { name: 'status without example: empty response', xml: '<mock-response status-code="404" />', operation, expect: { status: 404, headers: {}, body: null } },
  { name: 'undocumented status: empty response', xml: '<mock-response status-code="500" />', operation, expect: { status: 500, headers: {}, body: null } },
  { name: 'a 204 never carries a body', xml: '<mock-response status-code="204" />', operation, expect: { status: 204, headers: {}, body: null } },
  { name: 'operation without responses', xml: '<mock-response content-type="application/json" />', operation: { name: 'o', method: 'GET', urlTemplate: '/' }, expect: { status: 200, headers: { 'content-type': 'application/json' }, body: null } },
  { name: 'no operation (API-level request)', xml: '<mock-response />', operation: null, expect: { status: 200, headers: {}, body: null } },
];

for (const c of cases) {
  test(`run <mock-response>: ${c.name}`, () => {
    const [handler] = compileForTest(c.xml, mockResponsePolicy as never);
    const ctx = createTestContext({}, { operation: c.operation === undefined ? null : c.operation });
    assert.equal(handler?.run(ctx), 'respond');
    assert.deepEqual(ctx.response, c.expect);
  });
}

test('run <mock-response>: each request gets its own response and header map', () => {
  const [handler] = compileForTest('<mock-response />', mockResponsePolicy as never);
  const first = createTestContext({}, { operation });
  handler?.run(first);
  first.response!.headers['x-added'] = '1';
  const second = createTestContext({}, { operation });
  handler?.run(second);
  assert.notEqual(second.response, first.response);
  assert.deepEqual(second.response?.headers, { 'content-type': 'application/json' });
});

test('run <mock-response> in outbound: the replaced backend body is released', () => {
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
  const [handler] = compileForTest('<mock-response status-code="200" />', mockResponsePolicy as never, { section: 'outbound' });
  const ctx = createTestContext({}, { operation: null, response: { status: 200, headers: {}, body: backendBody } });
  assert.equal(handler?.run(ctx), 'respond');
  assert.equal(released, 1);
  assert.deepEqual(ctx.response, { status: 200, headers: {}, body: null });
});
