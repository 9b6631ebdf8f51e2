import type { DiagnosticBag, SourceLocation } from '../policy/diagnostics.ts';
import { isObject } from './artifact.ts';
import type { JsonPath } from './json.ts';
import type { LoadedOperation, LoadedResponse } from './model.ts';

/** An operation as the specification describes it; the loader adds the operation policy. */
export type SpecOperation = Omit<LoadedOperation, 'policy'>;

export interface ExtractContext {
  readonly diagnostics: DiagnosticBag;
  readonly locate: (path: JsonPath) => SourceLocation;
  readonly translateRequiredQueryParameters: 'template' | 'query';
  readonly scopePath: readonly string[] | undefined;
}

type Obj = Record<string, unknown>;

/** The HTTP methods a path item may hold, in the order operations are listed. */
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;

/** How deep local `$ref` chains are followed before giving up (a cycle or a pathological document). */
const MAX_REF_DEPTH = 32;

/**
 * Operations of a (dereferenced or raw) OpenAPI 3 / Swagger 2 document, in document order.
 * Reads `paths` and APIM's `x-ms-paths` extension (paths whose keys carry a query part).
 * Server URLs, Swagger `host`/`basePath` are not part of the URL template: in APIM they only
 * describe where the API lives, and the template is relative to the API URL suffix.
 */
export function extractOperations(document: Obj, kind: 'openapi3' | 'swagger2', ctx: ExtractContext): SpecOperation[] {
  const operations: SpecOperation[] = [];
  const used = new Set<string>();
  for (const pathsKey of ['paths', 'x-ms-paths']) {
    const paths = document[pathsKey];
    if (!isObject(paths)) continue;
    for (const [path, rawItem] of Object.entries(paths)) {
      const item = deref(document, rawItem);
      if (!isObject(item)) continue;
      for (const method of METHODS) {
        const op = deref(document, item[method]);
        if (!isObject(op)) continue;
        const where: JsonPath = [pathsKey, path, method];
        const name = operationName(op, method, path, used, where, ctx);
        used.add(name.toLowerCase());
        const parameters = mergeParameters(document, item['parameters'], op['parameters']);
        operations.push({
          name,
          displayName: nonEmptyString(op['summary']) ?? name,
          method: method.toUpperCase(),
          urlTemplate: urlTemplate(path, parameters, ctx.translateRequiredQueryParameters),
          responses: kind === 'openapi3' ? responsesV3(document, op) : responsesV2(document, op),
        });
      }
    }
  }
  return operations;
}

/**
 * operationId is APIM's operation name and the folder name under operations/. When it is missing
 * (or taken), derive `<method>-<path words>` and warn: the name is then gatehouse's, not APIM's.
 */
function operationName(op: Obj, method: string, path: string, used: Set<string>, where: JsonPath, ctx: ExtractContext): string {
  const id = nonEmptyString(op['operationId']);
  if (id !== null && !used.has(id.toLowerCase())) return id;
  const base = `${method}-${path}`.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '') || method;
  let name = base;
  for (let n = 2; used.has(name.toLowerCase()); n++) name = `${base}-${n}`;
  const why = id === null ? 'has no operationId' : `repeats operationId '${id}'`;
  ctx.diagnostics.report('GH_CONFIG_SPEC_INVALID', ctx.locate(where),
    `${method.toUpperCase()} ${path} ${why}; gatehouse names it '${name}' (an operation policy folder must use that name)`, 'warning', ctx.scopePath);
  return name;
}

interface Parameter {
  readonly name: string;
  readonly in: string;
  readonly required: boolean;
}

/** Path-item parameters overridden by operation parameters with the same name and location. */
function mergeParameters(document: Obj, itemParams: unknown, opParams: unknown): Parameter[] {
  const merged: Parameter[] = [];
  for (const list of [itemParams, opParams]) {
    if (!Array.isArray(list)) continue;
    for (const raw of list) {
      const p = deref(document, raw);
      if (!isObject(p) || typeof p['name'] !== 'string' || typeof p['in'] !== 'string') continue;
      const param: Parameter = { name: p['name'], in: p['in'], required: p['required'] === true };
      const i = merged.findIndex((m) => m.name === param.name && m.in === param.in);
      if (i >= 0) merged[i] = param;
      else merged.push(param);
    }
  }
  return merged;
}

/**
 * The APIM URL template: the path key as written (with `{params}`), plus — APIM's import default —
 * required query parameters as template parameters (`/search?q={q}`), unless the API sets
 * translateRequiredQueryParameters to 'query'.
 */
function urlTemplate(path: string, parameters: readonly Parameter[], translate: 'template' | 'query'): string {
  const template = path.startsWith('/') ? path : `/${path}`;
  if (translate === 'query') return template;
  const present = new Set((template.split('?')[1] ?? '').split('&').map((part) => part.split('=')[0]));
  const extra = parameters
    .filter((p) => p.in === 'query' && p.required && !present.has(p.name))
    .map((p) => `${p.name}={${p.name}}`);
  if (extra.length === 0) return template;
  return `${template}${template.includes('?') ? '&' : '?'}${extra.join('&')}`;
}

/** OpenAPI 3: one entry per (status, media type); the example is `example` or the first of `examples`. */
function responsesV3(document: Obj, op: Obj): LoadedResponse[] {
  const out: LoadedResponse[] = [];
  for (const [code, raw] of statusEntries(document, op)) {
    const content = isObject(raw['content']) ? Object.entries(raw['content']) : [];
    if (content.length === 0) out.push({ status: code, contentType: null, example: null });
    for (const [contentType, rawMedia] of content) {
      const media = deref(document, rawMedia);
      const example = isObject(media) ? exampleText(media['example']) ?? firstExample(document, media['examples']) : null;
      out.push({ status: code, contentType, example });
    }
  }
  return out;
}

/** Swagger 2: examples are keyed by MIME type; other `produces` types get no example. */
function responsesV2(document: Obj, op: Obj): LoadedResponse[] {
  const produces = stringList(op['produces']) ?? stringList(document['produces']) ?? [];
  const out: LoadedResponse[] = [];
  for (const [code, raw] of statusEntries(document, op)) {
    const examples = isObject(raw['examples']) ? Object.entries(raw['examples']) : [];
    for (const [contentType, value] of examples) out.push({ status: code, contentType, example: exampleText(value) });
    const hasBody = raw['schema'] !== undefined || examples.length > 0;
    const rest = hasBody ? produces.filter((type) => !examples.some(([t]) => t === type)) : [];
    for (const contentType of rest) out.push({ status: code, contentType, example: null });
    if (examples.length === 0 && rest.length === 0) out.push({ status: code, contentType: null, example: null });
  }
  return out;
}

/** Numeric status codes only: `default` and `2XX` ranges have no status a mock could return. */
function statusEntries(document: Obj, op: Obj): [number, Obj][] {
  const responses = deref(document, op['responses']);
  if (!isObject(responses)) return [];
  const out: [number, Obj][] = [];
  for (const [code, raw] of Object.entries(responses)) {
    const response = deref(document, raw);
    if (/^[1-5]\d\d$/.test(code) && isObject(response)) out.push([Number(code), response]);
  }
  return out;
}

function firstExample(document: Obj, examples: unknown): string | null {
  if (!isObject(examples)) return null;
  for (const raw of Object.values(examples)) {
    const example = deref(document, raw);
    if (isObject(example) && example['value'] !== undefined) return exampleText(example['value']);
  }
  return null;
}

/** Strings are used verbatim (XML, text, or JSON already serialised); other values as compact JSON. */
function exampleText(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value === 'string') return value;
  try {
    return JSON.stringify(value) ?? null;
  } catch {
    return null; // a cyclic value left by dereferencing: no usable example
  }
}

/** Follows local `$ref: '#/…'` pointers; anything else (external refs, cycles) is returned as is. */
export function deref(document: Obj, node: unknown): unknown {
  let current = node;
  for (let depth = 0; depth < MAX_REF_DEPTH; depth++) {
    if (!isObject(current) || typeof current['$ref'] !== 'string' || !current['$ref'].startsWith('#/')) return current;
    const target = resolvePointer(document, current['$ref'].slice(2));
    if (target === undefined) return current;
    current = target;
  }
  return current;
}

function resolvePointer(document: Obj, pointer: string): unknown {
  let node: unknown = document;
  for (const raw of pointer.split('/')) {
    let key: string;
    try {
      key = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    } catch {
      return undefined;
    }
    if (isObject(node) && Object.hasOwn(node, key)) node = node[key];
    else if (Array.isArray(node) && /^\d+$/.test(key)) node = node[Number(key)];
    else return undefined;
  }
  return node;
}

function nonEmptyString(value: unknown): string | null {
  return typeof value === 'string' && value.trim() !== '' ? value : null;
}

function stringList(value: unknown): string[] | null {
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : null;
}
