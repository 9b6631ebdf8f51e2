import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { LoadedSubscription } from '../config/model.ts';
import { DiagnosticBag, formatDiagnostic } from '../policy/diagnostics.ts';
import { generatedKeyLines } from './banner.ts';
import { compileSubscriptionKeys, generateDevKey, keyProblem } from './keys.ts';

function sub(name: string, primaryKey: string | null, secondaryKey: string | null = null, state = 'active', scope: LoadedSubscription['scope'] = { kind: 'product', name: 'p' }): LoadedSubscription {
  return { name, scope, state, primaryKey, secondaryKey, file: `subscriptions/${name}/subscriptionInformation.json` };
}

test('generateDevKey: 32 lower-case hex characters, different every time', () => {
  const a = generateDevKey();
  const b = generateDevKey();
  assert.match(a, /^[0-9a-f]{32}$/);
  assert.notEqual(a, b);
});

test('every configured key is in the table with its subscription, slot and state', () => {
  const bag = new DiagnosticBag();
  const keys = compileSubscriptionKeys([sub('a', 'ka1', 'ka2'), sub('b', null, 'kb2', 'suspended')], bag);
  assert.deepEqual(bag.items, []);
  assert.deepEqual([...keys.byKey.keys()], ['ka1', 'ka2', 'kb2']);
  assert.equal(keys.byKey.get('ka2')?.slot, 'secondary');
  assert.equal(keys.byKey.get('ka1')?.active, true);
  assert.equal(keys.byKey.get('kb2')?.active, false);
  assert.equal(keys.byKey.get('kb2')?.subscription, 'b');
  assert.deepEqual(keys.generated, [], 'a subscription with one key gets none generated');
});

test('a subscription without keys gets a generated pair (any state), listed for the banner', () => {
  let n = 0;
  const keys = compileSubscriptionKeys([sub('dev', null), sub('off', null, null, 'suspended', { kind: 'all', name: null })], new DiagnosticBag(), { generateKey: () => `gen-${++n}` });
  assert.deepEqual(keys.generated, [
    { subscription: 'dev', scope: { kind: 'product', name: 'p' }, state: 'active', primaryKey: 'gen-1', secondaryKey: 'gen-2' },
    { subscription: 'off', scope: { kind: 'all', name: null }, state: 'suspended', primaryKey: 'gen-3', secondaryKey: 'gen-4' },
  ]);
  assert.equal(keys.byKey.get('gen-2')?.subscription, 'dev');
  assert.deepEqual(generatedKeyLines(keys), [
    '  subscription keys generated for this run (set subscriptions.<name>.primaryKey in the overlay to keep a key):',
    '    dev (product p): primary gen-1  secondary gen-2',
    '    off (all APIs): primary gen-3  secondary gen-4  (suspended: its keys are refused)',
  ]);
  assert.deepEqual(generatedKeyLines(compileSubscriptionKeys([sub('x', 'k')], new DiagnosticBag())), [], 'configured keys are never printed');
});

test('keyProblem: APIM length limits and characters that cannot travel in a header', () => {
  assert.equal(keyProblem('abc-DEF_123.~'), null);
  assert.equal(keyProblem('x'.repeat(256)), null);
  assert.equal(keyProblem(''), 'is empty');
  assert.equal(keyProblem('x'.repeat(257)), 'is 257 characters long; APIM allows at most 256');
  assert.match(keyProblem('ab c') ?? '', /at position 3/);
  assert.match(keyProblem('ab\r\nc') ?? '', /at position 3/);
  assert.match(keyProblem('clé') ?? '', /at position 3/);
});

test('unusable and shared keys are errors at the subscription file; messages never quote the key', () => {
  const bag = new DiagnosticBag();
  const keys = compileSubscriptionKeys([sub('a', 'shared-secret', 'bad key'), sub('b', 'shared-secret', 'shared-secret'), sub('c', 'own', 'own')], bag);
  assert.deepEqual(bag.items.map(formatDiagnostic), [
    'subscriptions/a/subscriptionInformation.json:1:1 GH_CONFIG_SUBSCRIPTION_KEY_INVALID the secondary key of subscription \'a\' has a space, control or non-ASCII character at position 4; keys must be visible ASCII to travel in a header or query string',
    'subscriptions/b/subscriptionInformation.json:1:1 GH_CONFIG_SUBSCRIPTION_KEY_DUPLICATE the primary key of subscription \'b\' is also the primary key of subscription \'a\'; every key must belong to one subscription',
    'subscriptions/b/subscriptionInformation.json:1:1 GH_CONFIG_SUBSCRIPTION_KEY_DUPLICATE the secondary key of subscription \'b\' is also the primary key of subscription \'a\'; every key must belong to one subscription',
  ]);
  for (const d of bag.items) assert.doesNotMatch(d.message, /shared-secret|bad key/);
  assert.equal(keys.byKey.get('shared-secret')?.subscription, 'a', 'the first owner keeps it');
  assert.equal(keys.byKey.get('own')?.slot, 'primary', 'the same key in both slots of one subscription is fine');
});
