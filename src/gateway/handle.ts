import type { GatewayContext, GatewayRequest, GatewayResponse, LastError } from '../pipeline/context.ts';
import { getHeader } from '../pipeline/headers.ts';
import type { CompiledPipeline } from '../pipeline/pipeline.ts';
import { finish, runOnError, runPipeline } from '../pipeline/run.ts';
import { INVALID_KEY_MESSAGE, invalidSubscriptionKey, MISSING_KEY_MESSAGE, missingSubscriptionKey, notFound } from '../http/errors.ts';
import { applyCorsToGatewayError, isPreflight, preflightResponse } from '../policies/cors/decide.ts';
import { resolvePreflightProduct, resolveSubscription } from '../subscriptions/access.ts';
import type { DeniedResolution, SubscriptionKeys } from '../subscriptions/keys.ts';
import { NO_PRODUCT, type CompiledApi, type CompiledConfig, type CompiledOperation } from './compile-config.ts';
import type { GatewayRouter } from './router.ts';

/**
 * The data plane, free of node:http: a GatewayRequest in, a GatewayResponse out. The HTTP
 * server adapts sockets to this; tests call it directly.
 *
 * Order of work follows APIM (apim-semantics.md §1.13, §5; docs/subscriptions-and-versions.md):
 * 1. resolve the API (path, version, revision); none → 404, no policy runs;
 * 2. a CORS preflight takes its product from a key in the query only (else the open product) and
 *    is answered by the effective inbound's cors policies before operation matching; it never gets a 401;
 * 3. otherwise resolve the subscription (key from the header, else the query; or the open product);
 * 4. no operation → 404 through the API's on-error (in the resolved product context when there is one);
 * 5. a failed subscription check → 401 with APIM's body, through on-error with LastError
 *    `authorization` / SubscriptionKeyNotFound | SubscriptionKeyInvalid; no inbound policy runs;
 * 6. run the operation's pipeline compiled for the resolved product context.
 */
export interface RequestSnapshot {
  readonly router: GatewayRouter;
  readonly compiled: CompiledConfig;
  /** Every subscription key, compiled at load. */
  readonly subscriptions: SubscriptionKeys;
  /** gatehouse extension (off = APIM): the CORS decision also goes on gateway errors (404, 401). */
  readonly corsOnGatewayErrors: boolean;
}

/** APIM's 404 body, for no API and for no operation (apim-semantics.md §5.6). */
const resourceNotFound = notFound;

/** LastError for the 401s (apim-semantics.md §4.8: source `authorization`), built once. */
const KEY_ERRORS: Record<DeniedResolution['reason'], { readonly lastError: LastError; readonly response: () => GatewayResponse }> = {
  SubscriptionKeyNotFound: {
    lastError: Object.freeze({ source: 'authorization', reason: 'SubscriptionKeyNotFound', message: MISSING_KEY_MESSAGE, scope: undefined, section: 'inbound', code: 'GH_SUBSCRIPTION_KEY_NOT_FOUND' }),
    response: missingSubscriptionKey,
  },
  SubscriptionKeyInvalid: {
    lastError: Object.freeze({ source: 'authorization', reason: 'SubscriptionKeyInvalid', message: INVALID_KEY_MESSAGE, scope: undefined, section: 'inbound', code: 'GH_SUBSCRIPTION_KEY_INVALID' }),
    response: invalidSubscriptionKey,
  },
};

const OPERATION_NOT_FOUND: LastError = Object.freeze({
  source: 'configuration', reason: 'OperationNotFound', message: 'Unable to match incoming request to an operation.', scope: undefined, section: 'inbound', code: 'GH_ROUTE_NOT_FOUND',
});

/**
 * Not an async function: the answers that need no policy work (crossdomain.xml, no API, a preflight
 * answered by cors) and pipelines that run synchronously return the response itself, so the server
 * writes it without a promise or a microtask turn; the other paths return their promise.
 */
export function handleRequest(snapshot: RequestSnapshot, request: GatewayRequest, requestId: string): GatewayResponse | Promise<GatewayResponse> {
  // A global <cross-domain> serves /crossdomain.xml on the gateway host, before any API routing (docs/cross-domain.md).
  const crossDomain = snapshot.compiled.crossDomain;
  if (crossDomain !== null) {
    const answer = crossDomain(request.method, request.path);
    if (answer !== null) return answer;
  }
  const match = snapshot.router.resolve(request.method, request.path, request.query, request.headers);
  // APIM: global policies do not run for URLs that match no API (MicrosoftDocs/azure-docs#48799).
  // A header-versioned API is never found by a preflight: it carries no version header (§1.5).
  if (match === null) {
    const response = resourceNotFound();
    if (snapshot.corsOnGatewayErrors) applyCorsToGatewayError(snapshot.compiled.globalPipeline.corsHandlers, request, response);
    return response;
  }
  const api = match.api;

  // A preflight is answered by cors alone, unless the API has an OPTIONS operation for this URL:
  // then `match.operation` is that operation and the request is processed like any other, the
  // subscription check included (APIM: "preflight request processing logic … will not be executed").
  if (match.operation === null && isPreflight(request.method, request.headers)) {
    const product = resolvePreflightProduct(api.access, request.query, snapshot.subscriptions) ?? NO_PRODUCT;
    const pipeline = preflightPipeline(snapshot, match.route, api, product, request, match.remainderPath);
    if (pipeline !== undefined && pipeline.corsHandlers.length > 0) return preflightResponse(pipeline.corsHandlers, request);
    return operationNotFound(snapshot, request, requestId, api, product, match.params, match.remainderPath);
  }

  // Hot path: one header read (maybe a query scan) and one Map lookup; every result is shared.
  const access = resolveSubscription(api.access, request, snapshot.subscriptions);
  const product = access.kind === 'allowed' ? (access.product ?? NO_PRODUCT) : NO_PRODUCT;
  // The route decides first: an unknown operation is 404 whether or not the key is good.
  if (match.operation === null) return operationNotFound(snapshot, request, requestId, api, product, match.params, match.remainderPath);
  if (access.kind === 'denied') return subscriptionDenied(snapshot, request, requestId, api, match.operation, access, match.params, match.remainderPath);
  return runOperation(request, requestId, api, match.operation, product, match.params, match.remainderPath);
}

function runOperation(
  request: GatewayRequest,
  requestId: string,
  api: CompiledApi,
  operation: CompiledOperation,
  product: string,
  params: Readonly<Record<string, string>>,
  remainderPath: string,
): GatewayResponse | Promise<GatewayResponse> {
  const pipeline = operation.pipelines.get(product) as CompiledPipeline;
  return runPipeline(pipeline, createContext(request, requestId, api, operation, product, params, remainderPath));
}

/** 404 OperationNotFound through the API's on-error in `product`'s context (APIM runs on-error for it, §5.2). */
async function operationNotFound(
  snapshot: RequestSnapshot,
  request: GatewayRequest,
  requestId: string,
  api: CompiledApi,
  product: string,
  params: Readonly<Record<string, string>>,
  remainderPath: string,
): Promise<GatewayResponse> {
  const pipeline = api.apiPipelines.get(product) as CompiledPipeline;
  const ctx = createContext(request, requestId, api, null, product, params, remainderPath);
  await runOnError(pipeline, ctx, OPERATION_NOT_FOUND, undefined, resourceNotFound());
  const response = finish(ctx);
  if (snapshot.corsOnGatewayErrors) applyCorsToGatewayError(pipeline.corsHandlers, request, response);
  return response;
}

/**
 * 401 with APIM's body. The check is a built-in step before inbound, so no inbound policy runs
 * and the response carries no CORS headers (§1.11); on-error runs with LastError source
 * `authorization`, as for APIM's other predefined errors (§4.8), in no product context (the key
 * resolved none). compat.corsOnGatewayErrors adds the CORS decision, as on the 404s.
 */
async function subscriptionDenied(
  snapshot: RequestSnapshot,
  request: GatewayRequest,
  requestId: string,
  api: CompiledApi,
  operation: CompiledOperation,
  denied: DeniedResolution,
  params: Readonly<Record<string, string>>,
  remainderPath: string,
): Promise<GatewayResponse> {
  const pipeline = operation.pipelines.get(NO_PRODUCT) as CompiledPipeline;
  const ctx = createContext(request, requestId, api, operation, NO_PRODUCT, params, remainderPath);
  const error = KEY_ERRORS[denied.reason];
  await runOnError(pipeline, ctx, error.lastError, undefined, error.response());
  const response = finish(ctx);
  if (snapshot.corsOnGatewayErrors) applyCorsToGatewayError(pipeline.corsHandlers, request, response);
  return response;
}

/**
 * Which effective policy a preflight consults. APIM does not say; gatehouse matches the operation
 * by Access-Control-Request-Method + URL (so an operation-scope cors applies to its own
 * preflights) and falls back to the API scope (docs/cors.md).
 */
function preflightPipeline(
  snapshot: RequestSnapshot,
  route: Parameters<GatewayRouter['findOperation']>[0],
  api: CompiledApi,
  product: string,
  request: GatewayRequest,
  remainderPath: string,
): CompiledPipeline | undefined {
  const requested = getHeader(request.headers, 'access-control-request-method');
  // Hot path: when no operation has a cors of its own, every candidate gives the same answer, so
  // the second route match (and its allocations) is skipped.
  const operation = requested && api.preflightNeedsOperation.has(product) ? snapshot.router.findOperation(route, requested.trim().toUpperCase(), remainderPath, request.query) : null;
  return operation ? operation.operation.pipelines.get(product) : api.apiPipelines.get(product);
}

function createContext(
  request: GatewayRequest,
  requestId: string,
  api: CompiledApi,
  operation: CompiledOperation | null,
  product: string,
  params: Readonly<Record<string, string>>,
  remainderPath: string,
): GatewayContext {
  return {
    requestId,
    request,
    response: null,
    api: api.runtime,
    operation: operation ? operation.runtime : null,
    productName: product === NO_PRODUCT ? null : product,
    matchedParameters: params,
    backendUrl: api.runtime.serviceUrl,
    backendId: null,
    backendPath: remainderPath,
    backendQuery: request.query,
    variables: new Map(),
    lastError: null,
    section: 'inbound',
    responseDecorators: null,
    state: new Map(),
  };
}
