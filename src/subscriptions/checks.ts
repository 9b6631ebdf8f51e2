/**
 * Load-time checks for configurations that APIM refuses or that break in browsers because of how
 * APIM resolves products and versions before any policy runs (cors-policy.md; apim-semantics.md
 * §1.5, §5.3, §5.5). They read the compiled pipelines, so they see exactly the effective policy a
 * preflight would consult (`<base/>` removal included).
 */
import type { LoadedConfig } from '../config/model.ts';
import type { CompiledApi, CompiledConfig } from '../gateway/compile-config.ts';
import { NO_PRODUCT } from '../gateway/compile-config.ts';
import type { CompiledPipeline } from '../pipeline/pipeline.ts';
import type { DiagnosticBag, SourceLocation } from '../policy/diagnostics.ts';
import { openProductConflicts } from './access.ts';

/**
 * Reports:
 * - GH_CONFIG_OPEN_PRODUCT_DUPLICATE (error): an API in more than one product that needs no
 *   subscription; APIM: "An API can be associated with at most one open product."
 * - GH_CORS_PRODUCT_SCOPE_HEADER_KEY (warning, at the `<cors>`): product-scope cors on a product
 *   that requires a subscription. A preflight has no key header, so it resolves the product only
 *   when the key is in the query.
 * - GH_CORS_HEADER_VERSIONING (warning, at the `<cors>`): cors in the effective policy of a
 *   Header-versioned API version. A preflight has no version header, so it never reaches that version.
 */
export function checkSubscriptionsAndVersions(config: LoadedConfig, compiled: CompiledConfig, diagnostics: DiagnosticBag): void {
  checkOpenProducts(config, diagnostics);
  checkProductCors(config, compiled, diagnostics);
  checkHeaderVersioningCors(config, compiled, diagnostics);
}

function checkOpenProducts(config: LoadedConfig, diagnostics: DiagnosticBag): void {
  for (const [api, products] of openProductConflicts(config.products)) {
    for (const product of products.slice(1)) {
      diagnostics.report('GH_CONFIG_OPEN_PRODUCT_DUPLICATE', { file: `products/${product}/productInformation.json`, line: 1, column: 1 },
        `API '${api}' is in ${products.length} products that require no subscription (${products.map((p) => `'${p}'`).join(', ')}); APIM allows at most one open product per API, so it would refuse this. gatehouse would use '${products[0]}' for requests without a key`);
    }
  }
}

/** Every pipeline compiled for one product context of an API: API level and each operation. */
function pipelinesFor(api: CompiledApi, product: string): CompiledPipeline[] {
  const out: CompiledPipeline[] = [];
  const apiLevel = api.apiPipelines.get(product);
  if (apiLevel !== undefined) out.push(apiLevel);
  for (const operation of api.operations) {
    const p = operation.pipelines.get(product);
    if (p !== undefined) out.push(p);
  }
  return out;
}

interface Finding {
  readonly location: SourceLocation;
  readonly scope: string;
  readonly apis: Set<string>;
  readonly names: Set<string>;
}

function whereKey(location: SourceLocation): string {
  return `${location.file}:${location.line}:${location.column}`;
}

function collect(findings: Map<string, Finding>, location: SourceLocation, scope: string, api: string, name: string): void {
  const key = whereKey(location);
  let found = findings.get(key);
  if (found === undefined) {
    found = { location, scope, apis: new Set(), names: new Set() };
    findings.set(key, found);
  }
  found.apis.add(api);
  found.names.add(name);
}

function apiLabel(api: CompiledApi): string {
  return api.loaded.isCurrent ? api.loaded.name : `${api.loaded.name};rev=${api.loaded.revision}`;
}

const quoted = (names: Iterable<string>) => [...names].map((n) => `'${n}'`).join(', ');

function checkProductCors(config: LoadedConfig, compiled: CompiledConfig, diagnostics: DiagnosticBag): void {
  const requiresKey = new Set(config.products.filter((p) => p.subscriptionRequired).map((p) => p.name));
  const findings = new Map<string, Finding>();
  for (const api of compiled.apis) {
    for (const product of api.products) {
      // An open product is what a keyless preflight resolves to, so its cors does answer.
      if (!requiresKey.has(product)) continue;
      const scope = `product:${product}`;
      for (const pipeline of pipelinesFor(api, product)) {
        for (const handler of pipeline.corsHandlers) {
          if (handler.scope === scope) collect(findings, handler.location, product, apiLabel(api), api.loaded.subscriptionKeyParameterNames.header);
        }
      }
    }
  }
  for (const f of findings.values()) {
    const queryNames = new Set(compiled.apis.filter((a) => f.apis.has(apiLabel(a))).map((a) => a.loaded.subscriptionKeyParameterNames.query));
    diagnostics.report('GH_CORS_PRODUCT_SCOPE_HEADER_KEY', f.location,
      `<cors> at product scope ('${f.scope}') does not answer browser preflights when the subscription key travels in a header (${quoted(f.names)}; API(s) ${quoted(f.apis)}): ` +
      'a preflight carries no such header, so APIM cannot resolve the product, this cors never runs, and the browser blocks the request. ' +
      `Send the key in the query instead (${[...queryNames].map((q) => `?${q}=…`).join(' or ')}), or move <cors> to the API or global scope`, 'warning', ['global', `product:${f.scope}`]);
  }
}

function checkHeaderVersioningCors(config: LoadedConfig, compiled: CompiledConfig, diagnostics: DiagnosticBag): void {
  const sets = new Map(config.versionSets.map((v) => [v.id.toLowerCase(), v]));
  // Version sets that have an Original (no version identifier): a preflight lands there instead.
  const withOriginal = new Set(config.apis.filter((a) => a.versionSetId !== null && a.apiVersion === null).map((a) => (a.versionSetId as string).toLowerCase()));
  const findings = new Map<string, Finding>();
  const sawOriginal = new Set<string>();
  for (const api of compiled.apis) {
    const set = api.loaded.versionSetId === null ? undefined : sets.get(api.loaded.versionSetId.toLowerCase());
    // The Original answers without a version identifier, so its own preflights work.
    if (set === undefined || set.scheme !== 'Header' || api.loaded.apiVersion === null) continue;
    const setText = `version set '${set.id}' (header '${set.headerName ?? ''}')`;
    for (const product of [NO_PRODUCT, ...api.products]) {
      for (const pipeline of pipelinesFor(api, product)) {
        for (const handler of pipeline.corsHandlers) {
          collect(findings, handler.location, handler.scope, apiLabel(api), setText);
          if (withOriginal.has(set.id.toLowerCase())) sawOriginal.add(whereKey(handler.location));
        }
      }
    }
  }
  for (const [key, f] of findings) {
    const outcome = sawOriginal.has(key)
      ? 'the gateway resolves no version from it and the Original version\'s policies answer instead'
      : 'the gateway cannot resolve the API and answers 404; the browser blocks the request';
    diagnostics.report('GH_CORS_HEADER_VERSIONING', f.location,
      `<cors> cannot answer browser preflights for API(s) ${quoted(f.apis)}, versioned by header in ${[...f.names].join(', ')}: a preflight never carries the version header, so ${outcome}. ` +
      'Use Segment (path) or Query versioning for APIs called from browsers, as APIM\'s cors documentation advises', 'warning', [f.scope]);
  }
}
