import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { HeaderMap } from '../pipeline/context.ts';
import {
  appendHeader,
  appendVary,
  connectionTokens,
  deleteHeader,
  getHeader,
  getHeaderJoined,
  hasForbiddenHeaderChars,
  headerHasToken,
  headerValueHasForbiddenChars,
  isHopByHop,
  isValidHeaderName,
  isWritableHeaderValue,
  setHeader,
  stripHopByHop,
} from './headers.ts';

describe('CR/LF/NUL checks', () => {
  it('flags CR, LF and NUL anywhere in a value', () => {
    assert.equal(hasForbiddenHeaderChars('plain value'), false);
    assert.equal(hasForbiddenHeaderChars('a\r\nSet-Cookie: x=1'), true);
    assert.equal(hasForbiddenHeaderChars('a\nb'), true);
    assert.equal(hasForbiddenHeaderChars('a\rb'), true);
    assert.equal(hasForbiddenHeaderChars('a\0b'), true);
    assert.equal(hasForbiddenHeaderChars('tab\tis fine'), false);
  });

  it('checks every value of a list', () => {
    assert.equal(headerValueHasForbiddenChars(['ok', 'also ok']), false);
    assert.equal(headerValueHasForbiddenChars(['ok', 'bad\n']), true);
  });

  it('knows what node can write: no control characters except HTAB', () => {
    assert.equal(isWritableHeaderValue('v\t1 ~'), true);
    assert.equal(isWritableHeaderValue('v\x01'), false);
    assert.equal(isWritableHeaderValue('v\x7f'), false);
    assert.equal(isWritableHeaderValue('caf\xe9'), true);
    assert.equal(isWritableHeaderValue('snow\u2603'), false);
  });

  it('validates header names as tokens', () => {
    assert.equal(isValidHeaderName('x-custom_1'), true);
    assert.equal(isValidHeaderName('bad name'), false);
    assert.equal(isValidHeaderName('bad:name'), false);
    assert.equal(isValidHeaderName(''), false);
  });
});

describe('get/set/append/delete', () => {
  it('reads the first value, or all joined', () => {
    const h: HeaderMap = { a: 'one', b: ['x', 'y'] };
    assert.equal(getHeader(h, 'a'), 'one');
    assert.equal(getHeader(h, 'b'), 'x');
    assert.equal(getHeader(h, 'c'), undefined);
    assert.equal(getHeaderJoined(h, 'b'), 'x, y');
  });

  it('appends as extra field lines and deletes', () => {
    const h: HeaderMap = {};
    appendHeader(h, 'x', '1');
    appendHeader(h, 'x', '2');
    appendHeader(h, 'x', '3');
    assert.deepEqual(h, { x: ['1', '2', '3'] });
    setHeader(h, 'x', 'only');
    assert.deepEqual(h, { x: 'only' });
    assert.equal(deleteHeader(h, 'x'), true);
    assert.equal(deleteHeader(h, 'x'), false);
    assert.deepEqual(h, {});
  });

  it('finds tokens in comma lists case-insensitively', () => {
    assert.equal(headerHasToken('Accept-Encoding,  ORIGIN ', 'origin'), true);
    assert.equal(headerHasToken(['a', 'b, Origin'], 'origin'), true);
    assert.equal(headerHasToken('Origins', 'origin'), false);
    assert.equal(headerHasToken(undefined, 'origin'), false);
    assert.equal(headerHasToken('', 'origin'), false);
  });
});

describe('appendVary', () => {
  const cases: [string, HeaderMap, string, HeaderMap][] = [
    ['adds to an absent header', {}, 'Origin', { vary: 'Origin' }],
    ['appends a new token', { vary: 'Accept-Encoding' }, 'Origin', { vary: 'Accept-Encoding, Origin' }],
    ['keeps an existing token in any case', { vary: 'accept-encoding, ORIGIN' }, 'Origin', { vary: 'accept-encoding, ORIGIN' }],
    ['merges a token list without duplicates', { vary: 'Origin' }, 'origin, Access-Control-Request-Method, Access-Control-Request-Headers', { vary: 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers' }],
    ['merges several field lines into one', { vary: ['Accept', 'Origin'] }, 'Origin', { vary: 'Accept, Origin' }],
    ['leaves * alone', { vary: '*' }, 'Origin', { vary: '*' }],
    ['turns into * when * is added', { vary: 'Accept' }, '*', { vary: '*' }],
    ['ignores empty tokens', { vary: 'Accept' }, ' , ', { vary: 'Accept' }],
    ['replaces an empty value', { vary: '' }, 'Origin', { vary: 'Origin' }],
  ];
  for (const [name, before, token, expected] of cases) {
    it(name, () => {
      const h: HeaderMap = structuredClone(before);
      appendVary(h, token);
      assert.deepEqual(h, expected);
    });
  }
});

describe('hop-by-hop', () => {
  it('recognises the fixed list and proxy-* names only', () => {
    for (const n of ['connection', 'keep-alive', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'proxy-authorization', 'proxy-x']) {
      assert.equal(isHopByHop(n), true, n);
    }
    for (const n of ['content-type', 'trailers', 'cookie', 'tenant', 'x-proxy']) assert.equal(isHopByHop(n), false, n);
  });

  it('parses Connection tokens', () => {
    assert.equal(connectionTokens(undefined), null);
    assert.deepEqual([...(connectionTokens(['close, X-A', ' x-b ']) ?? [])], ['close', 'x-a', 'x-b']);
  });

  it('strips hop-by-hop headers and the ones Connection names, in place', () => {
    const h: HeaderMap = { connection: 'X-Secret', 'x-secret': '1', 'keep-alive': 'timeout=1', 'transfer-encoding': 'chunked', 'proxy-authenticate': 'x', 'content-type': 'text/plain' };
    stripHopByHop(h);
    assert.deepEqual(h, { 'content-type': 'text/plain' });
  });
});
