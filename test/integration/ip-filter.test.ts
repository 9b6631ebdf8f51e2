/**
 * ip-filter through a real gateway, with clients connecting FROM different loopback addresses
 * (all of 127.0.0.0/8 is loopback on Linux, so 127.0.0.2 … are real source addresses here).
 *
 * Folder test/fixtures/ip-filter-e2e:
 * - global inbound: allow 127.0.0.1, 127.0.0.3–127.0.0.9, ::1 (so 127.0.0.2 and 127.0.0.10 are refused);
 * - API `guarded`: forbid 127.0.0.2, 127.0.0.4–127.0.0.6, ::1, written BEFORE <base />;
 * - operation `guarded/admin`: allow 127.0.0.1 only, after <base />;
 * - API `open`: no policy of its own.
 * The trusted-proxy cases add test/fixtures/overlays/trusted-loopback-proxy.yaml (trustedProxies: 127.0.0.1).
 * docs/ip-filter.md is the specification.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { createGateway, type Gateway } from '../../src/gateway.ts';
import { NO_PRODUCT } from '../../src/gateway/compile-config.ts';
import { createTestContext } from '../../src/pipeline/testing.ts';
import { runPipeline } from '../../src/pipeline/run.ts';
import type { CompiledPipeline } from '../../src/pipeline/pipeline.ts';

const FOLDER = fileURLToPath(new URL('../fixtures/ip-filter-e2e', import.meta.url));
const TRUSTED_PROXY_OVERLAY = fileURLToPath(new URL('../fixtures/overlays/trusted-loopback-proxy.yaml', import.meta.url));
const FORBIDDEN = '{"statusCode":403,"message":"Forbidden"}';

let backend: Server;
let backendUrl: string;
/** The plain gateway, on 127.0.0.1. */
let gateway: Gateway;
/** The same folder with trustedProxies: [127.0.0.1], on 127.0.0.1. */
let proxied: Gateway;
/** The paths that reached the backend. */
const seen: string[] = [];
/** The X-Forwarded-For each backend request carried, in order. */
const forwardedFor: (string | undefined)[] = [];
const agents = new Map<string, Agent>();

/** A dispatcher whose connections leave from `localAddress` (one per address, reused). */
function from(localAddress: string): Agent {
  let agent = agents.get(localAddress);
  if (agent === undefined) {
    // Client's own `localAddress` option (undici passes it to net.connect; `connect.localAddress` is overridden by it).
    agent = new Agent({ localAddress });
    agents.set(localAddress, agent);
  }
  return agent;
}

async function call(base: string, source: string, path: string, headers: Record<string, string> = {}) {
  const res = await request(`${base}${path}`, { dispatcher: from(source), headers });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text };
}

function serviceUrls(): Record<string, string> {
  return { open: `${backendUrl}/open`, guarded: `${backendUrl}/guarded` };
}

before(async () => {
  backend = createServer((req, res) => {
    seen.push(req.url ?? '');
    forwardedFor.push(req.headers['x-forwarded-for'] as string | undefined);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ path: req.url }));
  });
  await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve));
  backendUrl = `http://127.0.0.1:${(backend.address() as AddressInfo).port}`;
  gateway = await createGateway({ configDir: FOLDER, port: 0, host: '127.0.0.1', serviceUrls: serviceUrls() });
  proxied = await createGateway({ configDir: FOLDER, overlayFile: TRUSTED_PROXY_OVERLAY, port: 0, host: '127.0.0.1', serviceUrls: serviceUrls() });
});

after(async () => {
  await Promise.all([gateway?.close(), proxied?.close(), ...[...agents.values()].map((a) => a.close())]);
  backend?.closeAllConnections();
  await new Promise((r) => backend?.close(r));
});

function assertRefused(res: { status: number; headers: Record<string, unknown>; text: string }, what: string, apiOnError?: string): void {
  assert.equal(res.status, 403, what);
  assert.equal(res.text, FORBIDDEN, what);
  assert.equal(res.headers['content-type'], 'application/json', what);
  assert.equal(res.headers['content-length'], String(FORBIDDEN.length), what);
  // on-error ran (global, reached through <base /> where the API has its own on-error).
  assert.equal(res.headers['x-on-error'], 'global', what);
  assert.equal(res.headers['x-api-on-error'], apiOnError, what);
}

test('the source addresses are real: a server sees 127.0.0.2 and 127.0.0.3 as the peer', async () => {
  const probe = createServer((req, res) => res.end(req.socket.remoteAddress));
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  try {
    const url = `http://127.0.0.1:${(probe.address() as AddressInfo).port}/`;
    for (const source of ['127.0.0.2', '127.0.0.3']) {
      const res = await request(url, { dispatcher: from(source) });
      assert.equal(await res.body.text(), source);
    }
  } finally {
    probe.closeAllConnections();
    await new Promise((r) => probe.close(r));
  }
});

test('allow list: 127.0.0.1 is admitted, 127.0.0.2 gets 403 {"statusCode":403,"message":"Forbidden"} and never reaches the backend', async () => {
  const ok = await call(gateway.url, '127.0.0.1', '/open/items');
  assert.equal(ok.status, 200);
  assert.deepEqual(JSON.parse(ok.text), { path: '/open/items' });
  assert.equal(ok.headers['x-on-error'], undefined);

  const before = seen.length;
  assertRefused(await call(gateway.url, '127.0.0.2', '/open/items'), '127.0.0.2');
  assertRefused(await call(gateway.url, '127.0.0.10', '/open/items'), '127.0.0.10, just past the range');
  assert.equal(seen.length, before, 'refused callers never reach the backend');
});

test('allow list ranges are inclusive at both ends', async () => {
  for (const source of ['127.0.0.3', '127.0.0.7', '127.0.0.9']) {
    assert.equal((await call(gateway.url, source, '/open/items')).status, 200, source);
  }
});

test('forbid list with an address and an address-range, in front of the global allow list', async () => {
  for (const source of ['127.0.0.4', '127.0.0.5', '127.0.0.6']) {
    assertRefused(await call(gateway.url, source, '/guarded/items'), source, 'guarded');
    // The same caller passes the global list alone.
    assert.equal((await call(gateway.url, source, '/open/items')).status, 200, `${source} on /open`);
  }
  for (const source of ['127.0.0.1', '127.0.0.3', '127.0.0.7']) {
    const res = await call(gateway.url, source, '/guarded/items');
    assert.equal(res.status, 200, source);
    assert.deepEqual(JSON.parse(res.text), { path: '/guarded/items' });
  }
});

test('several scopes apply in order: every allow list must admit the caller, the first refusal ends the request', async () => {
  // 127.0.0.3 passes the API forbid list and the global allow list, then the operation's allow list refuses it.
  assertRefused(await call(gateway.url, '127.0.0.3', '/guarded/admin'), '127.0.0.3 on /admin', 'guarded');
  assert.equal((await call(gateway.url, '127.0.0.1', '/guarded/admin')).status, 200);
  // 127.0.0.2 is on the API's forbid list and off the global allow list: either refusal is a 403.
  assertRefused(await call(gateway.url, '127.0.0.2', '/guarded/admin'), '127.0.0.2 on /admin', 'guarded');
});

/** The compiled pipeline the gateway runs for `api`/`operation`, outside any product. */
function pipelineOf(api: string, operation: string): CompiledPipeline {
  const compiledApi = gateway.snapshot.compiled.apis.find((a) => a.loaded.name === api);
  const op = compiledApi?.operations.find((o) => o.runtime.name === operation);
  const pipeline = op?.pipelines.get(NO_PRODUCT);
  assert.ok(pipeline, `${api}/${operation} has a pipeline`);
  return pipeline;
}

test('on-error sees which ip-filter refused and why (LastError on the gateway\'s compiled pipelines)', async () => {
  // Policy expressions are not supported yet, so no on-error policy can echo LastError over HTTP;
  // the gateway's own compiled pipelines are run here with a caller address and LastError is read.
  const cases = [
    // [api, operation, caller, reason, scope, message]
    ['open', 'open-items', '127.0.0.2', 'CallerIpNotAllowed', 'global', 'Caller IP address 127.0.0.2 is not allowed. Access denied.'],
    // The API's forbid list is written before <base />: it refuses 127.0.0.2 before the global list is asked.
    ['guarded', 'guarded-items', '127.0.0.2', 'CallerIpBlocked', 'api:guarded', 'Caller IP address is blocked. Access denied.'],
    ['guarded', 'guarded-items', '127.0.0.5', 'CallerIpBlocked', 'api:guarded', 'Caller IP address is blocked. Access denied.'],
    ['guarded', 'guarded-items', '127.0.0.10', 'CallerIpNotAllowed', 'global', 'Caller IP address 127.0.0.10 is not allowed. Access denied.'],
    ['guarded', 'admin', '127.0.0.3', 'CallerIpNotAllowed', 'operation:admin', 'Caller IP address 127.0.0.3 is not allowed. Access denied.'],
    ['open', 'open-items', 'unknown', 'FailedToParseCallerIP', 'global', 'Failed to establish IP address for the caller. Access denied.'],
  ] as const;
  for (const [api, operation, caller, reason, scope, message] of cases) {
    const ctx = createTestContext({ ipAddress: caller, path: `/${api}/x` });
    const response = await runPipeline(pipelineOf(api, operation), ctx);
    assert.equal(response.status, 403, `${api}/${operation} ${caller}`);
    assert.equal(response.body, FORBIDDEN);
    assert.equal(response.headers['x-on-error'], 'global');
    assert.deepEqual(
      ctx.lastError && { source: ctx.lastError.source, reason: ctx.lastError.reason, scope: ctx.lastError.scope, section: ctx.lastError.section, message: ctx.lastError.message },
      { source: 'ip-filter', reason, scope, section: 'inbound', message },
      `${api}/${operation} ${caller}`,
    );
  }
});

test('X-Forwarded-For is ignored without trustedProxies (APIM): a refused caller cannot claim an allowed address', async () => {
  assertRefused(await call(gateway.url, '127.0.0.2', '/open/items', { 'x-forwarded-for': '127.0.0.1' }), 'spoofed XFF');
  // And an admitted caller is not refused because of what it wrote.
  assert.equal((await call(gateway.url, '127.0.0.1', '/open/items', { 'x-forwarded-for': '127.0.0.2' })).status, 200);
});

test('trustedProxies: from the trusted proxy 127.0.0.1, X-Forwarded-For decides', async () => {
  // No header: the proxy itself is the caller.
  assert.equal((await call(proxied.url, '127.0.0.1', '/open/items')).status, 200);
  assertRefused(await call(proxied.url, '127.0.0.1', '/open/items', { 'x-forwarded-for': '127.0.0.2' }), 'XFF 127.0.0.2 via the proxy');
  assertRefused(await call(proxied.url, '127.0.0.1', '/guarded/items', { 'x-forwarded-for': '127.0.0.5' }), 'XFF 127.0.0.5 via the proxy', 'guarded');
  assert.equal((await call(proxied.url, '127.0.0.1', '/guarded/items', { 'x-forwarded-for': '127.0.0.7' })).status, 200);
  // Read from the right: the client-written left part is never believed.
  assert.equal((await call(proxied.url, '127.0.0.1', '/open/items', { 'x-forwarded-for': '127.0.0.2, 127.0.0.3' })).status, 200);
  assertRefused(await call(proxied.url, '127.0.0.1', '/open/items', { 'x-forwarded-for': '127.0.0.3, 127.0.0.2' }), 'right-most untrusted is 127.0.0.2');
  // A trusted hop in the list is skipped.
  assertRefused(await call(proxied.url, '127.0.0.1', '/open/items', { 'x-forwarded-for': '127.0.0.2, 127.0.0.1' }), 'trusted hop skipped');
  // An unreadable entry: the caller cannot be established (FailedToParseCallerIP), whatever the list says.
  assertRefused(await call(proxied.url, '127.0.0.1', '/open/items', { 'x-forwarded-for': 'unknown' }), 'XFF unknown');
});

test('trustedProxies: the backend sees the client chain plus the proxy hop, not the caller twice', async () => {
  forwardedFor.length = 0;
  assert.equal((await call(proxied.url, '127.0.0.1', '/open/items', { 'x-forwarded-for': '127.0.0.2, 127.0.0.3' })).status, 200);
  assert.deepEqual(forwardedFor, ['127.0.0.2, 127.0.0.3, 127.0.0.1']);
  forwardedFor.length = 0;
  assert.equal((await call(gateway.url, '127.0.0.1', '/open/items')).status, 200);
  assert.deepEqual(forwardedFor, ['127.0.0.1']);
});

test('trustedProxies: from an untrusted peer (127.0.0.3 or 127.0.0.2), X-Forwarded-For is ignored', async () => {
  // 127.0.0.3 is admitted on its own address; its claim to be 127.0.0.2 changes nothing.
  assert.equal((await call(proxied.url, '127.0.0.3', '/open/items', { 'x-forwarded-for': '127.0.0.2' })).status, 200);
  // 127.0.0.2 is refused on its own address; claiming 127.0.0.1 does not help.
  assertRefused(await call(proxied.url, '127.0.0.2', '/open/items', { 'x-forwarded-for': '127.0.0.1' }), 'untrusted peer with a spoofed XFF');
  // 127.0.0.5 on the forbid list stays refused whatever it claims.
  assertRefused(await call(proxied.url, '127.0.0.5', '/guarded/items', { 'x-forwarded-for': '127.0.0.7' }), 'forbidden peer', 'guarded');
});

/** True when this machine can bind `host` (IPv6 may be disabled in a container). */
async function canListen(host: string): Promise<boolean> {
  const server = createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, host, resolve);
    });
    return true;
  } catch {
    return false;
  } finally {
    server.close();
  }
}

const IPV6_LOOPBACK = await canListen('::1');

test('IPv6: ::1 is admitted by the global allow list and refused by the API forbid list', { skip: IPV6_LOOPBACK ? false : 'this machine has no IPv6 loopback (::1 cannot be bound)' }, async () => {
  const v6 = await createGateway({ configDir: FOLDER, port: 0, host: '::1', serviceUrls: serviceUrls() });
  try {
    assert.equal(v6.url, `http://[::1]:${v6.port}`);
    const ok = await call(v6.url, '::1', '/open/items');
    assert.equal(ok.status, 200);
    assertRefused(await call(v6.url, '::1', '/guarded/items'), '::1 on /guarded', 'guarded');
  } finally {
    await v6.close();
  }
});

/** True when a socket on `::` also accepts IPv4 connections (net.ipv6.bindv6only = 0). */
async function dualStack(): Promise<boolean> {
  if (!(await canListen('::'))) return false;
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '::', resolve));
  try {
    return await new Promise<boolean>((resolve) => {
      const socket = connect((server.address() as AddressInfo).port, '127.0.0.1', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
  } finally {
    server.close();
  }
}

const DUAL_STACK = await dualStack();

test('dual-stack socket: IPv4 callers arrive as ::ffff:127.0.0.x and still match the IPv4 rules', { skip: DUAL_STACK ? false : 'this machine has no dual-stack IPv6 socket (bindv6only or no IPv6)' }, async () => {
  const dual = await createGateway({ configDir: FOLDER, port: 0, host: '::', serviceUrls: serviceUrls() });
  try {
    const base = `http://127.0.0.1:${dual.port}`;
    assert.equal((await call(base, '127.0.0.1', '/open/items')).status, 200);
    assertRefused(await call(base, '127.0.0.2', '/open/items'), 'mapped 127.0.0.2');
    assertRefused(await call(base, '127.0.0.5', '/guarded/items'), 'mapped 127.0.0.5 in the IPv4 range', 'guarded');
    assert.equal((await call(base, '127.0.0.7', '/guarded/items')).status, 200);
  } finally {
    await dual.close();
  }
});
