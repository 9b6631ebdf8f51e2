import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileEnvForTest, compileForTest } from '../../policy/testing.ts';
import type { PolicyDefinition } from '../../policy/define-policy.ts';
import { PolicyFailure, type GatewayContext, type GatewayResponse, type HeaderMap } from '../../pipeline/context.ts';
import type { HandlerResult, PolicyHandler } from '../../pipeline/handler.ts';
import type { CompiledPipeline } from '../../pipeline/pipeline.ts';
import { runPipeline } from '../../pipeline/run.ts';
import { createTestContext } from '../../pipeline/testing.ts';
import { CORS_STATE_KEY, corsDecisionOf, corsPolicy, isCorsHandler } from './cors.ts';

const def = corsPolicy as PolicyDefinition<unknown>;

function corsHandler(xml: string, terminateDefault = false): PolicyHandler {
  const [handler] = compileForTest(xml, def, { env: compileEnvForTest({ compat: { corsTerminateUnmatchedDefault: terminateDefault } }) });
  assert.ok(handler !== undefined);
  return handler;
}

const PORTAL = corsHandler(`
<cors allow-credentials="true" id="portal-cors">
  <allowed-origins><origin>https://portal.example.net/</origin></allowed-origins>
  <allowed-methods preflight-result-max-age="300"><method>*</method></allowed-methods>
  <allowed-headers><header>*</header></allowed-headers>
  <expose-headers><header>X-Total</header></expose-headers>
</cors>`);
const TERMINATE = corsHandler(`
<cors terminate-unmatched-request="true">
  <allowed-origins><origin>https://app.example.com</origin></allowed-origins>
  <allowed-headers><header>content-type</header></allowed-headers>
</cors>`);
const ANY = corsHandler('<cors><allowed-origins><origin>*</origin></allowed-origins><allowed-headers><header>*</header></allowed-headers></cors>');

const at = { file: 't.xml', line: 1, column: 1 };
function step(name: string, run: (ctx: GatewayContext) => HandlerResult | Promise<HandlerResult>): PolicyHandler {
  return { name, location: at, scope: 'api:a', policyId: undefined, run };
}
function pipeline(p: Partial<CompiledPipeline>): CompiledPipeline {
  return { inbound: [], backend: [], outbound: [], onError: [], corsHandlers: [], effective: { inbound: [], backend: [], outbound: [], 'on-error': [] }, ...p };
}
const backendSends = (headers: HeaderMap) =>
  step('forward-request', (ctx) => {
    ctx.response = { status: 200, headers: { ...headers }, body: '{"ok":true}' };
  });

test('the compiled handler exposes its CompiledCors, name, scope and policy id', () => {
  assert.ok(isCorsHandler(PORTAL));
  assert.equal(PORTAL.name, 'cors');
  assert.equal(PORTAL.scope, 'api');
  assert.equal(PORTAL.policyId, 'portal-cors');
  assert.deepEqual(PORTAL.location, { file: 'test.xml', line: 2, column: 1 });
  assert.equal(isCorsHandler(step('cors-lookalike', () => undefined)), false);
});

test('matched actual request: CORS headers merged with the backend\'s — one ACAO (ours), Vary merged', async () => {
  const ctx = createTestContext({ headers: { origin: 'https://portal.example.net' } });
  const res = await runPipeline(
    pipeline({
      inbound: [PORTAL],
      backend: [backendSends({ 'access-control-allow-origin': '*', 'access-control-expose-headers': 'x-secret', vary: 'Accept-Encoding', 'content-type': 'application/json' })],
    }),
    ctx,
  );
  assert.equal(res.status, 200);
  assert.deepEqual(res.headers, {
    'access-control-allow-origin': 'https://portal.example.net',
    'access-control-allow-credentials': 'true',
    'access-control-expose-headers': 'X-Total',
    vary: 'Accept-Encoding, Origin',
    'content-type': 'application/json',
  });
  assert.equal(corsDecisionOf(ctx)?.kind, 'actual-headers');
});

test('Vary already naming Origin (any case, list form) is not duplicated', async () => {
  const ctx = createTestContext({ headers: { origin: 'https://portal.example.net' } });
  const res = await runPipeline(pipeline({ inbound: [PORTAL], backend: [backendSends({ vary: ['accept-encoding', 'ORIGIN'] })] }), ctx);
  assert.equal(res.headers['vary'], 'accept-encoding, ORIGIN');
});

test('headers land on responses from return-response and on-error too', async () => {
  const returnResponse = step('return-response', (ctx) => {
    ctx.response = { status: 202, headers: {}, body: null };
    return 'respond';
  });
  const fails = step('rate-limit', () => {
    throw new PolicyFailure('rate-limit', 'RateLimitExceeded', 'Rate limit is exceeded', 429);
  });
  const setStatus = step('set-status', (ctx) => {
    (ctx.response as GatewayResponse).status = 503;
  });
  for (const p of [pipeline({ inbound: [PORTAL, returnResponse] }), pipeline({ inbound: [PORTAL, fails], onError: [setStatus] })]) {
    const ctx = createTestContext({ headers: { origin: 'https://portal.example.net' } });
    const res = await runPipeline(p, ctx);
    assert.equal(res.headers['access-control-allow-origin'], 'https://portal.example.net');
    assert.equal(res.headers['vary'], 'Origin');
  }
});

test('no Origin: the response only gains Vary: Origin', async () => {
  const ctx = createTestContext();
  const res = await runPipeline(pipeline({ inbound: [PORTAL], backend: [backendSends({ 'content-type': 'text/plain' })] }), ctx);
  assert.deepEqual(res.headers, { 'content-type': 'text/plain', vary: 'Origin' });
});

for (const method of ['GET', 'HEAD']) {
  test(`unmatched ${method} with terminate-unmatched-request=true: empty 200, pipeline stops`, async () => {
    const ctx = createTestContext({ method, headers: { origin: 'https://evil.example' } });
    let backendRan = false;
    const res = await runPipeline(pipeline({ inbound: [TERMINATE], backend: [step('forward-request', () => void (backendRan = true))] }), ctx);
    assert.equal(backendRan, false);
    assert.deepEqual(res, { status: 200, statusText: 'OK', headers: { vary: 'Origin' }, body: null });
  });
}

test('unmatched POST with terminate=true proceeds without CORS headers (gatehouse decision)', async () => {
  const ctx = createTestContext({ method: 'POST', headers: { origin: 'https://evil.example' } });
  const res = await runPipeline(pipeline({ inbound: [TERMINATE], backend: [backendSends({})] }), ctx);
  assert.equal(res.body, '{"ok":true}');
  assert.deepEqual(res.headers, { vary: 'Origin' });
});

test('unmatched GET with terminate absent (compat default false) proceeds; with compat true it terminates', async () => {
  const xml = '<cors><allowed-origins><origin>https://app.example.com</origin></allowed-origins><allowed-headers><header>x</header></allowed-headers></cors>';
  const proceed = await runPipeline(pipeline({ inbound: [corsHandler(xml, false)], backend: [backendSends({})] }), createTestContext({ headers: { origin: 'https://evil.example' } }));
  assert.equal(proceed.body, '{"ok":true}');
  const terminate = await runPipeline(pipeline({ inbound: [corsHandler(xml, true)], backend: [backendSends({})] }), createTestContext({ headers: { origin: 'https://evil.example' } }));
  assert.equal(terminate.body, null);
});

test('only the first cors that runs decides: a second one does nothing', async () => {
  // First unmatched (proceed), second would match: no CORS headers.
  const lenient = corsHandler('<cors terminate-unmatched-request="false"><allowed-origins><origin>https://app.example.com</origin></allowed-origins><allowed-headers><header>x</header></allowed-headers></cors>');
  const ctx = createTestContext({ headers: { origin: 'https://portal.example.net' } });
  const res = await runPipeline(pipeline({ inbound: [lenient, PORTAL], backend: [backendSends({})] }), ctx);
  assert.deepEqual(res.headers, { vary: 'Origin' });
  assert.equal(corsDecisionOf(ctx)?.decidedBy, isCorsHandler(lenient) ? lenient.cors : undefined);
  assert.equal(ctx.responseDecorators?.length, 1);

  // First matched: the second (* without credentials) does not change the answer.
  const ctx2 = createTestContext({ headers: { origin: 'https://portal.example.net' } });
  const res2 = await runPipeline(pipeline({ inbound: [PORTAL, ANY], backend: [backendSends({})] }), ctx2);
  assert.equal(res2.headers['access-control-allow-origin'], 'https://portal.example.net');
  assert.equal(res2.headers['access-control-allow-credentials'], 'true');
});

test('a preflight in the pipeline (an OPTIONS operation matched) is answered by a cors that runs there', () => {
  const ctx = createTestContext({ method: 'OPTIONS', headers: { origin: 'https://portal.example.net', 'access-control-request-method': 'PUT' } });
  assert.equal(PORTAL.run(ctx), 'respond');
  assert.deepEqual(ctx.response, {
    status: 200,
    statusText: 'OK',
    body: null,
    headers: {
      'access-control-allow-origin': 'https://portal.example.net',
      'access-control-allow-credentials': 'true',
      'access-control-allow-methods': 'PUT',
      'access-control-max-age': '300',
      vary: 'Origin, Access-Control-Request-Method',
    },
  });
  assert.equal(corsDecisionOf(ctx)?.kind, 'preflight-answer');
});

test('an unmatched preflight in the pipeline: terminate=true answers an empty 200; false leaves it to the next cors', () => {
  const request = { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'GET' } };
  const ctx = createTestContext(request);
  assert.equal(TERMINATE.run(ctx), 'respond');
  assert.deepEqual(ctx.response, { status: 200, statusText: 'OK', headers: {}, body: null });

  const lenient = corsHandler('<cors terminate-unmatched-request="false"><allowed-origins><origin>https://app.example.com</origin></allowed-origins><allowed-headers><header>x</header></allowed-headers></cors>');
  const ctx2 = createTestContext(request);
  assert.equal(lenient.run(ctx2), undefined);
  assert.equal(ctx2.response, null);
  assert.equal(ctx2.state.has(CORS_STATE_KEY), false);
  assert.equal(ANY.run(ctx2), 'respond');
  assert.equal((ctx2.response as GatewayResponse | null)?.headers['access-control-allow-origin'], '*');
});

test('several Origin values (duplicated header) never match', async () => {
  const ctx = createTestContext({ headers: { origin: ['https://portal.example.net', 'https://portal.example.net'] } });
  const res = await runPipeline(pipeline({ inbound: [PORTAL], backend: [backendSends({})] }), ctx);
  assert.deepEqual(res.headers, { vary: 'Origin' });
  assert.equal(corsDecisionOf(ctx)?.reasons[0]?.code, 'origin-invalid');
});
