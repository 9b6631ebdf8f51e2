/**
 * The command line, in process (main() with a capturing io) and once through the real bin.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { runCli } from './helpers/cli.ts';
import { startServices } from '../src/start.ts';

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

const run = runCli;

test('validate: a valid folder exits 0 and says so', async () => {
  const r = await run('validate', '--config', fixture('gateway-e2e'));
  assert.equal(r.code, 0, r.out + r.err);
  assert.match(r.out, /^valid: .*gateway-e2e \(0 error\(s\)/m);
});

test('validate: a broken folder lists every problem as file:line:col CODE message and exits 1', async () => {
  const r = await run('validate', '--config', fixture('broken'));
  assert.equal(r.code, 1);
  const lines = r.out.split('\n');
  const expected: [string, string][] = [
    ['broken/policy.xml:3:5', 'GH_POLICY_UNKNOWN_ELEMENT'],
    ['broken/policy.xml:11:5', 'GH_POLICY_SECTION_NOT_ALLOWED'],
    ['broken/apis/broken-xml/policy.xml:4:', 'GH_XML_MALFORMED'],
    ['broken/apis/orders/policy.xml:5:14', 'GH_NAMED_VALUE_MISSING'],
    ['broken/apis/orders/policy.xml:8:5', 'GH_SCOPE_BASE_DUPLICATE'],
    ['broken/policy fragments/outer/policy.xml:2:3', 'GH_FRAGMENT_NESTED'],
    ['broken/apis/orders/operations/get-order/policy.xml:4:37', 'GH_POLICY_EXPRESSION_UNSUPPORTED'],
    ['broken/apis/orders/operations/get-order/policy.xml:5:5', 'GH_POLICY_NOT_IMPLEMENTED'],
  ];
  for (const [where, code] of expected) {
    assert.ok(lines.some((l) => l.includes(where) && l.includes(` ${code} `)), `expected a line with ${where} ${code} in:\n${r.out}`);
  }
  assert.match(r.out, /invalid: .*\(8 error\(s\)/);
});

test('start refuses a broken folder and says why', async () => {
  const r = await run('start', '--config', fixture('broken'), '--port', '0');
  assert.equal(r.code, 1);
  assert.match(r.err, /GH_POLICY_UNKNOWN_ELEMENT/);
  assert.match(r.err, /refusing to start: 8 error\(s\)/);
});

test('effective-policy prints the composed document with scope and file:line annotations', async () => {
  const r = await run('effective-policy', '--config', fixture('gateway-e2e'), '--api', 'shop', '--operation', 'get-item');
  assert.equal(r.code, 0, r.err);
  const inbound = r.out.slice(r.out.indexOf('<inbound>'), r.out.indexOf('</inbound>'));
  const order = ['<!-- global · policy.xml:3 -->', '<!-- api:shop · policy fragments/tag-request/policy.xml:2 -->', '<!-- operation:get-item · apis/shop/operations/get-item/policy.xml:4 -->'];
  let at = -1;
  for (const marker of order) {
    const next = inbound.indexOf(marker);
    assert.ok(next > at, `${marker} after the previous annotation in:\n${inbound}`);
    at = next;
  }
  assert.match(r.out, /<value>gatehouse-e2e<\/value>/, 'named values substituted');
  assert.doesNotMatch(r.out, /<base|include-fragment/, 'base and fragments resolved');
  assert.match(r.out, /<backend>\s*<!-- global · policy.xml:8 -->\s*<forward-request timeout="2" \/>/);
});

test('effective-policy: API scope only, unknown names and missing options', async () => {
  const api = await run('effective-policy', '--config', fixture('gateway-e2e'), '--api', 'shop');
  assert.equal(api.code, 0);
  assert.doesNotMatch(api.out, /set-query-parameter/, 'the operation scope is not included');
  const unknownApi = await run('effective-policy', '--config', fixture('gateway-e2e'), '--api', 'nope');
  assert.equal(unknownApi.code, 1);
  assert.match(unknownApi.err, /GH_CLI_NOT_FOUND no API named 'nope' \(known: .*shop/);
  const unknownOp = await run('effective-policy', '--config', fixture('gateway-e2e'), '--api', 'shop', '--operation', 'nope');
  assert.match(unknownOp.err, /GH_CLI_NOT_FOUND API 'shop' has no operation 'nope'/);
  const missing = await run('effective-policy', '--config', fixture('gateway-e2e'));
  assert.equal(missing.code, 2);
  assert.match(missing.err, /GH_CLI_USAGE effective-policy needs --config DIR and --api NAME/);
});

test('usage errors and --help on every command', async () => {
  assert.equal((await run()).code, 2);
  const unknown = await run('serve');
  assert.equal(unknown.code, 2);
  assert.match(unknown.err, /GH_CLI_USAGE unknown command 'serve'/);
  const badFlag = await run('validate', '--conf', 'x');
  assert.equal(badFlag.code, 2);
  assert.match(badFlag.err, /GH_CLI_USAGE .*--conf/);
  const badPort = await run('start', '--port', 'eighty');
  assert.equal(badPort.code, 2);
  assert.match(badPort.err, /--port must be an integer/);
  for (const command of ['start', 'validate', 'effective-policy']) {
    const help = await run(command, '--help');
    assert.equal(help.code, 0);
    assert.match(help.out, new RegExp(`^gatehouse ${command}`));
  }
  assert.match((await run('--help')).out, /Usage:/);
});

test('the bin runs (the same entry `npx gatehouse` uses)', () => {
  const bin = fileURLToPath(new URL('../bin/gatehouse.js', import.meta.url));
  const r = spawnSync(process.execPath, [bin, 'validate', '--help'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /gatehouse validate --config DIR/);
});

test('start without --config serves the demo: backends reachable only through the gateway', async () => {
  const out: string[] = [];
  const started = await startServices({ out: (t) => out.push(t), err: (t) => out.push(t) }, { port: 0, host: '127.0.0.1', demoPorts: { app: 0, other: 0 } });
  try {
    assert.match(out.join('\n'), /serving 2 API\(s\) from the built-in demo/);
    const get = await request(`${started.gateway.url}/telemetry/events`);
    assert.equal(get.statusCode, 200);
    const body = (await get.body.json()) as { service: string };
    assert.equal(body.service, 'telemetry');
    assert.equal(get.headers['x-powered-by'], undefined, 'the demo global outbound policy ran');
    const post = await request(`${started.gateway.url}/audit/records`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"action":"login"}' });
    assert.equal(post.statusCode, 201);
    await post.body.dump();
    const preflight = await request(`${started.gateway.url}/audit/records`, { method: 'OPTIONS', headers: { origin: 'http://localhost:3000', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type,x-requested-by' } });
    assert.equal(preflight.statusCode, 200);
    assert.equal(preflight.headers['access-control-allow-origin'], 'http://localhost:3000');
    await preflight.body.dump();
    const backendUrls = started.gateway.snapshot.config.overlay.serviceUrls;
    assert.match(String(backendUrls.telemetry), /^http:\/\/127\.0\.0\.1:\d+\/telemetry$/, 'backends listen on private loopback ports');
  } finally {
    await started.close();
  }
});
