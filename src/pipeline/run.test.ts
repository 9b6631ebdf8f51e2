import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addResponseDecorator, PolicyFailure, type GatewayContext } from './context.ts';
import type { HandlerResult, PolicyHandler } from './handler.ts';
import type { CompiledPipeline } from './pipeline.ts';
import { runPipeline } from './run.ts';
import { createTestContext } from './testing.ts';

const at = { file: 't.xml', line: 1, column: 1 };

function step(name: string, run: (ctx: GatewayContext) => HandlerResult | Promise<HandlerResult>, scope = 'api:a'): PolicyHandler {
  return { name, location: at, scope, policyId: undefined, run };
}

function trail(ctx: GatewayContext): string[] {
  let list = ctx.variables.get('trail') as string[] | undefined;
  if (!list) ctx.variables.set('trail', (list = []));
  return list;
}

const visit = (label: string) => step(label, (ctx) => void trail(ctx).push(label));

function pipeline(p: Partial<CompiledPipeline>): CompiledPipeline {
  return { inbound: [], backend: [], outbound: [], onError: [], corsHandlers: [], effective: { inbound: [], backend: [], outbound: [], 'on-error': [] }, ...p };
}

const backend = step('forward-request', async (ctx) => {
  trail(ctx).push('backend');
  await Promise.resolve();
  ctx.response = { status: 201, headers: { 'x-backend': '1' }, body: 'from backend' };
});

test('sections run in order: inbound, backend, outbound', async () => {
  const ctx = createTestContext();
  const res = await runPipeline(pipeline({ inbound: [visit('in1'), visit('in2')], backend: [backend], outbound: [visit('out')] }), ctx);
  assert.deepEqual(trail(ctx), ['in1', 'in2', 'backend', 'out']);
  assert.equal(res.status, 201);
  assert.equal(res.body, 'from backend');
});

test("'respond' in inbound ends the pipeline: no backend, no outbound", async () => {
  const ctx = createTestContext();
  const answer = step('return-response', (c) => {
    c.response = { status: 418, headers: {}, body: null };
    return 'respond';
  });
  const res = await runPipeline(pipeline({ inbound: [answer, visit('never')], backend: [backend], outbound: [visit('never-out')] }), ctx);
  assert.equal(res.status, 418);
  assert.deepEqual(trail(ctx), []);
});

test('without forward-request the response is an empty 200 that outbound can change', async () => {
  const ctx = createTestContext();
  const setStatus = step('set-status', (c) => void (c.response && (c.response.status = 204)));
  const res = await runPipeline(pipeline({ outbound: [setStatus] }), ctx);
  assert.equal(res.status, 204);
  assert.equal(res.body, null);
});

test('a PolicyFailure jumps to on-error with LastError; remaining steps are skipped', async () => {
  const ctx = createTestContext();
  const deny = step('ip-filter', () => {
    throw new PolicyFailure('ip-filter', 'CallerIpNotAllowed', 'Caller IP address 1.2.3.4 is not allowed. Access denied.', 403);
  }, 'global');
  let seen: GatewayContext['lastError'] = null;
  const onError = step('set-header', (c) => {
    seen = c.lastError;
    trail(c).push(`on-error:${c.section}`);
  });
  const res = await runPipeline(pipeline({ inbound: [visit('in'), deny, visit('skipped')], backend: [backend], onError: [onError] }), ctx);
  assert.deepEqual(trail(ctx), ['in', 'on-error:on-error']);
  assert.equal(res.status, 403);
  assert.deepEqual(JSON.parse(String(res.body)), { statusCode: 403, message: 'Caller IP address 1.2.3.4 is not allowed. Access denied.' });
  assert.deepEqual(seen, { source: 'ip-filter', reason: 'CallerIpNotAllowed', message: 'Caller IP address 1.2.3.4 is not allowed. Access denied.', scope: 'global', section: 'inbound', policyId: undefined, code: undefined });
});

test('on-error can replace the error response', async () => {
  const ctx = createTestContext();
  const fail = step('forward-request', () => Promise.reject(new PolicyFailure('forward-request', 'Timeout', 'timed out', 504, 'GH_BACKEND_TIMEOUT')));
  const replace = step('return-response', (c) => {
    c.response = { status: 503, headers: { 'retry-after': '1' }, body: 'try later' };
    return 'respond';
  });
  const res = await runPipeline(pipeline({ backend: [fail], onError: [replace, visit('not-after-respond')] }), ctx);
  assert.equal(res.status, 503);
  assert.equal(ctx.lastError?.section, 'backend');
  assert.equal(ctx.lastError?.code, 'GH_BACKEND_TIMEOUT');
  assert.deepEqual(trail(ctx), []);
});

test('an unexpected exception becomes a 500 with LastError naming the policy, never a crash', async () => {
  const ctx = createTestContext();
  const buggy = step('set-header', () => {
    throw new TypeError('boom');
  });
  const res = await runPipeline(pipeline({ outbound: [buggy] }), ctx);
  assert.equal(res.status, 500);
  assert.equal(ctx.lastError?.source, 'set-header');
  assert.equal(ctx.lastError?.code, 'GH_INTERNAL');
  assert.equal(ctx.lastError?.section, 'outbound');
});

test('a failure inside on-error ends processing with the response as it stands', async () => {
  const ctx = createTestContext();
  const fail = step('x', () => {
    throw new PolicyFailure('x', 'R', 'm', 400);
  });
  const failAgain = step('y', () => {
    throw new Error('again');
  });
  const res = await runPipeline(pipeline({ inbound: [fail], onError: [failAgain] }), ctx);
  assert.equal(res.status, 400);
});

test('response decorators apply to the final response whichever step produced it', async () => {
  const decorator = { decorate: (r: { headers: Record<string, unknown> }) => void (r.headers['x-decorated'] = 'yes') };
  const decorate = step('cors', (c) => addResponseDecorator(c, decorator));
  const paths: CompiledPipeline[] = [
    pipeline({ inbound: [decorate], backend: [backend] }),
    pipeline({ inbound: [decorate, step('return-response', (c) => ((c.response = { status: 200, headers: {}, body: null }), 'respond'))] }),
    pipeline({ inbound: [decorate], backend: [step('forward-request', () => Promise.reject(new PolicyFailure('forward-request', 'BackendConnectionFailure', 'down', 502)))] }),
  ];
  for (const p of paths) {
    const res = await runPipeline(p, createTestContext());
    assert.equal(res.headers['x-decorated'], 'yes');
  }
  // Added twice, applied once.
  const ctx = createTestContext();
  let count = 0;
  const counting = { decorate: () => void count++ };
  await runPipeline(pipeline({ inbound: [step('a', (c) => addResponseDecorator(c, counting)), step('b', (c) => addResponseDecorator(c, counting))] }), ctx);
  assert.equal(count, 1);
});

test('a backend response replaced by on-error has its body released (its connection is reused)', async () => {
  let released = false;
  async function* backendBody(): AsyncGenerator<Uint8Array> {
    try {
      yield new Uint8Array([1]);
    } finally {
      released = true;
    }
  }
  const body = backendBody();
  // Start the stream, as undici has, so return() runs its finally.
  await body.next();
  const answered = step('forward-request', (c) => {
    c.response = { status: 200, headers: {}, body };
  });
  const failing = step('set-header', () => {
    throw new PolicyFailure('set-header', 'R', 'outbound failed', 500);
  });
  const res = await runPipeline(pipeline({ backend: [answered], outbound: [failing] }), createTestContext());
  await new Promise((r) => setImmediate(r));
  assert.equal(res.status, 500);
  assert.notEqual(res.body, body);
  assert.equal(released, true);
});

test('a pipeline whose steps all return synchronously gives the response itself, not a promise', () => {
  const answer = step('return-response', (c) => {
    c.response = { status: 418, headers: { 'x-teapot': '1' }, body: 'short and stout' };
    return 'respond';
  });
  const ctx = createTestContext();
  const answered = runPipeline(pipeline({ inbound: [visit('in'), answer], backend: [backend], outbound: [visit('never-out')] }), ctx);
  assert.ok(!(answered instanceof Promise), 'no promise for a synchronous pipeline');
  assert.deepEqual(answered, { status: 418, headers: { 'x-teapot': '1' }, body: 'short and stout' });
  assert.deepEqual(trail(ctx), ['in']);

  // Through every section (no forward-request): the empty 200, changed by outbound, decorated.
  const ctx2 = createTestContext();
  const setStatus = step('set-status', (c) => void (c.response && (c.response.status = 204)));
  const decorate = step('cors', (c) => addResponseDecorator(c, { decorate: (r) => void (r.headers['x-decorated'] = 'yes') }));
  const through = runPipeline(pipeline({ inbound: [decorate, visit('in')], backend: [visit('backend')], outbound: [visit('out'), setStatus] }), ctx2);
  assert.ok(!(through instanceof Promise));
  assert.deepEqual(through, { status: 204, headers: { 'x-decorated': 'yes' }, body: null });
  assert.deepEqual(trail(ctx2), ['in', 'backend', 'out']);
});

test('an asynchronous step in any section gives a promise, and the sections after it still run in order', async () => {
  const later = (label: string) => step(label, async (c) => {
    await Promise.resolve();
    trail(c).push(label);
  });
  const cases: { name: string; p: CompiledPipeline; trail: string[] }[] = [
    { name: 'inbound', p: pipeline({ inbound: [visit('in1'), later('in2'), visit('in3')], backend: [visit('backend')], outbound: [visit('out')] }), trail: ['in1', 'in2', 'in3', 'backend', 'out'] },
    { name: 'backend', p: pipeline({ inbound: [visit('in')], backend: [later('backend')], outbound: [visit('out')] }), trail: ['in', 'backend', 'out'] },
    { name: 'outbound', p: pipeline({ inbound: [visit('in')], backend: [visit('backend')], outbound: [later('out1'), visit('out2')] }), trail: ['in', 'backend', 'out1', 'out2'] },
  ];
  for (const c of cases) {
    const ctx = createTestContext();
    const pending = runPipeline(c.p, ctx);
    assert.ok(pending instanceof Promise, c.name);
    const res = await pending;
    assert.deepEqual(trail(ctx), c.trail, c.name);
    assert.deepEqual(res, { status: 200, headers: {}, body: null }, c.name);
    assert.equal(ctx.section, 'outbound', c.name);
  }
  // 'respond' from an asynchronous inbound step still skips backend and outbound.
  const ctx = createTestContext();
  const answerLater = step('send-request', async (c): Promise<HandlerResult> => {
    await Promise.resolve();
    c.response = { status: 202, headers: {}, body: 'later' };
    return 'respond';
  });
  const res = await runPipeline(pipeline({ inbound: [answerLater, visit('never')], backend: [backend], outbound: [visit('never-out')] }), ctx);
  assert.deepEqual(res, { status: 202, headers: {}, body: 'later' });
  assert.deepEqual(trail(ctx), []);
});

test('a synchronous throw still goes through on-error, with LastError naming its section', async () => {
  const seen: { section: string; lastError: GatewayContext['lastError'] }[] = [];
  const onError = step('set-header', (c) => {
    seen.push({ section: c.section, lastError: c.lastError });
    if (c.response) c.response.headers['x-on-error'] = 'ran';
  });
  const deny = step('ip-filter', () => {
    throw new PolicyFailure('ip-filter', 'CallerIpNotAllowed', 'denied', 403);
  }, 'global');
  const ctx = createTestContext();
  const res = await runPipeline(pipeline({ inbound: [visit('in'), deny, visit('skipped')], backend: [backend], onError: [onError] }), ctx);
  assert.equal(res.status, 403);
  assert.equal(res.headers['x-on-error'], 'ran');
  assert.deepEqual(JSON.parse(String(res.body)), { statusCode: 403, message: 'denied' });
  assert.deepEqual(trail(ctx), ['in']);
  assert.deepEqual(seen, [{ section: 'on-error', lastError: { source: 'ip-filter', reason: 'CallerIpNotAllowed', message: 'denied', scope: 'global', section: 'inbound', policyId: undefined, code: undefined } }]);

  // A synchronous throw in backend after an asynchronous inbound: LastError says backend.
  seen.length = 0;
  const ctx2 = createTestContext();
  const slowInbound = step('authentication', async () => {
    await Promise.resolve();
  });
  const buggyBackend = step('forward-request', () => {
    throw new TypeError('boom');
  });
  const res2 = await runPipeline(pipeline({ inbound: [slowInbound], backend: [buggyBackend], outbound: [visit('never-out')], onError: [onError] }), ctx2);
  assert.equal(res2.status, 500);
  assert.equal(res2.headers['x-on-error'], 'ran');
  assert.deepEqual(trail(ctx2), []);
  assert.equal(seen[0]?.lastError?.section, 'backend');
  assert.equal(seen[0]?.lastError?.source, 'forward-request');
  assert.equal(seen[0]?.lastError?.code, 'GH_INTERNAL');
});
