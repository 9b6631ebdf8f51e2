import type { GatewayContext, GatewayRequest, GatewayResponse } from '../pipeline/context.ts';
import { getHeader } from '../pipeline/headers.ts';
import type { CompiledPipeline } from '../pipeline/pipeline.ts';
import { finish, runOnError, runPipeline } from '../pipeline/run.ts';
import { notFound } from '../http/errors.ts';
import { answerPreflight, applyCorsToGatewayError, isPreflight } from '../policies/cors/decide.ts';
import { NO_PRODUCT, type CompiledApi, type CompiledConfig, type CompiledOperation } from './compile-config.ts';
import type { GatewayRouter } from './router.ts';

/**
 * The data plane, free of node:http: a GatewayRequest in, a GatewayResponse out. The HTTP
 * server adapts sockets to this; tests call it directly.
 *
 * Order of work follows APIM (apim-semantics.md §1.13, §5): resolve the API (path, version,
 * revision); answer a CORS preflight from the effective inbound's cors policies before operation
 * matching and before any subscription check; otherwise match the operation (none → 404, through
 * the API's on-error) and run its compiled pipeline.
 */
export interface RequestSnapshot {
  readonly router: GatewayRouter;
  readonly compiled: CompiledConfig;
  /** gatehouse extension (off = APIM): the CORS decision also goes on gateway errors (404). */
  readonly corsOnGatewayErrors: boolean;
}

/** APIM's 404 body, for no API and for no operation (apim-semantics.md §5.6). */
const resourceNotFound = notFound;

export async function handleRequest(snapshot: RequestSnapshot, request: GatewayRequest, requestId: string): Promise<GatewayResponse> {
  const match = snapshot.router.resolve(request.method, request.path, request.query, request.headers);
  // APIM: global policies do not run for URLs that match no API (MicrosoftDocs/azure-docs#48799).
  if (match === null) {
    const response = resourceNotFound();
    if (snapshot.corsOnGatewayErrors) applyCorsToGatewayError(snapshot.compiled.globalPipeline.corsHandlers, request, response);
    return response;
  }

  const api = match.api;
  const product = resolveProductContext(api);

  // A preflight is answered by cors alone, unless the API has an OPTIONS operation for this URL
  // (then `match.operation` is that operation and the normal pipeline runs, as APIM documents).
  if (match.operation === null && isPreflight(request.method, request.headers)) {
    const pipeline = preflightPipeline(snapshot, match.route, api, product, request, match.remainderPath);
    if (pipeline !== undefined && pipeline.corsHandlers.length > 0) return answerPreflight(pipeline.corsHandlers, request).response;
  }

  if (match.operation === null) {
    const pipeline = api.apiPipelines.get(product) as CompiledPipeline;
    const ctx = createContext(request, requestId, api, null, product, match.params, match.remainderPath);
    await runOnError(
      pipeline,
      ctx,
      { source: 'configuration', reason: 'OperationNotFound', message: 'Unable to match incoming request to an operation.', scope: undefined, section: 'inbound', code: 'GH_ROUTE_NOT_FOUND' },
      undefined,
      resourceNotFound(),
    );
    const response = finish(ctx);
    if (snapshot.corsOnGatewayErrors) applyCorsToGatewayError(pipeline.corsHandlers, request, response);
    return response;
  }

  const operation = match.operation;
  const pipeline = operation.pipelines.get(product) as CompiledPipeline;
  const ctx = createContext(request, requestId, api, operation, product, match.params, match.remainderPath);
  return runPipeline(pipeline, ctx);
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
  const operation = requested ? snapshot.router.findOperation(route, requested.trim().toUpperCase(), remainderPath, request.query) : null;
  return operation ? operation.operation.pipelines.get(product) : api.apiPipelines.get(product);
}

/**
 * The product context of a request. Until subscription keys are implemented (issue 5) a request
 * runs in the API's open product when it has exactly one, as APIM does for keyless calls; otherwise
 * in no product.
 */
function resolveProductContext(api: CompiledApi): string {
  return api.openProduct ?? NO_PRODUCT;
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
