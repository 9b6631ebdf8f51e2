import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DiagnosticBag } from '../policy/diagnostics.ts';
import { readSpecification } from './openapi.ts';

function codes(bag: DiagnosticBag): string[] {
  return bag.items.map((d) => `${d.severity}:${d.code}`);
}

const OPENAPI3 = `openapi: 3.0.1
info:
  title: Items
  version: '1'
servers:
  - url: https://apim.example.net/items-api
paths:
  '/items/{id}':
    parameters:
      - $ref: '#/components/parameters/id'
    get:
      operationId: get-item
      summary: Get one item
      responses:
        '200':
          description: ok
          content:
            application/json:
              example: { id: 7 }
            application/xml:
              example: <item id="7"/>
        '404':
          $ref: '#/components/responses/NotFound'
        default:
          description: anything else
  /search:
    get:
      operationId: search
      parameters:
        - { name: q, in: query, required: true, schema: { type: string } }
        - { name: page, in: query, schema: { type: integer } }
        - { name: tenant, in: header, required: true, schema: { type: string } }
      responses:
        '200':
          description: ok
          content:
            application/json:
              examples:
                none: { summary: no value }
                first: { value: [1, 2] }
                second: { value: [3] }
components:
  parameters:
    id: { name: id, in: path, required: true, schema: { type: string } }
  responses:
    NotFound:
      description: missing
      content:
        application/json:
          example: { statusCode: 404 }
`;

describe('readSpecification: OpenAPI 3 (YAML)', () => {
  it('reads operations with names, methods, templates and examples', async () => {
    const bag = new DiagnosticBag();
    const ops = await readSpecification({ file: 'apis/a/specification.yaml', text: OPENAPI3 }, bag);
    assert.deepEqual(codes(bag), []);
    assert.deepEqual(ops, [
      {
        name: 'get-item', displayName: 'Get one item', method: 'GET', urlTemplate: '/items/{id}',
        responses: [
          { status: 200, contentType: 'application/json', example: '{"id":7}' },
          { status: 200, contentType: 'application/xml', example: '<item id="7"/>' },
          { status: 404, contentType: 'application/json', example: '{"statusCode":404}' },
        ],
      },
      {
        // Required query parameters become template parameters (APIM's import default); the
        // optional query and the header parameter do not; the server URL path is not a prefix.
        name: 'search', displayName: 'search', method: 'GET', urlTemplate: '/search?q={q}',
        responses: [{ status: 200, contentType: 'application/json', example: '[1,2]' }],
      },
    ]);
  });

  it("leaves required query parameters out of the template when the API says 'query'", async () => {
    const bag = new DiagnosticBag();
    const ops = await readSpecification({ file: 's.yaml', text: OPENAPI3 }, bag, { translateRequiredQueryParameters: 'query' });
    assert.equal(ops[1]?.urlTemplate, '/search');
  });

  it('reads x-ms-paths, whose keys carry a query part, and appends further required query parameters', async () => {
    const text = `openapi: 3.0.1
info: { title: t, version: '1' }
paths: {}
x-ms-paths:
  /report?kind=daily:
    get:
      operationId: daily
      parameters:
        - { name: kind, in: query, required: true, schema: { type: string } }
        - { name: day, in: query, required: true, schema: { type: string } }
      responses: { '204': { description: none } }
`;
    const ops = await readSpecification({ file: 's.yaml', text }, new DiagnosticBag());
    assert.deepEqual(ops.map((o) => o.urlTemplate), ['/report?kind=daily&day={day}']);
    assert.deepEqual(ops[0]?.responses, [{ status: 204, contentType: null, example: null }]);
  });
});

const SWAGGER2 = JSON.stringify({
  swagger: '2.0',
  info: { title: 'Pets', version: '1' },
  host: 'apim.example.net',
  basePath: '/petstore',
  produces: ['application/json'],
  paths: {
    '/pets/{petId}': {
      parameters: [{ name: 'petId', in: 'path', required: true, type: 'string' }],
      get: {
        operationId: 'getPet',
        produces: ['application/json', 'application/xml'],
        responses: {
          200: { description: 'ok', schema: { $ref: '#/definitions/Pet' }, examples: { 'application/xml': '<pet/>' } },
          404: { description: 'no pet' },
        },
      },
      delete: { responses: { 204: { description: 'gone' } } },
    },
  },
  definitions: { Pet: { type: 'object' } },
}, null, 2);

describe('readSpecification: Swagger 2 (JSON)', () => {
  it('ignores basePath, maps examples per MIME type, and derives a missing operationId with a positioned warning', async () => {
    const bag = new DiagnosticBag();
    const ops = await readSpecification({ file: 'apis/p/specification.json', text: SWAGGER2 }, bag);
    assert.deepEqual(ops, [
      {
        name: 'getPet', displayName: 'getPet', method: 'GET', urlTemplate: '/pets/{petId}',
        responses: [
          { status: 200, contentType: 'application/xml', example: '<pet/>' },
          { status: 200, contentType: 'application/json', example: null },
          { status: 404, contentType: null, example: null },
        ],
      },
      { name: 'delete-pets-petid', displayName: 'delete-pets-petid', method: 'DELETE', urlTemplate: '/pets/{petId}', responses: [{ status: 204, contentType: null, example: null }] },
    ]);
    assert.equal(bag.items.length, 1);
    const [warning] = bag.items;
    assert.equal(warning?.code, 'GH_CONFIG_SPEC_INVALID');
    assert.equal(warning?.severity, 'warning');
    // The warning points at the value of "delete" (its opening brace).
    const lines = SWAGGER2.split('\n');
    const line = lines.findIndex((l) => l.includes('"delete": {')) + 1;
    assert.equal(line, 43);
    assert.deepEqual(warning?.location, { file: 'apis/p/specification.json', line, column: (lines[line - 1]?.indexOf('{') ?? 0) + 1 });
  });

  it('renames a repeated operationId and warns', async () => {
    const text = JSON.stringify({
      swagger: '2.0', info: { title: 't', version: '1' },
      paths: { '/a': { get: { operationId: 'op', responses: {} } }, '/b': { get: { operationId: 'OP', responses: {} } } },
    });
    const bag = new DiagnosticBag();
    const ops = await readSpecification({ file: 's.json', text }, bag);
    assert.deepEqual(ops.map((o) => o.name), ['op', 'get-b']);
    const renamed = bag.items.filter((d) => d.message.includes("repeats operationId 'OP'; gatehouse names it 'get-b'"));
    assert.equal(renamed.length, 1);
  });
});

describe('readSpecification: bad and unsupported input', () => {
  it('reads an invalid document leniently, following local $refs by hand, with one warning', async () => {
    // No `info`, and the path parameter is not declared: both make validation fail.
    const text = `openapi: 3.0.1
paths:
  /things/{id}:
    get:
      operationId: get-thing
      responses:
        '200': { $ref: '#/components/responses/Ok' }
components:
  responses:
    Ok:
      description: ok
      content: { text/plain: { example: fine } }
`;
    const bag = new DiagnosticBag();
    const ops = await readSpecification({ file: 'x/specification.yaml', text }, bag);
    assert.deepEqual(ops, [{ name: 'get-thing', displayName: 'get-thing', method: 'GET', urlTemplate: '/things/{id}', responses: [{ status: 200, contentType: 'text/plain', example: 'fine' }] }]);
    assert.deepEqual(codes(bag), ['warning:GH_CONFIG_SPEC_INVALID']);
    assert.match(bag.items[0]?.message ?? '', /does not validate .*reading it leniently/);
  });

  it('never resolves external $refs', async () => {
    const text = JSON.stringify({
      openapi: '3.0.1', info: { title: 't', version: '1' },
      paths: { '/a': { get: { operationId: 'a', responses: { 200: { $ref: '/etc/passwd#/x' } } } } },
    });
    const ops = await readSpecification({ file: 's.json', text }, new DiagnosticBag());
    // The reference stays unresolved: a status without content, and no file was read.
    assert.deepEqual(ops.map((o) => [o.name, o.responses]), [['a', [{ status: 200, contentType: null, example: null }]]]);
  });

  it('reports a YAML syntax error at its position', async () => {
    const bag = new DiagnosticBag();
    const ops = await readSpecification({ file: 's.yaml', text: 'openapi: 3.0.1\npaths: {}\npaths: {}\n' }, bag);
    assert.deepEqual(ops, []);
    assert.deepEqual(codes(bag), ['error:GH_CONFIG_SPEC_INVALID']);
    assert.deepEqual(bag.items[0]?.location, { file: 's.yaml', line: 3, column: 1 });
    assert.equal(bag.items[0]?.message, 'invalid YAML: Map keys must be unique');
  });

  it('reports a JSON syntax error at its line and column', async () => {
    const bag = new DiagnosticBag();
    await readSpecification({ file: 's.json', text: '{\n  "swagger": "2.0",\n  "paths": {,}\n}' }, bag);
    assert.deepEqual(codes(bag), ['error:GH_CONFIG_SPEC_INVALID']);
    assert.deepEqual(bag.items[0]?.location, { file: 's.json', line: 3, column: 13 });
  });

  it('refuses a document that is neither OpenAPI 3 nor Swagger 2', async () => {
    const bag = new DiagnosticBag();
    assert.deepEqual(await readSpecification({ file: 's.yaml', text: 'swagger: "1.2"\npaths: {}\n' }, bag), []);
    assert.deepEqual(codes(bag), ['error:GH_CONFIG_SPEC_INVALID']);
  });

  for (const ext of ['graphql', 'wsdl', 'wadl']) {
    it(`gives no operations and a warning for ${ext}`, async () => {
      const bag = new DiagnosticBag();
      assert.deepEqual(await readSpecification({ file: `apis/g/specification.${ext}`, text: 'type Query { a: Int }' }, bag), []);
      assert.deepEqual(codes(bag), ['warning:GH_CONFIG_SPEC_UNSUPPORTED']);
    });
  }
});
