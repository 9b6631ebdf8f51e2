import { test } from 'node:test';
import assert from 'node:assert/strict';
import { GatehouseError } from '../../errors.ts';
import { createTestContext } from '../../pipeline/testing.ts';
import type { BackendEntity } from '../../policy/compile-env.ts';
import { compileEnvForTest, compileForTest, parseForTest } from '../../policy/testing.ts';
import { parseTable } from '../shared/testing.ts';
import { setBackendServicePolicy, type SetBackendServiceConfig } from './set-backend-service.ts';

parseTable<SetBackendServiceConfig>(setBackendServicePolicy, [
  { name: 'base-url', xml: '<set-backend-service base-url="https://contoso.com/api/8.2" />', config: { kind: 'url', url: 'https://contoso.com/api/8.2' }, diagnostics: [] },
  { name: 'trailing slashes removed', xml: '<set-backend-service base-url="http://contoso.com/api/9.1/" />', config: { kind: 'url', url: 'http://contoso.com/api/9.1' }, diagnostics: [] },
  { name: 'backend-id', xml: '<set-backend-service backend-id="orders" />', section: 'backend', config: { kind: 'backend', backendId: 'orders' }, diagnostics: [] },
  { name: 'one of the two is required', xml: '<set-backend-service />', config: undefined, diagnostics: ['GH_POLICY_ATTR_REQUIRED 1:1'] },
  { name: 'not both', xml: '<set-backend-service base-url="http://a" backend-id="b" />', config: undefined, diagnostics: ['GH_POLICY_ATTR_CONFLICT 1:1'] },
  { name: 'relative base-url', xml: '<set-backend-service base-url="/api" />', config: undefined, diagnostics: ['GH_POLICY_ATTR_INVALID 1:32'] },
  { name: 'non-http base-url', xml: '<set-backend-service base-url="ftp://files.example.com" />', config: undefined, diagnostics: ['GH_POLICY_ATTR_INVALID 1:32'] },
  { name: 'query in base-url', xml: '<set-backend-service base-url="https://fn.example.com/api?code=k" />', config: undefined, diagnostics: ['GH_POLICY_ATTR_UNSUPPORTED 1:32'] },
  { name: 'empty backend-id', xml: '<set-backend-service backend-id="" />', config: undefined, diagnostics: ['GH_POLICY_ATTR_INVALID 1:34'] },
  {
    name: 'expression base-url',
    xml: '<set-backend-service base-url="@(String.Format(&quot;https://{0}.example.com&quot;, context.Variables[&quot;env&quot;]))" />',
    config: undefined,
    diagnostics: ['GH_POLICY_EXPRESSION_UNSUPPORTED 1:32'],
  },
  {
    name: 'Service Fabric attributes: warning, ignored',
    xml: '<set-backend-service backend-id="sf" sf-partition-key="1" />',
    config: { kind: 'backend', backendId: 'sf' },
    diagnostics: ['warning GH_POLICY_ATTR_UNSUPPORTED 1:38'],
  },
  { name: 'not allowed in outbound', xml: '<set-backend-service base-url="http://a" />', section: 'outbound', config: undefined, diagnostics: ['GH_POLICY_SECTION_NOT_ALLOWED 1:1'] },
]);

const backends = new Map<string, BackendEntity>([
  ['orders', { id: 'orders', url: 'https://orders.internal/api/' }],
  ['billing', { id: 'billing', url: 'https://billing.internal' }],
]);
const env = compileEnvForTest({ backends });

test('run <set-backend-service>: base-url changes the backend URL and clears a backend entity', () => {
  const [handler] = compileForTest('<set-backend-service base-url="https://v2.example.com/api/" />', setBackendServicePolicy as never, { env });
  const ctx = createTestContext();
  ctx.backendId = 'old';
  assert.equal(handler?.run(ctx), undefined);
  assert.equal(ctx.backendUrl, 'https://v2.example.com/api');
  assert.equal(ctx.backendId, null);
  assert.equal(ctx.backendPath, '/items', 'the path below the API is kept');
});

test('run <set-backend-service>: backend-id uses the entity URL, resolved at load', () => {
  const [handler] = compileForTest('<set-backend-service backend-id="orders" />', setBackendServicePolicy as never, { env });
  const ctx = createTestContext();
  handler?.run(ctx);
  assert.equal(ctx.backendUrl, 'https://orders.internal/api');
  assert.equal(ctx.backendId, 'orders');
});

test('compile <set-backend-service>: unknown backend-id is GH_CONFIG_BACKEND_NOT_FOUND', () => {
  assert.throws(
    () => compileForTest('<set-backend-service backend-id="odrers" />', setBackendServicePolicy as never, { env }),
    (err) => err instanceof GatehouseError && err.code === 'GH_CONFIG_BACKEND_NOT_FOUND' && err.message.includes('defined: billing, orders'),
  );
});

/** Runs statements parsed at different scopes in order on one context, as the composed pipeline would. */
function runScoped(steps: { xml: string; scope: 'global' | 'api' | 'operation' }[]) {
  const ctx = createTestContext();
  for (const step of steps) {
    const parsed = parseForTest(step.xml, setBackendServicePolicy as never, { scope: step.scope });
    const statement = parsed.statements[0];
    assert.ok(statement);
    setBackendServicePolicy.compile(statement.config as SetBackendServiceConfig, env, statement).run(ctx);
  }
  return ctx;
}

test('run <set-backend-service>: an inherited backend-id is not overridden by base-url from another scope (APIM rule)', () => {
  const ctx = runScoped([
    { xml: '<set-backend-service backend-id="orders" />', scope: 'api' },
    { xml: '<set-backend-service base-url="https://elsewhere.example.com" />', scope: 'operation' },
  ]);
  assert.equal(ctx.backendUrl, 'https://orders.internal/api');
  assert.equal(ctx.backendId, 'orders');
});

test('run <set-backend-service>: an inherited backend-id is overridden by another backend-id', () => {
  const ctx = runScoped([
    { xml: '<set-backend-service backend-id="orders" />', scope: 'api' },
    { xml: '<set-backend-service backend-id="billing" />', scope: 'operation' },
  ]);
  assert.equal(ctx.backendUrl, 'https://billing.internal');
  assert.equal(ctx.backendId, 'billing');
});

test('run <set-backend-service>: in the same scope, base-url after backend-id applies', () => {
  const ctx = runScoped([
    { xml: '<set-backend-service backend-id="orders" />', scope: 'operation' },
    { xml: '<set-backend-service base-url="https://elsewhere.example.com" />', scope: 'operation' },
  ]);
  assert.equal(ctx.backendUrl, 'https://elsewhere.example.com');
  assert.equal(ctx.backendId, null);
});
