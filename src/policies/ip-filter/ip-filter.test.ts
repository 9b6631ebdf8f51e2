import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileForTest, parseForTest } from '../../policy/testing.ts';
import type { ScopeKind, SectionName } from '../../policy/define-policy.ts';
import { createTestContext } from '../../pipeline/testing.ts';
import { PolicyFailure } from '../../pipeline/context.ts';
import type { PolicyHandler } from '../../pipeline/handler.ts';
import { ipFilterPolicy, type IpFilterConfig } from './ip-filter.ts';
import { parseIp } from './ip-set.ts';

// Snippets start with a newline: parseForTest puts a wrapper element on line 1, so from line 2 on
// every line:column below is exactly what a user would see in their file.

interface BadCase {
  readonly name: string;
  readonly xml: string;
  readonly expect: ReadonlyArray<readonly [code: string, line: number, column: number, messagePart?: string]>;
  readonly section?: SectionName;
  readonly scope?: ScopeKind;
}

const BAD: readonly BadCase[] = [
  { name: 'action missing', xml: '\n<ip-filter>\n  <address>1.2.3.4</address>\n</ip-filter>', expect: [['GH_POLICY_ATTR_REQUIRED', 2, 1, "'action'"]] },
  { name: 'action unknown', xml: '\n<ip-filter action="deny">\n  <address>1.2.3.4</address>\n</ip-filter>', expect: [['GH_POLICY_ATTR_INVALID', 2, 20, '"allow" or "forbid"']] },
  { name: 'action is an expression', xml: '\n<ip-filter action="@(context.Variables["a"])">\n  <address>1.2.3.4</address>\n</ip-filter>', expect: [['GH_POLICY_EXPRESSION_UNSUPPORTED', 2, 20]] },
  { name: 'three-part IPv4', xml: '\n<ip-filter action="allow">\n  <address>1.2.3</address>\n</ip-filter>', expect: [['GH_POLICY_CHILD_INVALID', 3, 12, 'not an IPv4 or IPv6 address']] },
  { name: 'CIDR in <address>', xml: '\n<ip-filter action="allow">\n  <address>10.0.0.0/24</address>\n</ip-filter>', expect: [['GH_POLICY_CHILD_INVALID', 3, 12, 'CIDR']] },
  { name: 'placeholder left in', xml: '\n<ip-filter action="allow">\n  <address>YOUR_IP_ADDRESS</address>\n</ip-filter>', expect: [['GH_POLICY_CHILD_INVALID', 3, 12]] },
  { name: 'zone id', xml: '\n<ip-filter action="allow">\n  <address>fe80::1%eth0</address>\n</ip-filter>', expect: [['GH_POLICY_CHILD_INVALID', 3, 12, 'zone']] },
  { name: 'leading zeros', xml: '\n<ip-filter action="allow">\n  <address>010.0.0.1</address>\n</ip-filter>', expect: [['GH_POLICY_CHILD_INVALID', 3, 12]] },
  { name: 'empty <address>', xml: '\n<ip-filter action="allow">\n  <address></address>\n</ip-filter>', expect: [['GH_POLICY_CHILD_INVALID', 3, 3, 'empty']] },
  { name: 'expression in <address>', xml: '\n<ip-filter action="allow">\n  <address>@(context.Variables["ip"])</address>\n</ip-filter>', expect: [['GH_POLICY_EXPRESSION_UNSUPPORTED', 3, 12]] },
  { name: 'range reversed', xml: '\n<ip-filter action="forbid">\n  <address-range from="10.0.0.9" to="10.0.0.1" />\n</ip-filter>', expect: [['GH_POLICY_ATTR_INVALID', 3, 38, 'below']] },
  { name: 'range mixes families', xml: '\n<ip-filter action="forbid">\n  <address-range from="10.0.0.9" to="::1" />\n</ip-filter>', expect: [['GH_POLICY_ATTR_INVALID', 3, 38, 'both IPv4 or both IPv6']] },
  { name: 'range from invalid', xml: '\n<ip-filter action="forbid">\n  <address-range from="10.0.0.x" to="10.0.0.1" />\n</ip-filter>', expect: [['GH_POLICY_ATTR_INVALID', 3, 24, 'from="10.0.0.x"']] },
  { name: 'range to missing', xml: '\n<ip-filter action="forbid">\n  <address-range from="10.0.0.1" />\n</ip-filter>', expect: [['GH_POLICY_ATTR_REQUIRED', 3, 3, "'to'"]] },
  { name: 'no addresses', xml: '\n<ip-filter action="allow" />', expect: [['GH_POLICY_CHILD_REQUIRED', 2, 1]] },
  { name: 'unknown child', xml: '\n<ip-filter action="allow">\n  <address>1.2.3.4</address>\n  <ip-address>1.2.3.5</ip-address>\n</ip-filter>', expect: [['GH_POLICY_CHILD_INVALID', 4, 3, '<ip-address>']] },
  { name: 'text in <ip-filter>', xml: '\n<ip-filter action="allow">\n  1.2.3.4\n  <address>1.2.3.4</address>\n</ip-filter>', expect: [['GH_POLICY_TEXT_UNEXPECTED', 3, 3]] },
  { name: 'child inside <address>', xml: '\n<ip-filter action="allow">\n  <address><b/>1.2.3.4</address>\n</ip-filter>', expect: [['GH_POLICY_CHILD_INVALID', 3, 12]] },
  {
    name: 'every problem is reported at once',
    xml: '\n<ip-filter action="block">\n  <address>1.2.3.400</address>\n  <address-range from="::2" to="::1" />\n</ip-filter>',
    expect: [['GH_POLICY_ATTR_INVALID', 2, 20], ['GH_POLICY_CHILD_INVALID', 3, 12], ['GH_POLICY_ATTR_INVALID', 4, 33]],
  },
  { name: 'outbound is not allowed', xml: '\n<ip-filter action="allow"><address>1.2.3.4</address></ip-filter>', section: 'outbound', expect: [['GH_POLICY_SECTION_NOT_ALLOWED', 2, 1]] },
];

for (const c of BAD) {
  test(`parse rejects: ${c.name}`, () => {
    const result = parseForTest<IpFilterConfig>(c.xml, ipFilterPolicy, { section: c.section ?? 'inbound', scope: c.scope ?? 'api' });
    assert.equal(result.config, undefined);
    const got = result.diagnostics.filter((d) => d.severity === 'error').map((d) => [d.code, d.location?.line, d.location?.column]);
    assert.deepEqual(got, c.expect.map(([code, line, column]) => [code, line, column]));
    c.expect.forEach(([, , , part], i) => {
      if (part !== undefined) assert.ok(result.diagnostics.filter((d) => d.severity === 'error')[i]?.message.includes(part), `message ${i} should mention ${part}`);
    });
  });
}

const ip = (s: string) => parseIp(s) as number | bigint;

test('parse accepts the real-world form (fixture 002) with addresses and ranges as ranges', () => {
  const xml = '\n<ip-filter action="allow">\n  <address>13.66.201.169</address>\n  <address-range from="13.66.140.128" to="13.66.140.143" />\n</ip-filter>';
  const result = parseForTest<IpFilterConfig>(xml, ipFilterPolicy, { section: 'inbound', scope: 'api' });
  assert.deepEqual(result.diagnostics, []);
  assert.deepEqual(result.config, {
    action: 'allow',
    ranges: [
      { from: ip('13.66.201.169'), to: ip('13.66.201.169') },
      { from: ip('13.66.140.128'), to: ip('13.66.140.143') },
    ],
  });
});

test('parse accepts IPv6, IPv4-mapped ends and surrounding whitespace', () => {
  const xml = '\n<ip-filter action="forbid">\n  <address> 2001:db8::1 </address>\n  <address-range from="::ffff:10.0.0.1" to="10.0.0.9" />\n</ip-filter>';
  const result = parseForTest<IpFilterConfig>(xml, ipFilterPolicy, { section: 'inbound', scope: 'operation' });
  assert.deepEqual(result.diagnostics, []);
  assert.deepEqual(result.config, { action: 'forbid', ranges: [{ from: ip('2001:db8::1'), to: ip('2001:db8::1') }, { from: ip('10.0.0.1'), to: ip('10.0.0.9') }] });
});

test('parse reads action case-insensitively, as .NET enumerations are', () => {
  for (const [written, action] of [['Allow', 'allow'], ['FORBID', 'forbid']] as const) {
    const result = parseForTest<IpFilterConfig>(`<ip-filter action="${written}"><address>1.2.3.4</address></ip-filter>`, ipFilterPolicy, { section: 'inbound' });
    assert.deepEqual(result.diagnostics, []);
    assert.equal(result.config?.action, action);
  }
});

test('parse warns about unknown attributes and keeps the policy', () => {
  const result = parseForTest<IpFilterConfig>('\n<ip-filter action="allow" mode="strict" id="office">\n  <address>1.2.3.4</address>\n</ip-filter>', ipFilterPolicy, { section: 'inbound' });
  assert.deepEqual(result.diagnostics.map((d) => [d.code, d.severity, d.location?.line, d.location?.column]), [['GH_POLICY_ATTR_UNKNOWN', 'warning', 2, 27]]);
  assert.equal(result.config?.action, 'allow');
});

test('parse accepts every scope APIM allows', () => {
  for (const scope of ['global', 'workspace', 'product', 'api', 'operation'] as const) {
    const result = parseForTest<IpFilterConfig>('<ip-filter action="allow"><address>1.2.3.4</address></ip-filter>', ipFilterPolicy, { section: 'inbound', scope });
    assert.deepEqual(result.diagnostics, [], scope);
  }
});

// ── Behaviour ─────────────────────────────────────────────────────────────────────────────

function compile(xml: string, scope: ScopeKind = 'api'): PolicyHandler[] {
  return compileForTest(xml, ipFilterPolicy, { section: 'inbound', scope });
}

/** Runs the handlers in order like the pipeline does; returns 'pass' or the failure. */
async function run(handlers: readonly PolicyHandler[], ipAddress: string): Promise<'pass' | { reason: string; message: string; status: number; source: string }> {
  const ctx = createTestContext({ ipAddress });
  try {
    for (const h of handlers) await h.run(ctx);
    return 'pass';
  } catch (error) {
    if (!(error instanceof PolicyFailure)) throw error;
    return { reason: error.reason, message: error.message, status: error.statusCode, source: error.source };
  }
}

const NOT_ALLOWED = (addr: string) => ({ source: 'ip-filter', reason: 'CallerIpNotAllowed', status: 403, message: `Caller IP address ${addr} is not allowed. Access denied.` });
const BLOCKED = { source: 'ip-filter', reason: 'CallerIpBlocked', status: 403, message: 'Caller IP address is blocked. Access denied.' };
const UNPARSEABLE = { source: 'ip-filter', reason: 'FailedToParseCallerIP', status: 403, message: 'Failed to establish IP address for the caller. Access denied.' };

const ALLOW = '<ip-filter action="allow"><address>127.0.0.2</address><address-range from="10.0.0.1" to="10.0.0.9"/><address>2001:db8::5</address><address>::ffff:192.168.0.1</address></ip-filter>';
const FORBID = '<ip-filter action="forbid"><address>127.0.0.3</address><address-range from="2001:db8::" to="2001:db8::ffff"/></ip-filter>';

const BEHAVIOUR: ReadonlyArray<[policy: string, caller: string, expected: Awaited<ReturnType<typeof run>>]> = [
  [ALLOW, '127.0.0.2', 'pass'],
  [ALLOW, '127.0.0.3', NOT_ALLOWED('127.0.0.3')],
  [ALLOW, '10.0.0.1', 'pass'],
  [ALLOW, '10.0.0.9', 'pass'],
  [ALLOW, '10.0.0.10', NOT_ALLOWED('10.0.0.10')],
  [ALLOW, '10.0.0.0', NOT_ALLOWED('10.0.0.0')],
  [ALLOW, '::ffff:127.0.0.2', 'pass'], // dual-stack socket: mapped caller matches the IPv4 rule
  [ALLOW, '::ffff:7f00:2', 'pass'],
  [ALLOW, '::ffff:127.0.0.3', NOT_ALLOWED('::ffff:127.0.0.3')],
  [ALLOW, '192.168.0.1', 'pass'], // mapped rule matches the plain IPv4 caller
  [ALLOW, '2001:db8::5', 'pass'],
  [ALLOW, '2001:DB8:0:0:0:0:0:5', 'pass'],
  [ALLOW, '2001:db8::6', NOT_ALLOWED('2001:db8::6')],
  [ALLOW, '::1', NOT_ALLOWED('::1')],
  [ALLOW, '', UNPARSEABLE],
  [ALLOW, 'unknown', UNPARSEABLE],
  [ALLOW, '127.0.0.2, 10.0.0.1', UNPARSEABLE],
  [FORBID, '127.0.0.3', BLOCKED],
  [FORBID, '::ffff:127.0.0.3', BLOCKED],
  [FORBID, '127.0.0.2', 'pass'],
  [FORBID, '2001:db8::abcd', BLOCKED],
  [FORBID, '2001:db8::1:0', 'pass'],
  [FORBID, 'fe80::1%lo', 'pass'],
  [FORBID, '', UNPARSEABLE], // an unparseable caller is refused even by a forbid list
  [FORBID, 'not-an-ip', UNPARSEABLE],
];

for (const [policy, caller, expected] of BEHAVIOUR) {
  test(`${policy.slice(18, 24)} ${JSON.stringify(caller)} → ${typeof expected === 'string' ? expected : expected.reason}`, async () => {
    assert.deepEqual(await run(compile(policy), caller), expected);
  });
}

test('the handler carries its position, scope label and id', () => {
  const [handler] = compile('\n<ip-filter id="office" action="allow"><address>1.2.3.4</address></ip-filter>');
  assert.equal(handler?.name, 'ip-filter');
  assert.equal(handler?.policyId, 'office');
  assert.deepEqual(handler?.location, { file: 'test.xml', line: 2, column: 1 });
  assert.equal(handler?.scope, 'api');
});

test('several ip-filters apply in evaluation order; the first refusal wins', async () => {
  // As after <base/> resolution: global allows a block, the API forbids one address in it.
  const handlers = [
    ...compile('<ip-filter action="allow"><address-range from="127.0.0.0" to="127.0.0.255"/></ip-filter>', 'global'),
    ...compile('<ip-filter action="forbid"><address>127.0.0.3</address></ip-filter>'),
  ];
  assert.equal(await run(handlers, '127.0.0.2'), 'pass');
  assert.deepEqual(await run(handlers, '127.0.0.3'), BLOCKED);
  assert.deepEqual(await run(handlers, '10.0.0.1'), NOT_ALLOWED('10.0.0.1'));
  // Reversed order: the forbid list answers first for 127.0.0.3, the allow list for 10.0.0.1.
  const reversed = [...handlers].reverse();
  assert.deepEqual(await run(reversed, '127.0.0.3'), BLOCKED);
  assert.deepEqual(await run(reversed, '10.0.0.1'), NOT_ALLOWED('10.0.0.1'));
});

test('run is synchronous (no promise on the hot path)', () => {
  const [handler] = compile(ALLOW);
  assert.equal(handler?.run(createTestContext({ ipAddress: '127.0.0.2' })), undefined);
});
