/**
 * Every code in src/errors.ts has exactly one row in docs/errors.md, and every row names a real
 * code (fastify's errors test, both directions).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { ERROR_CODES } from '../src/errors.ts';

test('docs/errors.md documents every code once, and nothing else', () => {
  const doc = readFileSync(new URL('../docs/errors.md', import.meta.url), 'utf8');
  const rows = [...doc.matchAll(/^\| (GH_[A-Z_]+) \|/gm)].map((m) => m[1] as string);
  const codes = Object.keys(ERROR_CODES);
  const duplicates = rows.filter((r, i) => rows.indexOf(r) !== i);
  assert.deepEqual(duplicates, [], 'no code is documented twice');
  assert.deepEqual(codes.filter((c) => !rows.includes(c)), [], 'codes missing from docs/errors.md');
  assert.deepEqual(rows.filter((r) => !codes.includes(r)), [], 'rows for codes that do not exist');
});

test('codes follow GH_<AREA>[_<WHAT>] and have a description', () => {
  for (const [code, description] of Object.entries(ERROR_CODES)) {
    assert.match(code, /^GH_[A-Z0-9]+(_[A-Z0-9]+)*$/, code);
    assert.ok(description.length > 10, `${code} has a description`);
  }
});
