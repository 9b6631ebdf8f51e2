/** Builds a GatewayContext for unit tests of policy handlers, without any HTTP server. */
import type { GatewayContext, GatewayRequest, GatewayResponse, HeaderMap, RuntimeApi, RuntimeOperation } from './context.ts';

export interface TestRequest {
  method?: string;
  path?: string;
  query?: string;
  headers?: HeaderMap;
  body?: GatewayRequest['body'];
  ipAddress?: string;
}

export function createTestContext(request: TestRequest = {}, extra: { api?: Partial<RuntimeApi>; operation?: RuntimeOperation | null; response?: GatewayResponse | null } = {}): GatewayContext {
  const api: RuntimeApi = { name: 'test-api', path: 'test', serviceUrl: 'http://backend.invalid', revision: '1', version: null, ...extra.api };
  return {
    requestId: 'test-request',
    request: {
      method: request.method ?? 'GET',
      path: request.path ?? '/test/items',
      query: request.query ?? '',
      headers: request.headers ?? {},
      body: request.body ?? null,
      ipAddress: request.ipAddress ?? '127.0.0.1',
      protocol: 'http',
      host: 'gateway.test',
    },
    response: extra.response ?? null,
    api,
    operation: extra.operation === undefined ? { name: 'get-items', method: 'GET', urlTemplate: '/items' } : extra.operation,
    productName: null,
    matchedParameters: {},
    backendUrl: api.serviceUrl,
    backendId: null,
    backendPath: '/items',
    backendQuery: request.query ?? '',
    variables: new Map(),
    lastError: null,
    section: 'inbound',
    responseDecorators: null,
    state: new Map(),
  };
}
