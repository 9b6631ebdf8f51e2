/**
 * Which `<cors>` answers a preflight: the operation named by Access-Control-Request-Method when it
 * has a cors of its own, else the API scope's. The gateway skips the operation match for APIs where
 * no operation has its own cors (a compile-time fact); these tests pin both paths, twice each (the
 * fact is kept after the first preflight).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGateway, type Gateway } from '../../src/gateway.ts';
import type { GatewayRequest } from '../../src/pipeline/context.ts';

const A = 'https://a.example';
const B = 'https://b.example';
const cors = (origin: string, methods: string[]) =>
  `<cors><allowed-origins><origin>${origin}</origin></allowed-origins><allowed-methods>${methods.map((m) => `<method>${m}</method>`).join('')}</allowed-methods></cors>`;
const policy = (inbound: string) => `<policies><inbound>${inbound}</inbound><backend><base /></backend><outbound><base /></outbound><on-error><base /></on-error></policies>`;
const info = (path: string) => JSON.stringify({ properties: { displayName: path, path, protocols: ['https'], serviceUrl: 'http://127.0.0.1:9', apiRevision: '1', isCurrent: true, subscriptionRequired: false, type: 'http' } });
const spec = (ops: [string, string, string][]) =>
  JSON.stringify({
    openapi: '3.0.1',
    info: { title: 't', version: '1' },
    paths: Object.fromEntries(
      [...new Set(ops.map(([, , p]) => p))].map((p) => [
        p,
        Object.fromEntries(
          ops
            .filter(([, , q]) => q === p)
            .map(([id, m]) => [m.toLowerCase(), { operationId: id, parameters: p.includes('{id}') ? [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }] : [], responses: { '200': { description: 'OK' } } }]),
        ),
      ]),
    ),
  });

let dir: string;
let gateway: Gateway;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gh-preflight-'));
  const put = async (file: string, text: string) => {
    await mkdir(join(dir, file, '..'), { recursive: true });
    await writeFile(join(dir, file), text);
  };
  await put('policy.xml', '<policies><inbound /><backend><forward-request /></backend><outbound /><on-error /></policies>');
  // shop: API-scope cors for A; put-item adds its own cors for B before <base />.
  await put('apis/shop/apiInformation.json', info('shop'));
  await put('apis/shop/specification.json', spec([['get-item', 'GET', '/items/{id}'], ['put-item', 'PUT', '/items/{id}']]));
  await put('apis/shop/policy.xml', policy(`${cors(A, ['GET', 'PUT'])}<base />`));
  await put('apis/shop/operations/put-item/policy.xml', policy(`${cors(B, ['PUT'])}<base />`));
  // plain: API-scope cors only.
  await put('apis/plain/apiInformation.json', info('plain'));
  await put('apis/plain/specification.json', spec([['list', 'GET', '/things'], ['create', 'POST', '/things']]));
  await put('apis/plain/policy.xml', policy(`${cors(A, ['GET', 'POST'])}<base />`));
  gateway = await createGateway({ configDir: dir, port: 0, host: '127.0.0.1' });
});

after(async () => {
  await gateway?.close();
  await rm(dir, { recursive: true, force: true });
});

function preflight(path: string, origin: string, method: string): Promise<{ status: number; allowOrigin: unknown }> {
  const request: GatewayRequest = {
    method: 'OPTIONS', path, query: '', body: null, ipAddress: '127.0.0.1', protocol: 'http', host: 'gw',
    headers: { origin, 'access-control-request-method': method },
  };
  return gateway.handle(request).then((r) => ({ status: r.status, allowOrigin: r.headers['access-control-allow-origin'] }));
}

test('an operation with its own cors answers its own preflights; its siblings get the API scope', async () => {
  for (let round = 0; round < 2; round++) {
    assert.deepEqual(await preflight('/shop/items/1', B, 'PUT'), { status: 200, allowOrigin: B }, 'put-item: operation-scope cors');
    assert.deepEqual(await preflight('/shop/items/1', A, 'PUT'), { status: 200, allowOrigin: A }, 'put-item: falls through to the API scope');
    assert.deepEqual(await preflight('/shop/items/1', B, 'GET'), { status: 200, allowOrigin: undefined }, 'get-item: API scope only, B not allowed');
    assert.deepEqual(await preflight('/shop/items/1', A, 'GET'), { status: 200, allowOrigin: A });
  }
});

test('an API whose operations have no cors of their own answers from the API scope', async () => {
  for (let round = 0; round < 2; round++) {
    assert.deepEqual(await preflight('/plain/things', A, 'POST'), { status: 200, allowOrigin: A });
    assert.deepEqual(await preflight('/plain/things', B, 'GET'), { status: 200, allowOrigin: undefined });
    // No operation for DELETE: still the API scope's answer (DELETE is not allowed, so no CORS headers).
    assert.deepEqual(await preflight('/plain/things', A, 'DELETE'), { status: 200, allowOrigin: undefined });
  }
});
