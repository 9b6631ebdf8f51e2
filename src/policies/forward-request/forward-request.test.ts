import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PolicyFailure, type GatewayContext } from '../../pipeline/context.ts';
import type { BackendForwarder, ForwardOptions } from '../../pipeline/handler.ts';
import { createTestContext } from '../../pipeline/testing.ts';
import { compileEnvForTest, compileForTest } from '../../policy/testing.ts';
import { parseTable } from '../shared/testing.ts';
import { forwardRequestPolicy, type ForwardRequestConfig } from './forward-request.ts';

const DEFAULTS: ForwardRequestConfig = { timeoutMs: null, followRedirects: false, bufferRequestBody: false, bufferResponse: true, failOnErrorStatusCode: false, httpVersion: '1' };

parseTable<ForwardRequestConfig>(forwardRequestPolicy, [
  { name: 'APIM defaults', xml: '<forward-request />', config: DEFAULTS, diagnostics: [] },
  { name: 'timeout in seconds', xml: '<forward-request timeout="60" />', config: { ...DEFAULTS, timeoutMs: 60_000 }, diagnostics: [] },
  { name: 'timeout-ms', xml: '<forward-request timeout-ms="1500" />', config: { ...DEFAULTS, timeoutMs: 1500 }, diagnostics: [] },
  {
    name: 'every boolean',
    xml: '<forward-request follow-redirects="true" buffer-request-body="True" buffer-response="false" fail-on-error-status-code="true" />',
    config: { ...DEFAULTS, followRedirects: true, bufferRequestBody: true, bufferResponse: false, failOnErrorStatusCode: true },
    diagnostics: [],
  },
  { name: 'timeout and timeout-ms together', xml: '<forward-request timeout="5" timeout-ms="10" />', config: { ...DEFAULTS, timeoutMs: 10 }, diagnostics: ['GH_POLICY_ATTR_CONFLICT 1:42'] },
  { name: 'timeout 0 becomes 1 ms (warning)', xml: '<forward-request timeout="0" />', config: { ...DEFAULTS, timeoutMs: 1 }, diagnostics: ['warning GH_POLICY_ATTR_INVALID 1:27'] },
  { name: 'negative timeout', xml: '<forward-request timeout="-1" />', config: DEFAULTS, diagnostics: ['GH_POLICY_ATTR_INVALID 1:27'] },
  { name: 'non-numeric timeout', xml: '<forward-request timeout="30s" />', config: DEFAULTS, diagnostics: ['GH_POLICY_ATTR_INVALID 1:27'] },
  { name: 'expression timeout', xml: '<forward-request timeout="@(10)" />', config: DEFAULTS, diagnostics: ['GH_POLICY_EXPRESSION_UNSUPPORTED 1:27'] },
  { name: 'invalid boolean', xml: '<forward-request follow-redirects="yes" />', config: DEFAULTS, diagnostics: ['GH_POLICY_ATTR_INVALID 1:36'] },
  { name: 'http-version 2or1: info, HTTP/1.1 used', xml: '<forward-request http-version="2or1" />', config: { ...DEFAULTS, httpVersion: '2or1' }, diagnostics: ['info GH_POLICY_ATTR_UNSUPPORTED 1:32'] },
  { name: 'http-version 2: warning', xml: '<forward-request http-version="2" />', config: { ...DEFAULTS, httpVersion: '2' }, diagnostics: ['warning GH_POLICY_ATTR_UNSUPPORTED 1:32'] },
  { name: 'http-version 3 is not an APIM value', xml: '<forward-request http-version="3" />', config: DEFAULTS, diagnostics: ['GH_POLICY_ATTR_INVALID 1:32'] },
  { name: 'continue-timeout is ignored (info)', xml: '<forward-request continue-timeout="5" />', config: DEFAULTS, diagnostics: ['info GH_POLICY_ATTR_UNSUPPORTED 1:36'] },
  { name: 'unknown attribute', xml: '<forward-request retries="3" />', config: DEFAULTS, diagnostics: ['warning GH_POLICY_ATTR_UNKNOWN 1:18'] },
  { name: 'only in backend', xml: '<forward-request />', section: 'inbound', config: undefined, diagnostics: ['GH_POLICY_SECTION_NOT_ALLOWED 1:1'] },
  { name: 'once per section', xml: '<forward-request />\n<forward-request timeout="5" />', config: DEFAULTS, diagnostics: ['GH_POLICY_ONCE_PER_SECTION 2:1'] },
  { name: 'no children', xml: '<forward-request><set-header name="a" /></forward-request>', config: DEFAULTS, diagnostics: ['GH_POLICY_CHILD_INVALID 1:18'] },
]);

function recordingForwarder(answer: (ctx: GatewayContext) => void = (ctx) => void (ctx.response = { status: 200, headers: {}, body: 'backend' })) {
  const calls: { ctx: GatewayContext; options: ForwardOptions }[] = [];
  const forwarder: BackendForwarder = {
    async forward(ctx, options) {
      calls.push({ ctx, options });
      await Promise.resolve();
      answer(ctx);
    },
  };
  return { forwarder, calls };
}

test('run <forward-request>: hands the context and the precomputed options to the backend layer', async () => {
  const { forwarder, calls } = recordingForwarder();
  const [handler] = compileForTest('<forward-request timeout="20" follow-redirects="true" fail-on-error-status-code="true" buffer-request-body="true" />', forwardRequestPolicy as never, { env: compileEnvForTest({ forwarder }) });
  const ctx = createTestContext();
  assert.equal(await handler?.run(ctx), undefined);
  assert.deepEqual(ctx.response, { status: 200, headers: {}, body: 'backend' });
  assert.equal(calls.length, 1);
  assert.equal(calls[0]?.ctx, ctx);
  assert.deepEqual(calls[0]?.options, { timeoutMs: 20_000, followRedirects: true, failOnErrorStatusCode: true, bufferRequestBody: true });
  // The same frozen object for every request: nothing is allocated per request.
  await handler?.run(createTestContext());
  assert.equal(calls[1]?.options, calls[0]?.options);
  assert.ok(Object.isFrozen(calls[0]?.options));
});

test('run <forward-request>: without a timeout attribute, the overlay default applies, else APIM\'s 300 s', async () => {
  const { forwarder, calls } = recordingForwarder();
  const withOverlay = compileEnvForTest({ forwarder });
  const [fromOverlay] = compileForTest('<forward-request />', forwardRequestPolicy as never, { env: { ...withOverlay, defaultBackendTimeoutMs: 30_000 } });
  await fromOverlay?.run(createTestContext());
  assert.equal(calls[0]?.options.timeoutMs, 30_000);
  const [apimDefault] = compileForTest('<forward-request />', forwardRequestPolicy as never, { env: compileEnvForTest({ forwarder }) });
  await apimDefault?.run(createTestContext());
  assert.equal(calls[1]?.options.timeoutMs, 300_000);
  const [explicit] = compileForTest('<forward-request timeout="5" />', forwardRequestPolicy as never, { env: { ...withOverlay, defaultBackendTimeoutMs: 30_000 } });
  await explicit?.run(createTestContext());
  assert.equal(calls[2]?.options.timeoutMs, 5_000, 'the element wins over the overlay');
});

test('run <forward-request>: a PolicyFailure from the backend layer propagates (→ on-error)', async () => {
  const failure = new PolicyFailure('forward-request', 'Timeout', 'Request to the backend timed out', 504, 'GH_BACKEND_TIMEOUT');
  const { forwarder } = recordingForwarder(() => {
    throw failure;
  });
  const [handler] = compileForTest('<forward-request timeout="1" />', forwardRequestPolicy as never, { env: compileEnvForTest({ forwarder }) });
  await assert.rejects(async () => handler?.run(createTestContext()), (err) => err === failure);
});
