// Generates the APIOps folders the bench serves with gatehouse (into .bench-out/, at bench time).
//   writeMainFolder:   one API `api` (scenarios 1–4 and 6): cors at API scope, forward-request at
//                      global scope, jsonp on one operation.
//   writeScaleFolder:  `apis` × `ops` operations (scenario 5): every API has the same cors + <base/>
//                      chain and every operation a policy of <base/> in all four sections.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const CORS_XML = `<cors terminate-unmatched-request="false">
      <allowed-origins><origin>http://localhost:3000</origin></allowed-origins>
      <allowed-methods preflight-result-max-age="600"><method>GET</method><method>POST</method></allowed-methods>
      <allowed-headers><header>content-type</header><header>x-requested-by</header></allowed-headers>
    </cors>`;

const GLOBAL_POLICY = `<policies>
  <inbound />
  <backend>
    <forward-request timeout="30" />
  </backend>
  <outbound />
  <on-error />
</policies>
`;

/** A policy document: each section `<base />` unless given. */
function policies({ inbound = '<base />', backend = '<base />', outbound = '<base />', onError = '<base />' } = {}) {
  return `<policies>
  <inbound>${inbound}</inbound>
  <backend>${backend}</backend>
  <outbound>${outbound}</outbound>
  <on-error>${onError}</on-error>
</policies>
`;
}

const API_POLICY = policies({ inbound: `${CORS_XML}<base />` });
const BASE_ONLY = policies();
const JSONP_POLICY = policies({ outbound: '<base /><jsonp callback-parameter-name="cb" />' });

function write(file, text) {
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(file, text);
}

function apiInformation(name, path, serviceUrl) {
  return `${JSON.stringify({ properties: { displayName: name, path, protocols: ['http'], serviceUrl, subscriptionRequired: false, apiRevision: '1', isCurrent: true, type: 'http' } }, null, 2)}\n`;
}

/** OpenAPI 3 document: `ops` is [{ id, method, path }]. */
function specification(name, ops) {
  const byPath = new Map();
  for (const op of ops) {
    if (!byPath.has(op.path)) byPath.set(op.path, []);
    byPath.get(op.path).push(op);
  }
  const lines = ['openapi: 3.0.1', `info: { title: ${name}, version: '1' }`, 'paths:'];
  for (const [path, list] of byPath) {
    lines.push(`  ${path}:`);
    for (const op of list) {
      const params = [...path.matchAll(/\{(\w+)\}/g)].map((m) => `{ name: ${m[1]}, in: path, required: true, schema: { type: string } }`);
      lines.push(`    ${op.method.toLowerCase()}:`);
      lines.push(`      operationId: ${op.id}`);
      if (params.length > 0) lines.push(`      parameters: [${params.join(', ')}]`);
      lines.push(`      responses: { '200': { description: OK } }`);
    }
  }
  return `${lines.join('\n')}\n`;
}

function overlay() {
  return 'compat:\n  corsTerminateUnmatchedDefault: false\n';
}

/** The folder for scenarios 1–4 and 6. */
export function writeMainFolder(dir, backendUrl) {
  rmSync(dir, { recursive: true, force: true });
  write(join(dir, 'policy.xml'), GLOBAL_POLICY);
  write(join(dir, 'gatehouse.yaml'), overlay());
  const api = join(dir, 'apis', 'api');
  const ops = [
    { id: 'get-item', method: 'GET', path: '/items/{id}' },
    { id: 'create-item', method: 'POST', path: '/items' },
    { id: 'get-big', method: 'GET', path: '/big' },
    { id: 'get-huge', method: 'GET', path: '/huge' },
    { id: 'jsonp-item', method: 'GET', path: '/jsonp/items/{id}' },
  ];
  write(join(api, 'apiInformation.json'), apiInformation('api', 'api', backendUrl));
  write(join(api, 'specification.yaml'), specification('api', ops));
  write(join(api, 'policy.xml'), API_POLICY);
  write(join(api, 'operations', 'jsonp-item', 'policy.xml'), JSONP_POLICY);
}

/** The 20 operations of one API at scale: 5 resources × (list, get, update, delete). */
function scaleOperations(count) {
  const ops = [];
  for (let r = 0; ops.length < count; r++) {
    ops.push({ id: `list-res${r}`, method: 'GET', path: `/res${r}` });
    ops.push({ id: `update-res${r}`, method: 'PUT', path: `/res${r}/{id}` });
    ops.push({ id: `delete-res${r}`, method: 'DELETE', path: `/res${r}/{id}` });
    ops.push({ id: `get-res${r}`, method: 'GET', path: `/res${r}/{id}` });
  }
  return ops.slice(0, count);
}

/**
 * `apis` APIs × `ops` operations. The request the bench sends goes to the last API's last
 * operation (GET /svc-{apis-1}/res4/{id} at 200 × 20), so nothing is found early by luck.
 * With apis = 1 and ops = 1 it writes that one API with that one operation: the baseline.
 */
export function writeScaleFolder(dir, backendUrl, apis, ops) {
  rmSync(dir, { recursive: true, force: true });
  write(join(dir, 'policy.xml'), GLOBAL_POLICY);
  write(join(dir, 'gatehouse.yaml'), overlay());
  const all = scaleOperations(20);
  const target = all[all.length - 1];
  for (let i = 0; i < apis; i++) {
    const index = apis === 1 ? 199 : i;
    const name = `svc-${index}`;
    const list = ops === 1 ? [target] : scaleOperations(ops);
    const folder = join(dir, 'apis', name);
    write(join(folder, 'apiInformation.json'), apiInformation(name, name, backendUrl));
    write(join(folder, 'specification.yaml'), specification(name, list));
    write(join(folder, 'policy.xml'), API_POLICY);
    for (const op of list) write(join(folder, 'operations', op.id, 'policy.xml'), BASE_ONLY);
  }
}

/** The path the scale scenario requests. */
export const SCALE_PATH = '/svc-199/res4/42';
