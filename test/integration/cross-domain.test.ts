/**
 * cross-domain through a real gateway: the global policy of test/fixtures/cross-domain-e2e serves
 * /crossdomain.xml before routing (docs/cross-domain.md §3), even though an API at the root has a
 * GET /crossdomain.xml operation; `gatehouse validate` refuses the policy at API and operation
 * scope (test/fixtures/cross-domain-api-scope) with positions.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { runCli } from '../helpers/cli.ts';
import { createGateway, type Gateway } from '../../src/gateway.ts';
import { ConfigError } from '../../src/policy/diagnostics.ts';

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));

/** Elements in the DTD's order (the source lists them in another), attributes in a fixed order. */
const EXPECTED_XML = [
  '<?xml version="1.0"?>',
  '<cross-domain-policy>',
  '  <site-control permitted-cross-domain-policies="master-only"/>',
  '  <allow-access-from domain="*.example.com"/>',
  '  <allow-access-from domain="192.0.2.10" to-ports="80,443" secure="false"/>',
  '  <allow-http-request-headers-from domain="*.example.com" headers="SOAPAction, X-Requested-With" secure="true"/>',
  '  <allow-access-from-identity>',
  '    <signatory>',
  '      <certificate fingerprint="01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67" fingerprint-algorithm="sha-1"/>',
  '    </signatory>',
  '  </allow-access-from-identity>',
  '</cross-domain-policy>',
  '',
].join('\n');

let backend: Server;
let gateway: Gateway;
const seen: string[] = [];

before(async () => {
  backend = createServer((req, res) => {
    seen.push(`${req.method} ${req.url}`);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ backend: `${req.method} ${req.url}` }));
  });
  await new Promise<void>((resolve) => backend.listen(0, '127.0.0.1', resolve));
  const backendUrl = `http://127.0.0.1:${(backend.address() as AddressInfo).port}`;
  gateway = await createGateway({
    configDir: fixture('cross-domain-e2e'),
    port: 0,
    host: '127.0.0.1',
    serviceUrls: { root: `${backendUrl}/root`, svc: `${backendUrl}/svc` },
  });
});

after(async () => {
  await gateway?.close();
  backend?.closeAllConnections();
  await new Promise((r) => backend?.close(r));
});

async function call(method: string, path: string) {
  const res = await request(`${gateway.url}${path}`, { method: method as 'GET' });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text };
}

test('GET /crossdomain.xml answers the policy file with text/x-cross-domain-policy, before routing and policies', async () => {
  const before = seen.length;
  const res = await call('GET', '/crossdomain.xml');
  assert.equal(res.status, 200);
  assert.equal(res.text, EXPECTED_XML);
  assert.equal(res.headers['content-type'], 'text/x-cross-domain-policy');
  assert.equal(res.headers['x-content-type-options'], 'nosniff');
  assert.equal(res.headers['content-length'], String(Buffer.byteLength(EXPECTED_XML)));
  // The root API's GET /crossdomain.xml operation is shadowed, and no other policy ran.
  assert.equal(seen.length, before, 'the backend was not called');
  assert.equal(res.headers['x-global-inbound'], undefined);
  assert.equal(res.headers['x-global-outbound'], undefined);
});

test('the query does not matter', async () => {
  const res = await call('GET', '/crossdomain.xml?cache-buster=123');
  assert.equal(res.status, 200);
  assert.equal(res.text, EXPECTED_XML);
});

test('HEAD /crossdomain.xml: the same headers, no body', async () => {
  const res = await call('HEAD', '/crossdomain.xml');
  assert.equal(res.status, 200);
  assert.equal(res.text, '');
  assert.equal(res.headers['content-type'], 'text/x-cross-domain-policy');
  assert.equal(res.headers['content-length'], String(Buffer.byteLength(EXPECTED_XML)));
  assert.equal(res.headers['x-content-type-options'], 'nosniff');
});

test('other methods and other paths are routed normally', async () => {
  const post = await call('POST', '/crossdomain.xml');
  assert.equal(post.status, 200);
  assert.deepEqual(JSON.parse(post.text), { backend: 'POST /root/crossdomain.xml' });
  assert.equal(post.headers['x-global-outbound'], 'ran', 'an ordinary request runs the global policy');

  // Case matters: Flash asks for exactly /crossdomain.xml.
  const upper = await call('GET', '/CROSSDOMAIN.XML');
  assert.equal(upper.status, 200);
  assert.deepEqual(JSON.parse(upper.text), { backend: 'GET /root/CROSSDOMAIN.XML' });

  // Only the host root: below an API suffix it is that API's operation.
  const below = await call('GET', '/svc/crossdomain.xml');
  assert.equal(below.status, 200);
  assert.deepEqual(JSON.parse(below.text), { backend: 'GET /svc/crossdomain.xml' });

  const silverlight = await call('GET', '/clientaccesspolicy.xml');
  assert.deepEqual(JSON.parse(silverlight.text), { backend: 'GET /root/clientaccesspolicy.xml' });
});

const run = runCli;

test('gatehouse validate accepts the global <cross-domain>', async () => {
  const r = await run('validate', '--config', fixture('cross-domain-e2e'));
  assert.equal(r.code, 0, r.out + r.err);
  assert.match(r.out, /^valid: .*cross-domain-e2e \(0 error\(s\), 0 warning\(s\)/m);
});

test('gatehouse validate refuses <cross-domain> at API and operation scope, at the element\'s line:column', async () => {
  const r = await run('validate', '--config', fixture('cross-domain-api-scope'));
  assert.equal(r.code, 1);
  const errors = r.out.split('\n').filter((l) => l.includes(' GH_'));
  assert.deepEqual(
    errors.map((l) => l.slice(0, l.indexOf(' <')).replace(/^.*cross-domain-api-scope\//, '')),
    ['apis/legacy/operations/get-legacy/policy.xml:3:13 GH_POLICY_SCOPE_NOT_ALLOWED', 'apis/legacy/policy.xml:4:7 GH_POLICY_SCOPE_NOT_ALLOWED'],
  );
  assert.match(errors[1] ?? '', /<cross-domain> is not allowed at api scope; APIM allows it at global/);
  assert.match(r.out, /invalid: .*\(2 error\(s\)/);
});

test('the gateway refuses to start on that folder', async () => {
  await assert.rejects(
    createGateway({ configDir: fixture('cross-domain-api-scope'), port: 0, host: '127.0.0.1' }),
    (err: unknown) => err instanceof ConfigError && err.diagnostics.filter((d) => d.code === 'GH_POLICY_SCOPE_NOT_ALLOWED').length === 2,
  );
});
