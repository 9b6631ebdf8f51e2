import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DiagnosticBag, formatDiagnostic } from '../policy/diagnostics.ts';
import { loadConfigFolder } from './load.ts';
import type { LoadedApi, LoadedConfig } from './model.ts';

const FIXTURES = resolve(dirname(fileURLToPath(import.meta.url)), '../../test/fixtures');
const V7 = join(FIXTURES, 'apiops-v7');
const V5 = join(FIXTURES, 'apiops-v5');

async function load(dir: string, options: Parameters<typeof loadConfigFolder>[2] = {}) {
  const bag = new DiagnosticBag();
  const config = await loadConfigFolder(dir, bag, { env: {}, ...options });
  return { config, bag, lines: bag.items.map(formatDiagnostic) };
}

function api(config: LoadedConfig, folder: string): LoadedApi {
  const found = config.apis.find((a) => a.folder === folder);
  assert.ok(found, `no API folder ${folder}`);
  return found;
}

/** A throw-away config folder from a map of relative paths to contents. */
const temps: string[] = [];
async function folder(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'gh-load-'));
  temps.push(dir);
  for (const [rel, text] of Object.entries(files)) {
    await mkdir(dirname(join(dir, rel)), { recursive: true });
    await writeFile(join(dir, rel), text);
  }
  return dir;
}
after(async () => {
  for (const dir of temps) await rm(dir, { recursive: true, force: true });
});

const SPEC = 'openapi: 3.0.1\ninfo: { title: t, version: "1" }\npaths:\n  /a:\n    get:\n      operationId: get-a\n      responses: { "200": { description: ok } }\n';
const info = (properties: Record<string, unknown>) => JSON.stringify({ properties }, null, 2);

describe('loadConfigFolder: APIOps v7 fixture', () => {
  it('reads the layout, global policy, fragments, version sets, backends and named values', async () => {
    const { config, lines } = await load(V7);
    assert.equal(config.root, V7);
    assert.equal(config.layout, 'v7');
    assert.equal(config.globalPolicy?.file, 'policy.xml');
    assert.match(config.globalPolicy?.text ?? '', /<include-fragment fragment-id="correlation-id" \/>/);
    assert.deepEqual(config.fragments.map((f) => [f.id, f.policy.file]), [['correlation-id', 'policy fragments/correlation-id/policy.xml']]);
    assert.deepEqual(config.versionSets, [{ id: 'orders', displayName: 'Orders', scheme: 'Segment', headerName: null, queryName: null }]);
    assert.deepEqual(config.backends, [{ id: 'orders-backend', url: 'https://orders-backend.contoso.com' }]);
    assert.deepEqual(config.namedValues, [
      { name: 'api-secret', displayName: 'api-secret', value: 's3cr3t-from-folder', secret: true },
      { name: 'backend-host', displayName: 'backend-host', value: 'echo.contoso.com', secret: false },
      // Key Vault: no value without the overlay.
      { name: 'kv-token', displayName: 'KvToken', value: null, secret: true },
    ]);
    assert.deepEqual(lines, [
      "apis/petstore-legacy/specification.json:80:17 GH_CONFIG_SPEC_INVALID warning: DELETE /pets/{petId} has no operationId; gatehouse names it 'delete-pets-petid' (an operation policy folder must use that name) (scope: api:petstore-legacy)",
      "GH_CONFIG_ARTIFACT_SKIPPED info: skipped loggers/ ('loggers'): gatehouse does not use this kind of artifact",
      "GH_CONFIG_ARTIFACT_SKIPPED info: skipped tags/ ('tags'): gatehouse does not use this kind of artifact",
      "GH_CONFIG_ARTIFACT_SKIPPED info: skipped apis/*/diagnostics ('apis/echo-api/diagnostics'): gatehouse does not use this kind of artifact",
      "GH_CONFIG_ARTIFACT_SKIPPED info: skipped products/*/groups ('products/starter/groups'): gatehouse does not use this kind of artifact",
    ]);
  });

  it('reads APIs with their revisions, versions, operations and policies', async () => {
    const { config } = await load(V7);
    assert.deepEqual(config.apis.map((a) => [a.folder, a.name, a.revision, a.isCurrent, a.apiVersion, a.versionSetId]), [
      ['apis/echo-api', 'echo-api', '1', true, null, null],
      ['apis/echo-api;rev=2', 'echo-api', '2', false, null, null],
      ['apis/orders-v1', 'orders-v1', '1', true, 'v1', 'orders'],
      ['apis/orders-v2', 'orders-v2', '1', true, 'v2', 'orders'],
      ['apis/petstore-legacy', 'petstore-legacy', '1', true, null, null],
    ]);
    const echo = api(config, 'apis/echo-api');
    assert.deepEqual({ ...echo, operations: undefined, policy: echo.policy?.file }, {
      name: 'echo-api', displayName: 'Echo API', path: 'echo', serviceUrl: 'https://echo.contoso.com/api',
      protocols: ['https'], subscriptionRequired: true,
      subscriptionKeyParameterNames: { header: 'Ocp-Apim-Subscription-Key', query: 'subscription-key' },
      apiVersion: null, versionSetId: null, revision: '1', isCurrent: true, type: 'http',
      operations: undefined, policy: 'apis/echo-api/policy.xml', folder: 'apis/echo-api',
    });
    assert.deepEqual(echo.operations.map((o) => [o.name, o.method, o.urlTemplate, o.policy?.file ?? null]), [
      ['get-item', 'GET', '/items/{id}', 'apis/echo-api/operations/get-item/policy.xml'],
      ['create-item', 'POST', '/items', 'apis/echo-api/operations/create-item/policy.xml'],
      ['search-items', 'GET', '/search?q={q}', null],
    ]);
    assert.deepEqual(echo.operations[0]?.responses, [
      { status: 200, contentType: 'application/json', example: '{"id":42,"name":"widget"}' },
      { status: 404, contentType: 'application/json', example: '{"statusCode":404,"message":"Resource not found"}' },
    ]);
    assert.match(echo.operations[0]?.policy?.text ?? '', /<mock-response status-code="200"/);
    assert.equal(api(config, 'apis/echo-api;rev=2').serviceUrl, 'https://echo-next.contoso.com/api');

    const pets = api(config, 'apis/petstore-legacy');
    assert.equal(pets.subscriptionRequired, false);
    assert.deepEqual(pets.subscriptionKeyParameterNames, { header: 'X-Pet-Key', query: 'pet-key' });
    assert.deepEqual(pets.protocols, ['http', 'https']);
    // Swagger 2 basePath '/petstore' is not part of the operation templates.
    assert.deepEqual(pets.operations.map((o) => [o.name, o.method, o.urlTemplate, o.policy?.file ?? null]), [
      ['listPets', 'GET', '/pets', null],
      ['getPetById', 'GET', '/pets/{petId}', 'apis/petstore-legacy/operations/getPetById/policy.xml'],
      ['delete-pets-petid', 'DELETE', '/pets/{petId}', null],
    ]);
    assert.deepEqual(api(config, 'apis/orders-v2').operations.map((o) => o.policy?.file), ['apis/orders-v2/operations/list-orders/policy.xml']);
  });

  it('reads products with policies and v7 API links, and subscriptions with their scopes', async () => {
    const { config } = await load(V7);
    assert.deepEqual(config.products.map((p) => ({ ...p, policy: p.policy?.file ?? null })), [
      { name: 'starter', displayName: 'Starter', subscriptionRequired: true, state: 'published', apis: ['echo-api', 'orders-v1'], policy: 'products/starter/policy.xml' },
      { name: 'unlimited', displayName: 'Unlimited', subscriptionRequired: false, state: 'published', apis: ['petstore-legacy'], policy: null },
    ]);
    assert.deepEqual(config.subscriptions, [
      { name: 'all-apis', scope: { kind: 'all', name: null }, state: 'suspended', primaryKey: null, secondaryKey: null, file: 'subscriptions/all-apis/subscriptionInformation.json' },
      { name: 'echo-sub', scope: { kind: 'api', name: 'echo-api' }, state: 'active', primaryKey: null, secondaryKey: null, file: 'subscriptions/echo-sub/subscriptionInformation.json' },
      { name: 'starter-sub', scope: { kind: 'product', name: 'starter' }, state: 'active', primaryKey: 'starter-primary-key', secondaryKey: 'starter-secondary-key', file: 'subscriptions/starter-sub/subscriptionInformation.json' },
    ]);
  });

  it('gives the same result and diagnostics on every load', async () => {
    const a = await load(V7);
    const b = await load(V7);
    assert.deepEqual(b.config, a.config);
    assert.deepEqual(b.lines, a.lines);
  });

  it('applies a gatehouse overlay: listen, compat, named values, keys, URLs, limits', async () => {
    const { config, lines } = await load(V7, { overlayFile: join(FIXTURES, 'overlays/gatehouse-dev.yaml'), env: { GH_TEST_KV_TOKEN: 'kv-from-env' } });
    assert.ok(config.overlay.file?.endsWith('test/fixtures/overlays/gatehouse-dev.yaml'));
    assert.deepEqual(config.overlay.listen, { host: '0.0.0.0', port: 8081 });
    assert.equal(config.overlay.compat.corsOnGatewayErrors, true);
    assert.equal(config.overlay.limits.backendTimeoutMs, 30000);
    assert.deepEqual(config.overlay.trustedProxies, ['10.0.0.0/8']);
    assert.deepEqual(config.namedValues.map((n) => [n.displayName, n.value]), [['api-secret', 'local-secret'], ['backend-host', 'echo.contoso.com'], ['KvToken', 'kv-from-env']]);
    assert.equal(config.subscriptions.find((s) => s.name === 'echo-sub')?.primaryKey, 'echo-local-primary');
    assert.deepEqual(config.backends, [{ id: 'orders-backend', url: 'http://localhost:9002' }]);
    // The overlay's serviceUrl applies to every revision of the API.
    assert.deepEqual(config.apis.filter((a) => a.name === 'echo-api').map((a) => a.serviceUrl), ['http://localhost:9001/api', 'http://localhost:9001/api']);
    assert.equal(lines.filter((l) => !l.includes('GH_CONFIG_ARTIFACT_SKIPPED info') && !l.includes('delete-pets-petid')).length, 0);
  });

  it('applies an APIOps configuration.<env>.yaml: named values by resource name, backends, service URLs', async () => {
    const { config, lines } = await load(V7, { overlayFile: join(FIXTURES, 'overlays/configuration.dev.yaml') });
    assert.deepEqual(config.namedValues.map((n) => [n.name, n.value]), [['api-secret', 's3cr3t-from-folder'], ['backend-host', 'localhost'], ['kv-token', 'token-from-configuration']]);
    assert.deepEqual({ ...config.overlay.namedValues }, { 'backend-host': 'localhost', KvToken: 'token-from-configuration' });
    assert.equal(api(config, 'apis/petstore-legacy').serviceUrl, 'http://localhost:9003');
    assert.deepEqual(config.backends, [{ id: 'orders-backend', url: 'http://localhost:9002' }]);
    const warnings = lines.filter((l) => l.includes('warning') && l.includes('overlays/'));
    assert.deepEqual(warnings.map((l) => l.replace(/^.*overlays\//, '')), [
      "configuration.dev.yaml:6:5 GH_CONFIG_ARTIFACT_SKIPPED warning: APIOps configuration 'namedValues[].properties.displayName' is not used by gatehouse",
      "configuration.dev.yaml:15:5 GH_CONFIG_ARTIFACT_SKIPPED warning: APIOps configuration 'apis[].diagnostics' is not used by gatehouse",
      "configuration.dev.yaml:22:1 GH_CONFIG_ARTIFACT_SKIPPED warning: APIOps configuration section 'loggers' is not used by gatehouse",
    ]);
  });
});

describe('loadConfigFolder: APIOps v5 fixture', () => {
  it('reads apis.json links, apiVersionSetInformation.json, full ARM ids and reports the v5 layout', async () => {
    const { config, lines } = await load(V5);
    assert.equal(config.layout, 'v5');
    assert.deepEqual(config.versionSets, [{ id: 'inventory', displayName: 'Inventory', scheme: 'Header', headerName: 'Api-Version', queryName: null }]);
    assert.deepEqual(config.apis.map((a) => [a.name, a.apiVersion, a.versionSetId, a.isCurrent, a.operations.map((o) => o.urlTemplate)]), [
      ['inventory-v1', 'v1', 'inventory', true, ['/stock/{sku}?warehouse={warehouse}']],
      ['inventory-v2', 'v2', 'inventory', true, ['/stock/{sku}']],
    ]);
    assert.deepEqual(config.products.map((p) => [p.name, p.apis, p.policy?.file]), [['basic', ['inventory-v1', 'inventory-v2'], 'products/basic/policy.xml']]);
    assert.deepEqual(config.subscriptions.map((s) => [s.name, s.scope, s.primaryKey]), [
      ['basic-sub', { kind: 'product', name: 'basic' }, null],
      ['inventory-v2-sub', { kind: 'api', name: 'inventory-v2' }, 'inventory-v2-primary'],
    ]);
    assert.deepEqual(config.namedValues, [{ name: 'inventory-key', displayName: 'InventoryKey', value: null, secret: true }]);
    assert.deepEqual(lines, [
      "GH_CONFIG_ARTIFACT_SKIPPED info: skipped gateways/ ('gateways'): gatehouse does not use this kind of artifact",
      "GH_CONFIG_ARTIFACT_SKIPPED info: skipped apis/*/tags.json ('apis/inventory-v1/tags.json'): gatehouse does not use this kind of artifact",
      "GH_CONFIG_ARTIFACT_SKIPPED info: skipped products/*/groups.json ('products/basic/groups.json'): gatehouse does not use this kind of artifact",
    ]);
  });
});

describe('loadConfigFolder: broken input', () => {
  it('reports a missing folder and returns an empty configuration', async () => {
    const { config, lines } = await load(join(tmpdir(), 'gatehouse-no-such-folder'));
    assert.deepEqual(lines, [`GH_CONFIG_NOT_FOUND configuration folder '${join(tmpdir(), 'gatehouse-no-such-folder')}' does not exist or is not a folder`]);
    assert.deepEqual([config.apis, config.products, config.globalPolicy], [[], [], null]);
  });

  it('reports bad JSON at the line and column of the error, and keeps loading the rest', async () => {
    const dir = await folder({
      'apis/broken/apiInformation.json': '{\n  "properties": {\n    "path": "x",\n    "displayName": "X",\n  }\n}\n',
      'apis/good/apiInformation.json': info({ path: 'good' }),
      'apis/good/specification.yaml': SPEC,
    });
    const { config, lines } = await load(dir);
    assert.deepEqual(lines, ["apis/broken/apiInformation.json:5:3 GH_CONFIG_JSON_INVALID invalid JSON: expected a double-quoted property name"]);
    assert.deepEqual(config.apis.map((a) => a.name), ['good']);
  });

  it('reports a missing properties object or required property at the file start, and wrong types at the value', async () => {
    const dir = await folder({
      'apis/no-props/apiInformation.json': '{ "name": "no-props" }',
      'apis/no-path/apiInformation.json': info({ displayName: 'No path' }),
      'apis/bad-types/apiInformation.json': info({ path: 'bad', subscriptionRequired: 'yes', protocols: 'https' }),
      'apis/bad-types/specification.yaml': SPEC,
    });
    const { config, lines } = await load(dir);
    assert.deepEqual(lines, [
      "apis/bad-types/apiInformation.json:5:18 GH_CONFIG_JSON_INVALID property 'properties.protocols' must be an array of strings",
      "apis/bad-types/apiInformation.json:4:29 GH_CONFIG_JSON_INVALID property 'properties.subscriptionRequired' must be true or false",
      "apis/no-path/apiInformation.json:1:1 GH_CONFIG_JSON_INVALID missing required property 'properties.path'",
      "apis/no-props/apiInformation.json:1:1 GH_CONFIG_JSON_INVALID missing required object 'properties'",
    ]);
    // Wrong types fall back to the defaults.
    assert.deepEqual(config.apis.map((a) => [a.name, a.subscriptionRequired, a.protocols]), [['bad-types', true, ['https']]]);
  });

  it('reports a missing apiInformation.json, a missing spec, an orphan operation policy and a bad serviceUrl', async () => {
    const policy = '<policies><inbound><base /></inbound><backend><base /></backend><outbound><base /></outbound><on-error><base /></on-error></policies>';
    const dir = await folder({
      'apis/empty/policy.xml': policy,
      'apis/nospec/apiInformation.json': info({ path: 'nospec', serviceUrl: 'not a url' }),
      'apis/nospec/operations/ghost/policy.xml': policy,
    });
    const { lines } = await load(dir);
    assert.deepEqual(lines, [
      'GH_CONFIG_NOT_FOUND apis/empty/ has no apiInformation.json; the API is skipped',
      'GH_CONFIG_NOT_FOUND warning: apis/nospec/ has no specification file; the API has no operations (scope: api:nospec)',
      "apis/nospec/apiInformation.json:4:19 GH_CONFIG_SERVICE_URL_INVALID serviceUrl 'not a url' is not an absolute http(s) URL (set apis.nospec.serviceUrl in the overlay to override it)",
      "apis/nospec/operations/ghost/policy.xml:1:1 GH_CONFIG_OPERATION_NOT_FOUND warning: the specification has no operation 'ghost'; this policy is not used (scope: api:nospec)",
    ]);
  });

  it('reports two current revisions, an unknown version set, and unknown links', async () => {
    const dir = await folder({
      'apis/a/apiInformation.json': info({ path: 'a', apiVersionSetId: '/apiVersionSets/missing', apiVersion: 'v1' }),
      'apis/a/specification.yaml': SPEC,
      'apis/a;rev=2/apiInformation.json': info({ path: 'a', apiRevision: '2', isCurrent: true }),
      'apis/a;rev=2/specification.yaml': SPEC,
      'products/p/productInformation.json': info({ displayName: 'P' }),
      'products/p/apis.json': '[{ "name": "a" }, { "name": "nope" }, { "nom": "x" }]',
      'subscriptions/s/subscriptionInformation.json': info({ scope: '/products/q' }),
      'subscriptions/t/subscriptionInformation.json': info({ scope: '/users/u' }),
    });
    const { config, lines } = await load(dir);
    assert.deepEqual(lines, [
      'GH_CONFIG_API_REVISION_CONFLICT API \'a\' has 2 current revisions (apis/a, apis/a;rev=2); exactly one may be current',
      'products/p/apis.json:1:39 GH_CONFIG_JSON_INVALID expected {"name": "<api name>"}',
      "subscriptions/t/subscriptionInformation.json:3:14 GH_CONFIG_JSON_INVALID scope '/users/u' is not /products/<p>, /apis/<a> or /apis",
      "apis/a/apiInformation.json:4:24 GH_CONFIG_REFERENCE_UNKNOWN apis/a/apiInformation.json names version set 'missing', which the folder does not define",
      "GH_CONFIG_REFERENCE_UNKNOWN warning: products/p/ names api 'nope', which the folder does not define",
      "subscriptions/s/subscriptionInformation.json:3:14 GH_CONFIG_REFERENCE_UNKNOWN warning: subscriptions/s/subscriptionInformation.json names product 'q', which the folder does not define",
    ]);
    assert.equal(config.layout, 'v5');
    assert.deepEqual(config.products[0]?.apis, ['a', 'nope']);
  });

  it('reports duplicate display names, a header version set without its header, and a bad backend url', async () => {
    const dir = await folder({
      'named values/one/namedValueInformation.json': info({ displayName: 'Shared', value: '1' }),
      'named values/two/namedValueInformation.json': info({ displayName: 'Shared', value: '2' }),
      'named values/three/namedValueInformation.json': info({}),
      'version sets/vs/versionSetInformation.json': info({ versioningScheme: 'header' }),
      'version sets/vq/versionSetInformation.json': info({ versioningScheme: 'query', versionQueryName: 'api-version' }),
      'backends/b/backendInformation.json': info({ url: 'ftp://files.example.com' }),
      'backends/pool/backendInformation.json': info({ type: 'Pool' }),
    });
    const { config, lines } = await load(dir);
    assert.deepEqual(lines, [
      "named values/three/namedValueInformation.json:1:1 GH_CONFIG_JSON_INVALID warning: named value 'three' has no value (set namedValues.three in the overlay)",
      "named values/two/namedValueInformation.json:3:20 GH_CONFIG_NAMED_VALUE_DUPLICATE named values 'one' and 'two' both have display name 'Shared'",
      "version sets/vs/versionSetInformation.json:1:1 GH_CONFIG_JSON_INVALID missing required property 'properties.versionHeaderName'",
      "backends/b/backendInformation.json:3:12 GH_CONFIG_SERVICE_URL_INVALID backend url 'ftp://files.example.com' is not an absolute http(s) URL (set backends.b in the overlay to override it)",
      "backends/pool/backendInformation.json:3:13 GH_CONFIG_ARTIFACT_SKIPPED warning: backend 'pool' is a load-balanced pool; gatehouse does not support pools yet",
    ]);
    // The scheme is normalised to APIM's spelling.
    assert.deepEqual(config.versionSets, [{ id: 'vq', displayName: 'vq', scheme: 'Query', headerName: null, queryName: 'api-version' }]);
  });

  it('resolves references and overlay names ignoring case, and rewrites them to the defined spelling', async () => {
    const dir = await folder({
      'apis/echo/apiInformation.json': info({ path: 'echo', apiVersionSetId: '/apiVersionSets/ORDERS', apiVersion: 'v1' }),
      'apis/echo/specification.yaml': SPEC,
      'version sets/Orders/versionSetInformation.json': info({ versioningScheme: 'Segment' }),
      'products/p/productInformation.json': info({}),
      'products/p/apis/ECHO/productApiInformation.json': '{}',
      'subscriptions/s/subscriptionInformation.json': info({ scope: '/products/P' }),
      'named values/a/namedValueInformation.json': info({ displayName: 'Token', value: '1' }),
      'named values/b/namedValueInformation.json': info({ displayName: 'TOKEN', value: '2' }),
      'gatehouse.yaml': 'apis:\n  Echo: { serviceUrl: "http://localhost:1" }\nnamedValues:\n  token: overlay\n',
    });
    const { config, lines } = await load(dir);
    assert.deepEqual(lines, ["named values/b/namedValueInformation.json:3:20 GH_CONFIG_NAMED_VALUE_DUPLICATE named values 'a' and 'b' both have display name 'TOKEN'"]);
    assert.equal(config.apis[0]?.versionSetId, 'Orders');
    assert.equal(config.apis[0]?.serviceUrl, 'http://localhost:1');
    assert.deepEqual(config.products[0]?.apis, ['echo']);
    assert.deepEqual(config.subscriptions[0]?.scope, { kind: 'product', name: 'p' });
    assert.deepEqual(config.namedValues.map((n) => n.value), ['overlay', 'overlay']);
  });

  it('reports overlay errors and overlay names that match nothing in the folder', async () => {
    const dir = await folder({
      'gatehouse.yaml': 'listen:\n  port: "x"\nnamedValues:\n  Nope: v\nbackends:\n  ghost: http://localhost:1\n',
      'README.md': '# notes\n',
      'configuration.prod.yaml': 'apimServiceName: x\n',
    });
    const { config, lines } = await load(dir);
    assert.deepEqual(lines, [
      'gatehouse.yaml:2:9 GH_CONFIG_OVERLAY_INVALID listen.port must be a number',
      "gatehouse.yaml:4:9 GH_CONFIG_REFERENCE_UNKNOWN warning: the overlay sets named value 'Nope', which the folder does not define",
      "gatehouse.yaml:6:10 GH_CONFIG_REFERENCE_UNKNOWN warning: the overlay sets backend 'ghost', which the folder does not define",
      "GH_CONFIG_ARTIFACT_SKIPPED info: skipped README.md ('README.md'): gatehouse does not use this kind of artifact",
      "GH_CONFIG_ARTIFACT_SKIPPED info: skipped APIOps configuration files ('configuration.prod.yaml'): an APIOps publisher override file is read only when given with --overlay FILE",
    ]);
    assert.equal(config.overlay.file, 'gatehouse.yaml');
    assert.equal(config.overlay.listen.port, 8080);
  });
});
