import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createTestContext } from '../../pipeline/testing.ts';
import type { SectionName } from '../../policy/define-policy.ts';
import { compileForTest } from '../../policy/testing.ts';
import { parseTable } from '../shared/testing.ts';
import { setStatusPolicy, type SetStatusConfig } from './set-status.ts';

parseTable<SetStatusConfig>(setStatusPolicy, [
  { name: 'code and reason', xml: '<set-status code="401" reason="Unauthorized" />', config: { code: 401, reason: 'Unauthorized' }, diagnostics: [] },
  { name: 'reason is optional (real policies omit it)', xml: '<set-status code="401" />', config: { code: 401, reason: undefined }, diagnostics: [] },
  { name: 'an empty reason means the standard phrase', xml: '<set-status code="200" reason="" />', config: { code: 200, reason: undefined }, diagnostics: [] },
  { name: 'allowed in outbound', xml: '<set-status code="504" reason="Backend IO Timeout" />', section: 'outbound', config: { code: 504, reason: 'Backend IO Timeout' }, diagnostics: [] },
  { name: 'code is required', xml: '<set-status reason="OK" />', config: undefined, diagnostics: ['GH_POLICY_ATTR_REQUIRED 1:1'] },
  { name: 'code must be a number', xml: '<set-status code="OK" />', config: undefined, diagnostics: ['GH_POLICY_ATTR_INVALID 1:19'] },
  { name: 'code must be a final status', xml: '<set-status code="101" />', config: undefined, diagnostics: ['GH_POLICY_ATTR_INVALID 1:19'] },
  { name: 'code above 599', xml: '<set-status code="600" />', config: undefined, diagnostics: ['GH_POLICY_ATTR_INVALID 1:19'] },
  { name: 'line break in the reason is refused', xml: '<set-status code="200" reason="OK&#13;&#10;X-Injected: 1" />', config: undefined, diagnostics: ['GH_POLICY_ATTR_INVALID 1:32'] },
  { name: 'expression code', xml: '<set-status code="@((int)context.Variables[&quot;s&quot;])" />', config: undefined, diagnostics: ['GH_POLICY_EXPRESSION_UNSUPPORTED 1:19'] },
]);

const cases: { name: string; section: SectionName; before: ReturnType<typeof createTestContext>['response']; expect: unknown }[] = [
  { name: 'outbound changes status and reason of the backend response', section: 'outbound', before: { status: 200, statusText: 'OK', headers: { a: '1' }, body: 'x' }, expect: { status: 418, statusText: 'Teapot', headers: { a: '1' }, body: 'x' } },
  { name: 'on-error changes the default error response', section: 'on-error', before: { status: 500, headers: {}, body: '{}' }, expect: { status: 418, statusText: 'Teapot', headers: {}, body: '{}' } },
  { name: 'inbound starts an empty 200 and sets its status', section: 'inbound', before: null, expect: { status: 418, statusText: 'Teapot', headers: {}, body: null } },
];

for (const c of cases) {
  test(`run <set-status>: ${c.name}`, () => {
    const [handler] = compileForTest('<set-status code="418" reason="Teapot" />', setStatusPolicy as never, { section: c.section });
    const ctx = createTestContext({}, { response: c.before });
    assert.equal(handler?.run(ctx), undefined);
    assert.deepEqual(ctx.response, c.expect);
  });
}

test('run <set-status>: without a reason the previous reason phrase is cleared', () => {
  const [handler] = compileForTest('<set-status code="404" />', setStatusPolicy as never, { section: 'outbound' });
  const ctx = createTestContext({}, { response: { status: 200, statusText: 'OK', headers: {}, body: null } });
  handler?.run(ctx);
  assert.equal(ctx.response?.status, 404);
  assert.equal(ctx.response?.statusText, undefined);
});
