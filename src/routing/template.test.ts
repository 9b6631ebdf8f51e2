import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  EMPTY_PARAMS,
  captureQueryParams,
  compareTemplates,
  compileTemplate,
  expand,
  hasAllQueryParams,
  queryValue,
} from './template.ts';
import type { CompiledTemplate } from './template.ts';

function t(source: string): CompiledTemplate {
  const r = compileTemplate(source);
  if (r.template === null) throw new Error(`unexpected template error: ${r.error}`);
  return r.template;
}

function segs(path: string): string[] {
  return path === '/' ? [] : path.slice(1).split('/');
}

describe('compileTemplate', () => {
  it('splits literal and parameter segments', () => {
    const tpl = t('/users/{id}/orders/{orderId}');
    assert.deepEqual(
      tpl.segments.map((s) => s.kind),
      ['literal', 'param', 'literal', 'param'],
    );
    assert.deepEqual(tpl.paramNames, ['id', 'orderId']);
    assert.equal(tpl.literalLength, 'users'.length + 'orders'.length);
    assert.equal(tpl.hasWildcard, false);
  });

  it('reads the query part as captures, literals and bare keys', () => {
    const tpl = t('/search?q={q}&mode=fast&flag');
    assert.deepEqual(tpl.query, [
      { key: 'q', lowerKey: 'q', param: 'q', literal: null },
      { key: 'mode', lowerKey: 'mode', param: null, literal: 'fast' },
      { key: 'flag', lowerKey: 'flag', param: null, literal: null },
    ]);
    assert.deepEqual(tpl.queryParams.map((p) => p.param), ['q']);
    assert.deepEqual(tpl.paramNames, ['q']);
  });

  it('treats a trailing slash and a missing leading slash as the same template', () => {
    assert.equal(t('/items/').shapeKey, t('/items').shapeKey);
    assert.equal(t('items').shapeKey, t('/items').shapeKey);
    assert.equal(t('/').segments.length, 0);
    assert.equal(t('').segments.length, 0);
  });

  it('gives equal shape keys to templates that differ only in parameter names or case', () => {
    assert.equal(t('/Users/{id}').shapeKey, t('/users/{userId}').shapeKey);
    assert.notEqual(t('/users/{id}').shapeKey, t('/users/{id}?q={q}').shapeKey);
    assert.equal(t('/users/{id}').pathShapeKey, t('/users/{id}?q={q}').pathShapeKey);
  });

  const invalid: [string, RegExp][] = [
    ['/a/{id', /unclosed/],
    ['/a/id}', /unbalanced/],
    ['/a/{id}/{id}', /twice/],
    ['/a/{}', /not a valid parameter name/],
    ['/a/{a b}', /not a valid parameter name/],
    ['/a/{__proto__}', /not a valid parameter name/],
    ['/*/b', /must be the last segment/],
    ['/{*rest}/b', /must be the last segment/],
    ['/a{*rest}', /must be a whole segment/],
    ['/{a}{b}', /two parameters without text/],
    ['/a?{x}', /must be written name=\{parameter\}/],
    ['/a?q=x{y}', /single \{parameter\}/],
    ['/a#frag', /'#'/],
  ];
  for (const [source, message] of invalid) {
    it(`refuses ${source}`, () => {
      const r = compileTemplate(source);
      assert.equal(r.template, null);
      assert.match(r.error ?? '', message);
    });
  }
});

describe('match', () => {
  it('captures path parameters and percent-decodes them', () => {
    const tpl = t('/users/{id}/orders/{orderId}');
    assert.deepEqual(tpl.match(segs('/users/j%C3%BCrgen/orders/a%2Fb')), { id: 'jürgen', orderId: 'a/b' });
  });

  it('keeps a malformed escape as sent instead of failing', () => {
    assert.deepEqual(t('/u/{id}').match(segs('/u/100%')), { id: '100%' });
  });

  it('matches literals case-insensitively and after decoding', () => {
    const tpl = t('/users/me');
    assert.equal(tpl.match(segs('/USERS/Me')), EMPTY_PARAMS);
    assert.equal(tpl.match(segs('/us%65rs/me')), EMPTY_PARAMS);
    assert.equal(tpl.match(segs('/users/you')), null);
  });

  it('returns the shared empty object for a template without parameters', () => {
    assert.equal(t('/a/b').match(['a', 'b']), EMPTY_PARAMS);
    assert.ok(Object.isFrozen(EMPTY_PARAMS));
  });

  it('needs the exact segment count without a wildcard', () => {
    const tpl = t('/a/{x}');
    assert.equal(tpl.match(['a']), null);
    assert.equal(tpl.match(['a', 'b', 'c']), null);
  });

  it('refuses an empty segment for a parameter', () => {
    assert.equal(t('/a/{x}/b').match(['a', '', 'b']), null);
  });

  it('matches a sub-range of the request segments', () => {
    assert.deepEqual(t('/items/{id}').match(['api', 'items', '7', 'x'], 1, 3), { id: '7' });
  });

  it('matches segments that mix text and parameters', () => {
    const tpl = t('/reports/{name}.{format}');
    assert.deepEqual(tpl.match(segs('/reports/q1.2024.json')), { name: 'q1', format: '2024.json' });
    assert.equal(tpl.match(segs('/reports/plain')), null);
    assert.deepEqual(t('/v{major}/x').match(segs('/V2/x')), { major: '2' });
  });

  it('matches zero or more segments with a named wildcard and decodes them', () => {
    const tpl = t('/files/{*path}');
    assert.deepEqual(tpl.match(segs('/files/a/b%20c/d')), { path: 'a/b c/d' });
    assert.deepEqual(tpl.match(segs('/files')), { path: '' });
    assert.equal(tpl.match(segs('/other/a')), null);
  });

  it('matches anything below with the anonymous wildcard and captures nothing', () => {
    const tpl = t('/*');
    assert.equal(tpl.match(segs('/a/b/c')), EMPTY_PARAMS);
    assert.equal(tpl.match([]), EMPTY_PARAMS);
  });

  it('matches the root template only with no segments', () => {
    const tpl = t('/');
    assert.equal(tpl.match([]), EMPTY_PARAMS);
    assert.equal(tpl.match(['x']), null);
  });
});

describe('compareTemplates', () => {
  function sorted(...sources: string[]): string[] {
    return sources.map(t).sort(compareTemplates).map((x) => x.source);
  }

  it('puts literal before mixed before parameter before wildcard, left to right', () => {
    assert.deepEqual(sorted('/{*rest}', '/{id}', '/v{n}', '/me'), ['/me', '/v{n}', '/{id}', '/{*rest}']);
    assert.deepEqual(sorted('/{a}/b/c', '/a/{b}/c'), ['/a/{b}/c', '/{a}/b/c']);
  });

  it('prefers more segments, except that a wildcard always loses', () => {
    assert.deepEqual(sorted('/a/{x}', '/a/{x}/{y}'), ['/a/{x}/{y}', '/a/{x}']);
    assert.deepEqual(sorted('/a/{x}/*', '/a/{x}'), ['/a/{x}', '/a/{x}/*']);
  });

  it('prefers longer literal text at equal shape, then more query parameters', () => {
    assert.deepEqual(sorted('/{x}.j', '/{x}.json'), ['/{x}.json', '/{x}.j']);
    assert.deepEqual(sorted('/s', '/s?q={q}'), ['/s?q={q}', '/s']);
  });
});

describe('query helpers', () => {
  it('captures template query parameters: case-insensitive keys, decoded values, first wins', () => {
    const tpl = t('/user/{uid}/credentials?include={include}&x={x}');
    const params: Record<string, string> = { uid: '1' };
    const found = captureQueryParams(tpl, 'INCLUDE=pass%20word&hash=true&include=second&x=a+b', params);
    assert.equal(found, 2);
    assert.deepEqual(params, { uid: '1', include: 'pass word', x: 'a b' });
  });

  it('captures a bare key as an empty value and skips absent ones', () => {
    const tpl = t('/s?q={q}&page={page}');
    const params: Record<string, string> = {};
    assert.equal(captureQueryParams(tpl, 'q', params), 1);
    assert.deepEqual(params, { q: '' });
  });

  it('tells whether all template query parameters are present', () => {
    const tpl = t('/s?q={q}&page={page}');
    assert.equal(hasAllQueryParams(tpl, 'q=1&page=2'), true);
    assert.equal(hasAllQueryParams(tpl, 'q=1'), false);
    assert.equal(hasAllQueryParams(tpl, ''), false);
    assert.equal(hasAllQueryParams(t('/s'), ''), true);
  });

  it('reads one query value by lower-case key', () => {
    assert.equal(queryValue('a=1&Api-Version=2024-01-01', 'api-version'), '2024-01-01');
    assert.equal(queryValue('api%2Dversion=v2', 'api-version'), 'v2');
    assert.equal(queryValue('a=1', 'api-version'), undefined);
    assert.equal(queryValue('flag&b=2', 'flag'), '');
  });
});

describe('expand', () => {
  it('fills path parameters percent-encoded', () => {
    assert.equal(expand(t('/users/{id}/orders/{orderId}'), { id: 'a b', orderId: 'x/y' }), '/users/a%20b/orders/x%2Fy');
  });

  it('accepts a template string and keeps wildcard separators', () => {
    assert.equal(expand('/files/{*path}', { path: 'a b/c' }), '/files/a%20b/c');
  });

  it('emits query items with values, drops missing ones, keeps literals', () => {
    assert.equal(expand('/put?x={b}&mode=fast&y={missing}', { b: '1&2' }), '/put?x=1%262&mode=fast');
  });

  it('turns a missing path parameter into an empty segment and the root into /', () => {
    assert.equal(expand('/a/{x}', {}), '/a/');
    assert.equal(expand('/', {}), '/');
  });

  it('round-trips a matched template', () => {
    const tpl = t('/reports/{name}.{format}');
    const params = tpl.match(segs('/reports/q%201.json'));
    assert.ok(params !== null);
    assert.equal(expand(tpl, params), '/reports/q%201.json');
  });

  it('throws on an invalid template string (a bug in the caller, caught at compile time)', () => {
    assert.throws(() => expand('/a/{', {}), TypeError);
  });
});
