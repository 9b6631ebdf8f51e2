import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NO_TRUSTED_PROXIES, compileTrustedProxies, resolveCallerIp } from './caller-ip.ts';
import { parseIp } from './ip-set.ts';

test('compileTrustedProxies accepts addresses, CIDR blocks and ranges, and lists what it cannot read', () => {
  const { proxies, invalid } = compileTrustedProxies([
    '10.0.0.5',
    ' 192.168.0.0/16 ',
    '172.16.0.1-172.16.0.9',
    'fd00::/8',
    '::ffff:100.64.0.0/106', // IPv4-mapped CIDR = 100.64.0.0/10
    '10.0.0.0/33',
    'fd00::/129',
    'proxy.internal',
    '10.0.0.9-10.0.0.1',
    '',
  ]);
  assert.deepEqual(invalid, ['10.0.0.0/33', 'fd00::/129', 'proxy.internal', '10.0.0.9-10.0.0.1', '']);
  assert.equal(proxies.empty, false);
  const has = (s: string) => proxies.has(parseIp(s) as number | bigint);
  assert.equal(has('10.0.0.5'), true);
  assert.equal(has('10.0.0.6'), false);
  assert.equal(has('192.168.255.255'), true);
  assert.equal(has('192.169.0.0'), false);
  assert.equal(has('172.16.0.9'), true);
  assert.equal(has('172.16.0.10'), false);
  assert.equal(has('fdff:ffff::1'), true);
  assert.equal(has('fe00::1'), false);
  assert.equal(has('100.127.255.255'), true);
  assert.equal(has('100.128.0.0'), false);
  assert.equal(has('::ffff:10.0.0.5'), true);
});

test('CIDR host bits are ignored; /0 covers a whole family', () => {
  const { proxies } = compileTrustedProxies(['10.1.2.3/8', '0.0.0.0/0']);
  assert.equal(proxies.has(parseIp('10.255.0.1') as number), true);
  assert.equal(proxies.has(parseIp('8.8.8.8') as number), true);
  assert.equal(proxies.has(parseIp('::1') as bigint), false);
});

test('an empty list compiles to NO_TRUSTED_PROXIES', () => {
  assert.equal(compileTrustedProxies([]).proxies, NO_TRUSTED_PROXIES);
});

const LB = compileTrustedProxies(['127.0.0.1', '10.0.0.0/8', '::1']).proxies;

const CASES: ReadonlyArray<[name: string, socket: string, xff: string | string[] | undefined, trusted: typeof LB, expected: string]> = [
  ['APIM default: X-Forwarded-For is ignored', '127.0.0.1', '203.0.113.7', NO_TRUSTED_PROXIES, '127.0.0.1'],
  ['peer not trusted: a client cannot choose its address', '198.51.100.1', '203.0.113.7', LB, '198.51.100.1'],
  ['trusted peer, no header', '127.0.0.1', undefined, LB, '127.0.0.1'],
  ['trusted peer, empty header', '127.0.0.1', '', LB, '127.0.0.1'],
  ['trusted peer, one client', '127.0.0.1', '203.0.113.7', LB, '203.0.113.7'],
  ['right-most untrusted wins over a spoofed left part', '127.0.0.1', '1.1.1.1, 203.0.113.7', LB, '203.0.113.7'],
  ['trusted hops are skipped from the right', '127.0.0.1', '1.1.1.1, 203.0.113.7, 10.0.0.4, 10.0.0.2', LB, '203.0.113.7'],
  ['every hop trusted: the left-most one', '127.0.0.1', '10.0.0.9, 10.0.0.2', LB, '10.0.0.9'],
  ['several field lines are one list', '127.0.0.1', ['1.1.1.1', '203.0.113.7, 10.0.0.2'], LB, '203.0.113.7'],
  ['dual-stack peer ::ffff:127.0.0.1 is the trusted 127.0.0.1', '::ffff:127.0.0.1', '203.0.113.7', LB, '203.0.113.7'],
  ['IPv6 peer and client', '::1', '2001:db8::7', LB, '2001:db8::7'],
  ['ports and brackets are dropped', '127.0.0.1', '[2001:db8::7]:443, 10.0.0.2:8080', LB, '2001:db8::7'],
  ['IPv4 with port', '127.0.0.1', '203.0.113.7:5555', LB, '203.0.113.7'],
  // A proxy on a dual-stack socket writes mapped addresses; the caller is the same as a direct IPv4 peer.
  ['IPv4-mapped entry is returned as IPv4', '127.0.0.1', '::ffff:203.0.113.7', LB, '203.0.113.7'],
  ['IPv4-mapped entry in hex, bracketed with a port', '127.0.0.1', '[::ffff:cb00:7107]:443, 10.0.0.2', LB, '203.0.113.7'],
  ['a mapped trusted hop is skipped', '127.0.0.1', '203.0.113.7, ::ffff:10.0.0.2', LB, '203.0.113.7'],
  ['every hop trusted, the left-most one mapped: IPv4', '127.0.0.1', '::ffff:10.0.0.9, 10.0.0.2', LB, '10.0.0.9'],
  ['other IPv4 embeddings stay IPv6', '127.0.0.1', '64:ff9b::203.0.113.7', LB, '64:ff9b::203.0.113.7'],
  ['empty list elements are skipped', '127.0.0.1', '203.0.113.7, , 10.0.0.2,', LB, '203.0.113.7'],
  ['garbage before an untrusted address: caller unknown', '127.0.0.1', '203.0.113.7, unknown', LB, ''],
  ['injection attempt: caller unknown', '127.0.0.1', '127.0.0.2\r\nX-Evil: 1', LB, ''],
  ['garbage left of the answer is never read', '127.0.0.1', '<script>, 203.0.113.7', LB, '203.0.113.7'],
  ['unparseable socket address is returned as is', 'weird', '203.0.113.7', LB, 'weird'],
];

for (const [name, socket, xff, trusted, expected] of CASES) {
  test(`resolveCallerIp: ${name}`, () => {
    assert.equal(resolveCallerIp(socket, xff, trusted), expected);
  });
}
