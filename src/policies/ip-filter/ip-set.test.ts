import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BlockList, isIP } from 'node:net';
import { IpRangeSet, formatIp, parseIp } from './ip-set.ts';

test('parseIp: IPv4, IPv6, mapped forms and invalid text', () => {
  const cases: Array<[string, number | bigint | undefined]> = [
    ['0.0.0.0', 0],
    ['127.0.0.2', 0x7f000002],
    ['255.255.255.255', 0xffffffff],
    ['10.1.128.255', 0x0a0180ff],
    ['::', 0n],
    ['::1', 1n],
    ['2001:db8::1', 0x20010db8000000000000000000000001n],
    ['2001:DB8:0:0:0:0:0:1', 0x20010db8000000000000000000000001n],
    ['ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', (1n << 128n) - 1n],
    ['1:2:3:4:5:6:7::', 0x00010002000300040005000600070000n],
    ['::1.2.3.4', 0x01020304n], // IPv4-compatible (deprecated) stays IPv6
    ['64:ff9b::1.2.3.4', 0x0064ff9b000000000000000001020304n], // NAT64 stays IPv6
    ['fe80::1%eth0', 0xfe800000000000000000000000000001n], // zone id ignored
    // IPv4-mapped IPv6 folds to IPv4, in every spelling.
    ['::ffff:127.0.0.2', 0x7f000002],
    ['::FFFF:127.0.0.2', 0x7f000002],
    ['::ffff:7f00:2', 0x7f000002],
    ['0:0:0:0:0:ffff:7f00:2', 0x7f000002],
    ['::ffff:0.0.0.0', 0],
    // Not addresses.
    ['', undefined],
    [' 1.2.3.4', undefined],
    ['1.2.3', undefined],
    ['01.2.3.4', undefined],
    ['256.1.1.1', undefined],
    ['1.2.3.4:80', undefined],
    ['[::1]', undefined],
    ['10.0.0.0/8', undefined],
    ['1::2::3', undefined],
    ['unknown', undefined],
    ['<script>', undefined],
  ];
  for (const [text, expected] of cases) assert.equal(parseIp(text), expected, text);
});

test('formatIp writes the address back', () => {
  assert.equal(formatIp(0x7f000002), '127.0.0.2');
  assert.equal(formatIp(0xffffffff), '255.255.255.255');
  assert.equal(formatIp(0x20010db8000000000000000000000001n), '2001:db8:0:0:0:0:0:1');
});

test('IpRangeSet merges overlapping and adjacent ranges', () => {
  const ip = (s: string) => parseIp(s) as number;
  const set = IpRangeSet.build([
    { from: ip('10.0.0.10'), to: ip('10.0.0.20') },
    { from: ip('10.0.0.21'), to: ip('10.0.0.30') }, // adjacent
    { from: ip('10.0.0.15'), to: ip('10.0.0.25') }, // overlapping
    { from: ip('10.0.0.50'), to: ip('10.0.0.50') },
  ]);
  assert.deepEqual(set.rangeCounts, { v4: 2, v6: 0 });
  assert.equal(set.has(ip('10.0.0.9')), false);
  assert.equal(set.has(ip('10.0.0.10')), true);
  assert.equal(set.has(ip('10.0.0.30')), true);
  assert.equal(set.has(ip('10.0.0.31')), false);
  assert.equal(set.has(ip('10.0.0.50')), true);
  assert.equal(set.has(ip('10.0.0.51')), false);
});

test('IpRangeSet: an IPv6 range over ::ffff:0:0/96 also matches the IPv4 callers in it', () => {
  const set = IpRangeSet.build([{ from: 0n, to: 0xffff_ffff_ffffn }]); // :: … ::ffff:255.255.255.255
  assert.equal(set.has(parseIp('8.8.8.8') as number), true);
  assert.equal(set.has(parseIp('::ffff:8.8.8.8') as number), true);
  assert.equal(set.has(parseIp('::1') as bigint), true);
  assert.equal(set.has(parseIp('2001:db8::1') as bigint), false);
  const partial = IpRangeSet.build([{ from: parseIp('::fffe:ffff:ffff') as bigint, to: 0xffff_0a00_0001n }]); // … ::ffff:10.0.0.1
  assert.equal(partial.has(parseIp('0.0.0.0') as number), true);
  assert.equal(partial.has(parseIp('10.0.0.1') as number), true);
  assert.equal(partial.has(parseIp('10.0.0.2') as number), false);
});

test('IpRangeSet refuses mixed or reversed ranges (a bug in the caller)', () => {
  assert.throws(() => IpRangeSet.build([{ from: 1, to: 1n }]), RangeError);
  assert.throws(() => IpRangeSet.build([{ from: 5, to: 4 }]), RangeError);
  assert.throws(() => IpRangeSet.build([{ from: 5n, to: 4n }]), RangeError);
});

test('IpRangeSet agrees with net.BlockList on random IPv4 and IPv6 data', () => {
  // Deterministic pseudo-random data (mulberry32), so a failure is reproducible.
  let seed = 0x5eed;
  const rand = (): number => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  // A small address space so ranges overlap and probes hit edges often.
  const v4 = (): string => `10.0.${Math.floor(rand() * 4)}.${Math.floor(rand() * 256)}`;
  const v6 = (): string => `2001:db8::${Math.floor(rand() * 4).toString(16)}:${Math.floor(rand() * 0x400).toString(16)}`;
  for (let round = 0; round < 20; round++) {
    const oracle = new BlockList();
    const ranges = [];
    for (let i = 0; i < 30; i++) {
      const six = rand() < 0.5;
      let a = six ? v6() : v4();
      let b = rand() < 0.3 ? a : six ? v6() : v4();
      if ((parseIp(a) as number) > (parseIp(b) as number)) [a, b] = [b, a];
      oracle.addRange(a, b, six ? 'ipv6' : 'ipv4');
      ranges.push({ from: parseIp(a) as number | bigint, to: parseIp(b) as number | bigint });
    }
    const set = IpRangeSet.build(ranges);
    for (let i = 0; i < 500; i++) {
      const probe = rand() < 0.5 ? v6() : v4();
      const value = parseIp(probe);
      assert.notEqual(value, undefined);
      assert.equal(set.has(value as number | bigint), oracle.check(probe, isIP(probe) === 6 ? 'ipv6' : 'ipv4'), probe);
      if (isIP(probe) === 4) assert.equal(set.has(parseIp(`::ffff:${probe}`) as number), oracle.check(`::ffff:${probe}`, 'ipv6'), `::ffff:${probe}`);
    }
  }
});
