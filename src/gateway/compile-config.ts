import type { LoadedApi, LoadedConfig, LoadedOperation } from '../config/model.ts';
import type { RuntimeApi, RuntimeOperation } from '../pipeline/context.ts';
import { crossDomainResponder, type CrossDomainResponder } from '../policies/cross-domain/cross-domain.ts';
import { CorsPlacementLint } from '../policies/cors/lint.ts';
import type { BackendForwarder, PolicyHandler } from '../pipeline/handler.ts';
import type { CompiledPipeline } from '../pipeline/pipeline.ts';
import type { BackendEntity } from '../policy/compile-env.ts';
import { PipelineCompiler } from '../policy/compile.ts';
import type { ScopeKind } from '../policy/define-policy.ts';
import type { DiagnosticBag } from '../policy/diagnostics.ts';
import { readFragment, readPolicyDocument, type PolicyText } from '../policy/document.ts';
import type { PolicyElement } from '../policy/element.ts';
import type { NamedValueLookup } from '../policy/named-values.ts';
import type { PolicyRegistry } from '../policy/registry.ts';
import { compose, parseDocument, type ParsedDocument } from '../policy/scopes.ts';
import { compileApiAccess, type ApiAccess } from '../subscriptions/access.ts';

/** APIM's default global policy: what an instance has before anyone edits "All APIs". */
export const DEFAULT_GLOBAL_POLICY: PolicyText = {
  file: '(default global policy)',
  text: '<policies><inbound /><backend><forward-request /></backend><outbound /><on-error /></policies>',
};

/** The product context key for requests that resolved no product. */
export const NO_PRODUCT = '';

export interface CompiledOperation {
  readonly loaded: LoadedOperation;
  readonly runtime: RuntimeOperation;
  /** Product name (NO_PRODUCT for none) → pipeline. */
  readonly pipelines: ReadonlyMap<string, CompiledPipeline>;
}

export interface CompiledApi {
  readonly loaded: LoadedApi;
  readonly runtime: RuntimeApi;
  /** The API-level pipelines (no operation scope): preflights that match no operation, 404 on-error. */
  readonly apiPipelines: ReadonlyMap<string, CompiledPipeline>;
  readonly operations: readonly CompiledOperation[];
  /** Products (by name) that include this API. */
  readonly products: readonly string[];
  /** The product that includes this API and needs no subscription ("open product"), if any (= access.openProduct). */
  readonly openProduct: string | null;
  /** Subscription rules of this revision (key names, products, keyless outcome), for the per-request check. */
  readonly access: ApiAccess;
  /**
   * Product contexts in which a preflight must find its operation to know its cors: some operation's
   * effective inbound has top-level cors other than the API scope's (an operation-scope `<cors>`).
   * In every other context all candidates answer alike, so the gateway skips the second route match.
   */
  readonly preflightNeedsOperation: ReadonlySet<string>;
}

export interface CompiledConfig {
  readonly apis: readonly CompiledApi[];
  /** The global document, parsed (for global-only policies such as cross-domain). */
  readonly global: ParsedDocument;
  /** The global pipeline alone (for requests that match no API but are answered by global policies). */
  readonly globalPipeline: CompiledPipeline;
  /** Answers GET /crossdomain.xml before routing when the global policy has <cross-domain>; else null. */
  readonly crossDomain: CrossDomainResponder | null;
}

export interface CompileConfigOptions {
  readonly registry: PolicyRegistry;
  readonly forwarder: BackendForwarder;
  readonly diagnostics: DiagnosticBag;
}

/**
 * The load-time half of the gateway: every policy document read once, parsed once, composed
 * per (operation × product context) and compiled. The result holds no XML and needs no scope
 * work per request.
 */
export function compileConfig(config: LoadedConfig, options: CompileConfigOptions): CompiledConfig {
  const { diagnostics, registry } = options;
  const compat = config.overlay.compat;
  const namedValues = namedValueLookup(config);
  const fragments = fragmentLookup(config, diagnostics, namedValues);
  const docEnv = (scopePath: readonly string[]) => ({ registry, diagnostics, skipUnimplemented: compat.skipUnimplementedPolicies, scopePath });

  const readParsed = (source: PolicyText | null, kind: ScopeKind, label: string, scopePath: readonly string[]): ParsedDocument | null => {
    if (source === null) return null;
    const document = readPolicyDocument(source, kind, diagnostics, { namedValues, fragments, scopePath });
    return document ? parseDocument(document, label, docEnv(scopePath)) : null;
  };

  const defaultGlobal = readParsed(DEFAULT_GLOBAL_POLICY, 'global', 'global', ['global']) as ParsedDocument;
  const global = readParsed(config.globalPolicy, 'global', 'global', ['global']) ?? defaultGlobal;

  const backends = new Map<string, BackendEntity>(config.backends.map((b) => [b.id, { id: b.id, url: config.overlay.backendUrls[b.id] ?? b.url }]));
  const compiler = new PipelineCompiler({ backends, forwarder: options.forwarder, compat, defaultBackendTimeoutMs: config.overlay.limits.backendTimeoutMs }, diagnostics);

  const corsLint = new CorsPlacementLint(diagnostics);
  const productDocs = new Map<string, ParsedDocument | null>();
  for (const product of config.products) {
    const label = `product:${product.name}`;
    productDocs.set(product.name, readParsed(product.policy, 'product', label, ['global', label]));
  }

  const apis: CompiledApi[] = [];
  for (const api of config.apis) {
    const apiLabel = `api:${api.name}${api.isCurrent ? '' : `;rev=${api.revision}`}`;
    const products = config.products.filter((p) => p.apis.includes(api.name)).map((p) => p.name);
    const contexts = [NO_PRODUCT, ...products];
    const apiDoc = readParsed(api.policy, 'api', apiLabel, ['global', apiLabel]);
    const serviceUrl = config.overlay.serviceUrls[api.name] ?? api.serviceUrl ?? '';
    const runtime: RuntimeApi = Object.freeze({ name: api.name, path: api.path, serviceUrl, revision: api.revision, version: api.apiVersion });

    const chainFor = (product: string, operationDoc: ParsedDocument | null | undefined) => {
      const levels: (ParsedDocument | null)[] = [];
      if (product !== NO_PRODUCT) levels.push(productDocs.get(product) ?? null);
      levels.push(apiDoc);
      if (operationDoc !== undefined) levels.push(operationDoc);
      return { global, levels };
    };

    const apiPipelines = new Map<string, CompiledPipeline>();
    const contextLabel = (product: string, operation?: string) => [product === NO_PRODUCT ? null : `product:${product}`, apiLabel, operation ? `operation:${operation}` : null].filter(Boolean).join(' › ');
    for (const product of contexts) {
      const effective = compose(chainFor(product, undefined), defaultGlobal);
      corsLint.check(effective.inbound, contextLabel(product));
      apiPipelines.set(product, compiler.compile(effective));
    }

    const operations: CompiledOperation[] = api.operations.map((operation) => {
      const opLabel = `operation:${operation.name}`;
      const opDoc = readParsed(operation.policy, 'operation', opLabel, ['global', apiLabel, opLabel]);
      const pipelines = new Map<string, CompiledPipeline>();
      for (const product of contexts) {
        const effective = compose(chainFor(product, opDoc), defaultGlobal);
        corsLint.check(effective.inbound, contextLabel(product, operation.name));
        pipelines.set(product, compiler.compile(effective));
      }
      const runtimeOperation: RuntimeOperation = Object.freeze({
        name: operation.name,
        method: operation.method,
        urlTemplate: operation.urlTemplate,
        responses: operation.responses,
      });
      return { loaded: operation, runtime: runtimeOperation, pipelines };
    });
    // APIM: "An API can be associated with at most one open product", published or not (api-management-subscriptions).
    const access = compileApiAccess(api, config.products);
    const preflightNeedsOperation = new Set(contexts.filter((product) => operationsHaveOwnCors(apiPipelines, operations, product)));
    apis.push({ loaded: api, runtime, apiPipelines, operations, products, openProduct: access.openProduct, access, preflightNeedsOperation });
  }
  const globalPipeline = compiler.compile(compose({ global, levels: [] }, defaultGlobal));
  return { apis, global, globalPipeline, crossDomain: crossDomainResponder(globalPipeline.inbound) };
}

/** Whether, in `product` context, some operation's top-level cors differ from the API scope's (or a pipeline is missing). */
function operationsHaveOwnCors(apiPipelines: ReadonlyMap<string, CompiledPipeline>, operations: readonly CompiledOperation[], product: string): boolean {
  const apiCors = apiPipelines.get(product)?.corsHandlers;
  if (apiCors === undefined) return true;
  return operations.some((operation) => {
    const cors = operation.pipelines.get(product)?.corsHandlers;
    return cors === undefined || !sameCorsStatements(cors, apiCors);
  });
}

/** Same cors statements in the same order: compiled from the same element, they answer alike. */
function sameCorsStatements(a: readonly PolicyHandler[], b: readonly PolicyHandler[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as PolicyHandler;
    const y = b[i] as PolicyHandler;
    if (x !== y && (x.scope !== y.scope || x.location.file !== y.location.file || x.location.line !== y.location.line || x.location.column !== y.location.column)) return false;
  }
  return true;
}

function namedValueLookup(config: LoadedConfig): NamedValueLookup {
  // APIM references named values by display name; gatehouse matches it case-insensitively
  // (Azure resource names are case-insensitive) and lets the overlay fill or override values.
  const values = new Map<string, string | null>();
  for (const nv of config.namedValues) values.set(nv.displayName.toLowerCase(), nv.value);
  for (const [name, value] of Object.entries(config.overlay.namedValues)) values.set(name.toLowerCase(), value);
  return (name) => values.get(name.toLowerCase());
}

function fragmentLookup(config: LoadedConfig, diagnostics: DiagnosticBag, namedValues: NamedValueLookup): (id: string) => readonly PolicyElement[] | undefined {
  const sources = new Map(config.fragments.map((f) => [f.id.toLowerCase(), f.policy]));
  const cache = new Map<string, readonly PolicyElement[]>();
  return (id) => {
    const key = id.toLowerCase();
    const hit = cache.get(key);
    if (hit) return hit;
    const source = sources.get(key);
    if (source === undefined) return undefined;
    // A broken fragment is reported once and then included as nothing.
    const statements = readFragment(source, diagnostics, namedValues) ?? [];
    cache.set(key, statements);
    return statements;
  };
}
