import { pino, type Logger } from 'pino';
import { UndiciForwarder } from './backend/forward.ts';
import { loadConfigFolder } from './config/load.ts';
import type { LoadedConfig } from './config/model.ts';
import { compileConfig, NO_PRODUCT, type CompiledApi, type CompiledConfig, type CompiledOperation } from './gateway/compile-config.ts';
import { handleRequest } from './gateway/handle.ts';
import { buildRouter, type GatewayRouter } from './gateway/router.ts';
import { close as closeServer, createGatewayServer, listen, type RequestHandler } from './http/server.ts';
import type { GatewayRequest, GatewayResponse, HeaderMap } from './pipeline/context.ts';
import { compileTrustedProxies, resolveCallerIp } from './policies/ip-filter/caller-ip.ts';
import type { BackendForwarder } from './pipeline/handler.ts';
import type { CompiledPipeline } from './pipeline/pipeline.ts';
import { ConfigError, DiagnosticBag, type Diagnostic } from './policy/diagnostics.ts';
import { printEffectivePolicy } from './policy/effective-xml.ts';
import { builtinRegistry } from './policies/index.ts';
import { compileSubscriptionKeys, type SubscriptionKeys } from './subscriptions/keys.ts';
import { checkSubscriptionsAndVersions } from './subscriptions/checks.ts';

/**
 * The control plane in one place: folder → loaded config → compiled pipelines → router.
 * The result is one immutable snapshot; a later hot reload builds a new one and swaps it.
 */
export interface GatewaySnapshot {
  readonly config: LoadedConfig;
  readonly compiled: CompiledConfig;
  readonly router: GatewayRouter;
  /** Every subscription key (and the keys generated for this run). */
  readonly subscriptions: SubscriptionKeys;
  readonly diagnostics: readonly Diagnostic[];
}

export interface LoadOptions {
  readonly configDir: string;
  readonly overlayFile?: string | undefined;
  /** Overrides applied on top of the overlay (the demo points serviceUrls at its own backends). */
  readonly serviceUrls?: Readonly<Record<string, string>>;
  readonly forwarder?: BackendForwarder;
  /** Generator for keys of subscriptions that have none (default: 32 random hex characters). */
  readonly generateKey?: () => string;
}

export interface LoadResult {
  readonly config: LoadedConfig | undefined;
  readonly compiled: CompiledConfig | undefined;
  readonly router: GatewayRouter | undefined;
  readonly subscriptions: SubscriptionKeys | undefined;
  readonly diagnostics: readonly Diagnostic[];
}

/** A forwarder for control-plane-only uses (validate, effective-policy): it never runs. */
const NOT_SERVING: BackendForwarder = {
  forward: () => Promise.reject(new Error('this gateway instance does not serve requests')),
};

/** Loads and compiles a folder, collecting every diagnostic. Never throws for bad input. */
export async function loadGatewayConfig(options: LoadOptions): Promise<LoadResult> {
  const diagnostics = new DiagnosticBag();
  const loaded = await loadConfigFolder(options.configDir, diagnostics, options.overlayFile ? { overlayFile: options.overlayFile } : undefined);
  if (loaded === undefined) return { config: undefined, compiled: undefined, router: undefined, subscriptions: undefined, diagnostics: diagnostics.items };
  const config: LoadedConfig = options.serviceUrls
    ? { ...loaded, overlay: { ...loaded.overlay, serviceUrls: { ...loaded.overlay.serviceUrls, ...options.serviceUrls } } }
    : loaded;
  const compiled = compileConfig(config, { registry: builtinRegistry(), forwarder: options.forwarder ?? NOT_SERVING, diagnostics });
  const router = buildRouter(config, compiled, diagnostics);
  checkSubscriptionsAndVersions(config, compiled, diagnostics);
  const subscriptions = compileSubscriptionKeys(config.subscriptions, diagnostics, options.generateKey ? { generateKey: options.generateKey } : undefined);
  return { config, compiled, router, subscriptions, diagnostics: diagnostics.items };
}

/**
 * Prints an API's (or operation's) effective policy; `{ error }` when a name does not exist.
 * `api` may name a revision as 'name;rev=N'.
 */
export function effectivePolicyXml(compiled: CompiledConfig, target: { api: string; operation?: string | undefined; product?: string | undefined }): string | { error: string } {
  const api = findApi(compiled, target.api);
  if (api === undefined) return { error: `no API named '${target.api}' (known: ${compiled.apis.map(apiLabel).join(', ') || 'none'})` };
  const product = target.product ?? NO_PRODUCT;
  if (product !== NO_PRODUCT && !api.products.includes(product)) {
    return { error: `API '${target.api}' is not in product '${product}' (its products: ${api.products.join(', ') || 'none'})` };
  }
  let pipeline: CompiledPipeline | undefined;
  if (target.operation !== undefined) {
    const operation = api.operations.find((o: CompiledOperation) => o.runtime.name === target.operation);
    if (operation === undefined) return { error: `API '${target.api}' has no operation '${target.operation}' (known: ${api.operations.map((o) => o.runtime.name).join(', ') || 'none'})` };
    pipeline = operation.pipelines.get(product);
  } else {
    pipeline = api.apiPipelines.get(product);
  }
  if (pipeline === undefined) return { error: 'no pipeline for that context' };
  return printEffectivePolicy(pipeline.effective);
}

function apiLabel(api: CompiledApi): string {
  return api.loaded.isCurrent ? api.loaded.name : `${api.loaded.name};rev=${api.loaded.revision}`;
}

function findApi(compiled: CompiledConfig, name: string): CompiledApi | undefined {
  const [base, rev] = name.split(';rev=');
  return compiled.apis.find((a) => a.loaded.name === base && (rev === undefined ? a.loaded.isCurrent : a.loaded.revision === rev));
}

export interface GatewayOptions extends LoadOptions {
  readonly port?: number | undefined;
  readonly host?: string | undefined;
  readonly logger?: Logger;
}

/** A running gateway: one snapshot served over HTTP. */
export interface Gateway {
  readonly url: string;
  readonly port: number;
  readonly host: string;
  readonly snapshot: GatewaySnapshot;
  /** The data plane without sockets (tests, traces). */
  handle(request: GatewayRequest, requestId?: string): Promise<GatewayResponse>;
  close(): Promise<void>;
}

/**
 * Loads, compiles and serves a folder. Throws ConfigError (GH_CONFIG_INVALID, with every
 * diagnostic) when the folder has errors: a gateway never starts on a half-valid config.
 */
export async function createGateway(options: GatewayOptions): Promise<Gateway> {
  const logger = options.logger ?? pino({ level: 'silent' });
  const forwarder = options.forwarder ?? new UndiciForwarder();
  const loaded = await loadGatewayConfig({ ...options, forwarder });
  if (loaded.config === undefined || loaded.compiled === undefined || loaded.router === undefined || loaded.subscriptions === undefined || loaded.diagnostics.some((d) => d.severity === 'error')) {
    if (forwarder instanceof UndiciForwarder) await forwarder.close();
    throw new ConfigError(loaded.diagnostics);
  }
  const snapshot: GatewaySnapshot = { config: loaded.config, compiled: loaded.compiled, router: loaded.router, subscriptions: loaded.subscriptions, diagnostics: loaded.diagnostics };
  const overlay = loaded.config.overlay;
  const requestSnapshot = { router: snapshot.router, compiled: snapshot.compiled, subscriptions: snapshot.subscriptions, corsOnGatewayErrors: overlay.compat.corsOnGatewayErrors };
  // The server takes the raw handler, which answers synchronously when it can (no promise, no
  // microtask turn per request); the public handle() stays a Promise, as callers expect.
  const serveRequest: RequestHandler = (request, requestId) => handleRequest(requestSnapshot, request, requestId);
  const handle = async (request: GatewayRequest, requestId = 'inject'): Promise<GatewayResponse> => handleRequest(requestSnapshot, request, requestId);
  const server = createGatewayServer(serveRequest, {
    maxHeaderBytes: overlay.limits.maxHeaderBytes,
    read: { maxBodyBytes: overlay.limits.maxBodyBytes, clientAddress: callerAddressRule(overlay.trustedProxies) },
    // Idle sockets outlive the default backend wait, so a client is never cut while a backend thinks.
    idleTimeoutMs: overlay.limits.backendTimeoutMs + 30_000,
    logger,
  });
  const address = await listen(server, options.port ?? overlay.listen.port, options.host ?? overlay.listen.host);
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    port: address.port,
    host: address.address,
    snapshot,
    handle,
    async close() {
      await closeServer(server);
      if (forwarder instanceof UndiciForwarder) await forwarder.close();
    },
  };
}

/**
 * The caller address rule: the socket peer, as APIM (ip-filter ignores X-Forwarded-For). With
 * `trustedProxies` in the overlay (a gatehouse extension), X-Forwarded-For is believed only when
 * the socket peer is one of them (docs/ip-filter.md).
 */
function callerAddressRule(trustedProxies: readonly string[]): ((peer: string, headers: HeaderMap) => string) | undefined {
  if (trustedProxies.length === 0) return undefined;
  const { proxies } = compileTrustedProxies(trustedProxies);
  return (peer, headers) => resolveCallerIp(peer, headers['x-forwarded-for'], proxies);
}
