import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createTestContext } from '../../pipeline/testing.ts';
import { compileForTest } from '../../policy/testing.ts';
import { parseTable } from '../shared/testing.ts';
import { setVariablePolicy, type SetVariableConfig } from './set-variable.ts';

parseTable<SetVariableConfig>(setVariablePolicy, [
  { name: 'literal value', xml: '<set-variable name="env" value="staging" />', config: { name: 'env', value: 'staging' }, diagnostics: [] },
  { name: 'value kept as written (untrimmed)', xml: '<set-variable name="pad" value=" a b " />', config: { name: 'pad', value: ' a b ' }, diagnostics: [] },
  { name: 'empty value is a value', xml: '<set-variable name="e" value="" />', config: { name: 'e', value: '' }, diagnostics: [] },
  { name: 'allowed in every section', xml: '<set-variable name="a" value="1" />', section: 'on-error', config: { name: 'a', value: '1' }, diagnostics: [] },
  { name: 'name is required', xml: '<set-variable value="1" />', config: undefined, diagnostics: ['GH_POLICY_ATTR_REQUIRED 1:1'] },
  { name: 'value is required', xml: '<set-variable name="a" />', config: undefined, diagnostics: ['GH_POLICY_ATTR_REQUIRED 1:1'] },
  { name: 'empty name', xml: '<set-variable name="" value="1" />', config: undefined, diagnostics: ['GH_POLICY_ATTR_INVALID 1:21'] },
  {
    name: 'expression value is not supported yet',
    xml: '<set-variable name="ip" value="@(context.Request.IpAddress)" />',
    config: undefined,
    diagnostics: ['GH_POLICY_EXPRESSION_UNSUPPORTED 1:32'],
  },
  { name: 'child elements are refused', xml: '<set-variable name="a" value="1"><value>2</value></set-variable>', config: { name: 'a', value: '1' }, diagnostics: ['GH_POLICY_CHILD_INVALID 1:34'] },
]);

test('run <set-variable>: stores the value; a later statement overwrites it', () => {
  const handlers = compileForTest('<set-variable name="a" value="1" /><set-variable name="b" value="x" /><set-variable name="a" value="2" />', setVariablePolicy as never);
  const ctx = createTestContext();
  for (const h of handlers) assert.equal(h.run(ctx), undefined);
  assert.deepEqual([...ctx.variables], [['a', '2'], ['b', 'x']]);
});
