import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Router, splitSegments } from './router.ts';
import type { RouteApiEntry, RouteOperationEntry } from './router.ts';

type Entry = RouteApiEntry<string, string>;

function ops(...specs: string[]): RouteOperationEntry<string>[] {
  // 'GET /users/{id}' → method GET, template /users/{id}, value 'GET /users/{id}'
  return specs.map((s) => {
    const space = s.indexOf(' ');
    return { method: s.slice(0, space), urlTemplate: s.slice(space + 1), value: s };
  });
}

function api(name: string, path: string, operations: RouteOperationEntry<string>[], extra: Partial<Entry> = {}): Entry {
  return { path, revision: '1', isCurrent: true, operations, value: name, ...extra };
}

function route(router: Router<string, string>, method: string, target: string, headers: Record<string, string> = {}) {
  const q = target.indexOf('?');
  const path = q === -1 ? target : target.slice(0, q);
  const query = q === -1 ? '' : target.slice(q + 1);
  const m = router.resolve(method, path, query, headers);
  return m === null ? null : { api: m.api, operation: m.operation, params: { ...m.params }, remainderPath: m.remainderPath, revisionExplicit: m.revisionExplicit };
}

describe('splitSegments', () => {
  it('is path.slice(start).split(\'/\') for every shape of path', () => {
    const paths = ['/', '/a', '/api/items/42', '/api/', '//', '/a//b/', '/%2F/x;rev=2/', 'no-slash', '/é/ü', ''];
    for (const path of paths) {
      for (let start = 0; start <= Math.min(2, path.length); start++) {
        assert.deepEqual(splitSegments(path, start), path.slice(start).split('/'), `${JSON.stringify(path)} from ${start}`);
      }
    }
  });
});

describe('Router: API selection', () => {
  const router = new Router<string, string>([
    api('root', '', ops('GET /*')),
    api('telemetry', 'telemetry', ops('GET /items')),
    api('partners', 'api/partners', ops('GET /{id}')),
    api('api', 'api', ops('GET /partners/{id}', 'GET /other')),
  ]);

  it('has no build problems', () => {
    assert.deepEqual(router.problems, []);
  });

  it('chooses the longest path-segment prefix', () => {
    assert.deepEqual(route(router, 'GET', '/api/partners/15?version=2013-05'), {
      api: 'partners',
      operation: 'GET /{id}',
      params: { id: '15' },
      remainderPath: '/15',
      revisionExplicit: false,
    });
    assert.equal(route(router, 'GET', '/api/other')?.api, 'api');
  });

  it('respects segment boundaries: /telemetryx is not /telemetry', () => {
    assert.equal(route(router, 'GET', '/telemetry/items')?.api, 'telemetry');
    assert.equal(route(router, 'GET', '/telemetryx/items')?.api, 'root');
  });

  it('falls back to the catch-all API with the whole path as remainder', () => {
    assert.deepEqual(route(router, 'GET', '/nothing/here'), {
      api: 'root',
      operation: 'GET /*',
      params: {},
      remainderPath: '/nothing/here',
      revisionExplicit: false,
    });
    assert.equal(route(router, 'GET', '/')?.remainderPath, '/');
  });

  it('matches the API suffix case-insensitively and keeps the remainder as sent', () => {
    const m = route(router, 'GET', '/TeleMetry/items');
    assert.equal(m?.api, 'telemetry');
    assert.equal(m?.remainderPath, '/items');
  });

  it('gives the remainder as sent, trailing slash included', () => {
    assert.equal(route(router, 'GET', '/telemetry')?.remainderPath, '');
    assert.equal(route(router, 'GET', '/telemetry/')?.remainderPath, '/');
    assert.equal(route(router, 'GET', '/telemetry/items/')?.remainderPath, '/items/');
    assert.equal(route(router, 'GET', '/telemetry/items/')?.operation, 'GET /items');
  });

  it('answers null without a catch-all, and for paths that are not origin-form', () => {
    const noRoot = new Router<string, string>([api('a', 'a', ops('GET /'))]);
    assert.equal(route(noRoot, 'GET', '/b'), null);
    assert.equal(noRoot.resolve('OPTIONS', '*', '', {}), null);
    assert.equal(route(noRoot, 'GET', '/a')?.operation, 'GET /');
  });
});

describe('Router: operation selection', () => {
  const router = new Router<string, string>([
    api('users', 'users', ops('GET /{id}', 'GET /me', 'GET /{id}/orders/{orderId}', 'POST /{id}', 'GET /files/{*path}', 'GET /{id}.{format}')),
  ]);

  it('prefers a literal segment over a parameter', () => {
    assert.equal(route(router, 'GET', '/users/me')?.operation, 'GET /me');
    assert.deepEqual(route(router, 'GET', '/users/42')?.params, { id: '42' });
  });

  it('prefers a mixed segment over a bare parameter', () => {
    const m = route(router, 'GET', '/users/42.json');
    assert.equal(m?.operation, 'GET /{id}.{format}');
    assert.deepEqual(m?.params, { id: '42', format: 'json' });
  });

  it('prefers a literal over a wildcard further down', () => {
    const m = route(router, 'GET', '/users/files/a/b');
    assert.equal(m?.operation, 'GET /files/{*path}');
    assert.deepEqual(m?.params, { path: 'a/b' });
  });

  it('captures several parameters, percent-decoded', () => {
    assert.deepEqual(route(router, 'GET', '/users/a%20b/orders/7')?.params, { id: 'a b', orderId: '7' });
  });

  it('keeps the API but no operation for a wrong method (APIM: 404, not 405)', () => {
    assert.deepEqual(route(router, 'DELETE', '/users/42'), {
      api: 'users',
      operation: null,
      params: {},
      remainderPath: '/42',
      revisionExplicit: false,
    });
  });

  it('keeps the API but no operation for an unknown path', () => {
    const m = route(router, 'GET', '/users/42/unknown');
    assert.equal(m?.api, 'users');
    assert.equal(m?.operation, null);
  });

  it('tries method "*" operations after the exact method', () => {
    const r = new Router<string, string>([api('a', 'a', ops('* /{x}', 'GET /fixed'))]);
    assert.equal(route(r, 'GET', '/a/fixed')?.operation, 'GET /fixed');
    assert.equal(route(r, 'PATCH', '/a/fixed')?.operation, '* /{x}');
  });

  it('finds an operation for another method on the resolved API (preflight check)', () => {
    const r = new Router<string, string>([api('a', 'a', ops('GET /items/{id}', 'OPTIONS /items/{id}'))]);
    const m = r.resolve('OPTIONS', '/a/items/9', '', {});
    assert.ok(m !== null);
    assert.equal(m.operation, 'OPTIONS /items/{id}');
    assert.deepEqual(r.findOperation(m.route, 'GET', m.remainderPath), { operation: 'GET /items/{id}', params: { id: '9' } });
    assert.equal(r.findOperation(m.route, 'PUT', m.remainderPath), null);
    assert.deepEqual(r.findOperation(m.route, 'GET', 'items/9/'), { operation: 'GET /items/{id}', params: { id: '9' } });
  });
});

describe('Router: query parts of templates', () => {
  const router = new Router<string, string>([
    api('s', 's', ops('GET /search', 'GET /search?q={q}&page={page}', 'GET /search?q={query}', 'GET /user/{uid}/credentials?include={include}')),
  ]);

  it('captures only template query parameters (MatchedParameters)', () => {
    const m = route(router, 'GET', '/s/user/1/credentials?include=password&hash=true');
    assert.equal(m?.operation, 'GET /user/{uid}/credentials?include={include}');
    assert.deepEqual(m?.params, { uid: '1', include: 'password' });
  });

  it('does not fail a match when a template query parameter is absent', () => {
    const m = route(router, 'GET', '/s/user/1/credentials');
    assert.equal(m?.operation, 'GET /user/{uid}/credentials?include={include}');
    assert.deepEqual(m?.params, { uid: '1' });
  });

  it('chooses among same-path templates by which query parameters are present', () => {
    assert.equal(route(router, 'GET', '/s/search?q=x&page=2')?.operation, 'GET /search?q={q}&page={page}');
    assert.deepEqual(route(router, 'GET', '/s/search?q=x&page=2')?.params, { q: 'x', page: '2' });
    assert.equal(route(router, 'GET', '/s/search?q=x')?.operation, 'GET /search?q={query}');
    assert.deepEqual(route(router, 'GET', '/s/search?q=x')?.params, { query: 'x' });
    assert.equal(route(router, 'GET', '/s/search?other=1')?.operation, 'GET /search');
    assert.equal(route(router, 'GET', '/s/search')?.operation, 'GET /search');
  });
});

describe('Router: revisions', () => {
  const router = new Router<string, string>([
    api('echo-r1', 'echo', ops('GET /items'), { revision: '1', isCurrent: true }),
    api('echo-r2', 'echo', ops('GET /items', 'GET /new'), { revision: '2', isCurrent: false }),
    api('root-r1', '', ops('GET /x'), { revision: '1', isCurrent: true }),
    api('root-r3', '', ops('GET /x'), { revision: '3', isCurrent: false }),
  ]);

  it('serves the current revision without ;rev=', () => {
    const m = route(router, 'GET', '/echo/items');
    assert.equal(m?.api, 'echo-r1');
    assert.equal(m?.revisionExplicit, false);
  });

  it('selects a revision with ;rev=N after the API path segment and strips it from the remainder', () => {
    assert.deepEqual(route(router, 'GET', '/echo;rev=2/new?x=1'), {
      api: 'echo-r2',
      operation: 'GET /new',
      params: {},
      remainderPath: '/new',
      revisionExplicit: true,
    });
    assert.equal(route(router, 'GET', '/echo;rev=1/items')?.api, 'echo-r1');
  });

  it('answers no API for an unknown revision', () => {
    assert.equal(route(router, 'GET', '/echo;rev=9/items'), null);
  });

  it('does not take ;rev= on a deeper segment', () => {
    const m = route(router, 'GET', '/echo/items;rev=2');
    assert.equal(m?.api, 'echo-r1');
    assert.equal(m?.operation, null);
  });

  it('takes ;rev=N as a segment of its own for the catch-all API', () => {
    const m = route(router, 'GET', '/;rev=3/x');
    assert.equal(m?.api, 'root-r3');
    assert.equal(m?.remainderPath, '/x');
  });

  it('reports a missing current revision and duplicate revisions', () => {
    const r = new Router<string, string>([
      api('a1', 'a', [], { revision: '1', isCurrent: false }),
      api('a1bis', 'a', [], { revision: '1', isCurrent: false }),
      api('b1', 'b', [], { revision: '1', isCurrent: true }),
      api('b2', 'b', [], { revision: '2', isCurrent: true }),
    ]);
    assert.deepEqual(
      r.problems.map((p) => [p.kind, p.apiIndex, p.keptApiIndex]),
      [
        ['revision-duplicate', 1, 0],
        ['revision-current-duplicate', 3, 2],
        ['revision-no-current', 0, undefined],
      ],
    );
    assert.equal(route(r, 'GET', '/b/x')?.api, 'b1');
    assert.equal(route(r, 'GET', '/b;rev=2/x')?.api, 'b2');
  });
});

describe('Router: version sets', () => {
  it('Segment: /{path}/{version}/…, Original answers without identifier, unknown version is no API', () => {
    const segment = { scheme: 'Segment' as const };
    const r = new Router<string, string>([
      api('orig', 'shop', ops('GET /items'), { versionSet: segment, version: null }),
      api('v1', 'shop', ops('GET /items'), { versionSet: segment, version: 'v1' }),
      api('v2', 'shop', ops('GET /items'), { versionSet: segment, version: 'v2' }),
    ]);
    assert.deepEqual(r.problems, []);
    assert.deepEqual(route(r, 'GET', '/shop/v2/items'), { api: 'v2', operation: 'GET /items', params: {}, remainderPath: '/items', revisionExplicit: false });
    assert.equal(route(r, 'GET', '/shop/V1/items')?.api, 'v1');
    assert.equal(route(r, 'GET', '/shop/items')?.api, 'orig');
    // Without an Original, an unknown version segment finds no API.
    const noOrig = new Router<string, string>([api('v1', 'shop', ops('GET /items'), { versionSet: segment, version: 'v1' })]);
    assert.equal(route(noOrig, 'GET', '/shop/v9/items'), null);
    assert.equal(route(noOrig, 'GET', '/shop/items'), null);
  });

  it('Segment: ;rev= goes on the version segment', () => {
    const segment = { scheme: 'Segment' as const };
    const r = new Router<string, string>([
      api('v1', 'shop', ops('GET /items'), { versionSet: segment, version: 'v1' }),
      api('v1-r2', 'shop', ops('GET /items'), { versionSet: segment, version: 'v1', revision: '2', isCurrent: false }),
    ]);
    const m = route(r, 'GET', '/shop/v1;rev=2/items');
    assert.equal(m?.api, 'v1-r2');
    assert.equal(m?.revisionExplicit, true);
    assert.equal(m?.remainderPath, '/items');
  });

  it('Query: ?api-version= selects; absent → Original; unknown → no API', () => {
    const query = { scheme: 'Query' as const, name: 'api-version' };
    const r = new Router<string, string>([
      api('orig', 'q', ops('GET /a'), { versionSet: query, version: '' }),
      api('2024', 'q', ops('GET /a'), { versionSet: query, version: '2024-01-01' }),
    ]);
    assert.equal(route(r, 'GET', '/q/a?api-version=2024-01-01')?.api, '2024');
    assert.equal(route(r, 'GET', '/q/a?API-VERSION=2024-01-01')?.api, '2024');
    assert.equal(route(r, 'GET', '/q/a')?.api, 'orig');
    assert.equal(route(r, 'GET', '/q/a?api-version=')?.api, 'orig');
    assert.equal(route(r, 'GET', '/q/a?api-version=1999'), null);
  });

  it('Header: a named header selects the version', () => {
    const header = { scheme: 'Header' as const, name: 'Api-Version' };
    const r = new Router<string, string>([api('h1', 'h', ops('GET /a'), { versionSet: header, version: 'v1' })]);
    assert.equal(route(r, 'GET', '/h/a', { 'api-version': 'v1' })?.api, 'h1');
    assert.equal(route(r, 'GET', '/h/a', { 'api-version': 'v2' }), null);
    assert.equal(route(r, 'GET', '/h/a'), null);
  });

  it('reports a suffix shared by a version set and an unversioned API, and mismatched sets', () => {
    const r = new Router<string, string>([
      api('plain', 'x', []),
      api('v1', 'x', [], { versionSet: { scheme: 'Segment' }, version: 'v1' }),
      api('q1', 'y', [], { versionSet: { scheme: 'Query', name: 'v' }, version: '1' }),
      api('h1', 'y', [], { versionSet: { scheme: 'Header', name: 'v' }, version: '2' }),
      api('q-no-name', 'z', [], { versionSet: { scheme: 'Query' }, version: '1' }),
    ]);
    assert.deepEqual(
      r.problems.map((p) => [p.kind, p.apiIndex]),
      [
        ['api-path-duplicate', 1],
        ['version-set-mismatch', 3],
        ['version-set-mismatch', 4],
      ],
    );
  });
});

describe('Router: build problems', () => {
  it('reports invalid templates and duplicate operations, keeping the first', () => {
    const r = new Router<string, string>([api('a', 'a', ops('GET /x/{id}', 'GET /X/{other}/', 'GET /bad/{', 'POST /x/{id}'))]);
    assert.deepEqual(
      r.problems.map((p) => [p.kind, p.operationIndex, p.keptOperationIndex]),
      [
        ['operation-duplicate', 1, 0],
        ['template-invalid', 2, undefined],
      ],
    );
    assert.equal(route(r, 'GET', '/a/x/1')?.operation, 'GET /x/{id}');
    assert.equal(route(r, 'POST', '/a/x/1')?.operation, 'POST /x/{id}');
  });

  it('reports an invalid API path', () => {
    const r = new Router<string, string>([api('a', 'a//b', []), api('b', 'b;rev=1', [])]);
    assert.deepEqual(r.problems.map((p) => p.kind), ['path-invalid', 'path-invalid']);
  });

  it('treats two APIs with the same unversioned suffix as revisions of one (duplicate revision reported)', () => {
    const r = new Router<string, string>([api('first', 'dup', []), api('second', 'DUP', [])]);
    assert.deepEqual(r.problems.map((p) => [p.kind, p.apiIndex, p.keptApiIndex]), [['revision-duplicate', 1, 0]]);
    assert.equal(route(r, 'GET', '/dup/x')?.api, 'first');
  });

  it('reports two differently named APIs on one suffix when entries carry names', () => {
    const r = new Router<string, string>([
      api('first', 'dup', [], { name: 'first' }),
      api('second', 'dup', [], { name: 'second', revision: '2' }),
      api('first-r2', 'dup', [], { name: 'first', revision: '2', isCurrent: false }),
    ]);
    assert.deepEqual(r.problems.map((p) => [p.kind, p.apiIndex, p.keptApiIndex]), [['api-path-duplicate', 1, 0]]);
    assert.equal(route(r, 'GET', '/dup;rev=2/x')?.api, 'first-r2');
  });
});
