import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { lineColumnAt, locateJson, parseJson } from './json.ts';

function failure(text: string) {
  const r = parseJson(text);
  assert.equal(r.ok, false);
  return r.ok ? null : { ...lineColumnAt(text, r.offset), message: r.message };
}

describe('parseJson', () => {
  it('parses valid JSON and ignores a leading BOM', () => {
    assert.deepEqual(parseJson('\uFEFF{"a":[1,true,null]}'), { ok: true, value: { a: [1, true, null] } });
  });

  it('locates syntax errors V8 gives no position for', () => {
    assert.deepEqual(failure('{\n  "a": }'), { line: 2, column: 8, message: 'expected a value' });
    assert.deepEqual(failure('{"a": 1,\n}'), { line: 2, column: 1, message: 'expected a double-quoted property name' });
    assert.deepEqual(failure('{"a": 1'), { line: 1, column: 8, message: "unexpected end of input, expected ',' or '}'" });
    assert.deepEqual(failure('[1 2]'), { line: 1, column: 4, message: "expected ',' or ']' after the array element" });
    assert.deepEqual(failure('{"a": "x\ty"}'), { line: 1, column: 9, message: 'control character in a string (escape it)' });
    assert.deepEqual(failure('{} {}'), { line: 1, column: 4, message: 'unexpected text after the JSON value' });
    assert.deepEqual(failure('{"a": 01}'), { line: 1, column: 8, message: "expected ',' or '}' after the property value" });
  });

  it('counts the BOM in the offset and CRLF as one line end', () => {
    const text = '\uFEFF{\r\n"a": ?}';
    assert.deepEqual(failure(text), { line: 2, column: 6, message: 'expected a value' });
  });

  it('never quotes the input in its message (a named value file may hold a secret)', () => {
    const r = parseJson('{"value": "hunter2" "x"}');
    assert.equal(r.ok, false);
    assert.ok(!r.ok && !r.message.includes('hunter2'));
  });
});

describe('locateJson', () => {
  const text = '{\n  "properties": {\n    "list": [1, {"k": "v"}],\n    "a\\"b": true\n  }\n}';
  it('finds where the value at a path starts', () => {
    assert.deepEqual(lineColumnAt(text, locateJson(text, ['properties', 'list', 1, 'k']) ?? -1), { line: 3, column: 23 });
    assert.deepEqual(lineColumnAt(text, locateJson(text, ['properties', 'a"b']) ?? -1), { line: 4, column: 13 });
    assert.equal(locateJson(text, []), 0);
  });
  it('gives undefined for an absent path', () => {
    assert.equal(locateJson(text, ['properties', 'missing']), undefined);
  });
});
