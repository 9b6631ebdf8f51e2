import { ALL_SCOPES, definePolicy } from '../../policy/define-policy.ts';
import { getAttribute } from '../../policy/element.ts';
import type { ForwardOptions } from '../../pipeline/handler.ts';
import { attributeValueAt, booleanAttribute, checkChildren, enumAttribute, integerAttribute } from '../shared/attributes.ts';
import { createHandler } from '../shared/handler.ts';

export interface ForwardRequestConfig {
  /**
   * Time to wait for the backend's response headers, in ms (APIM `timeout` × 1000 or `timeout-ms`);
   * null when the element sets none: the gateway default applies (overlay limits.backendTimeoutSeconds, APIM's 300 s).
   */
  readonly timeoutMs: number | null;
  readonly followRedirects: boolean;
  readonly bufferRequestBody: boolean;
  /** Parsed and kept for the effective policy; gatehouse streams responses either way. */
  readonly bufferResponse: boolean;
  readonly failOnErrorStatusCode: boolean;
  /** As configured; gatehouse speaks HTTP/1.1 to backends. */
  readonly httpVersion: '1' | '2' | '2or1';
}

/** APIM's default forward-request timeout, used when neither the element nor the overlay sets one. */
export const DEFAULT_TIMEOUT_MS = 300_000;
// setTimeout's ceiling (2^31-1 ms, ~24.8 days): a larger delay would fire at once.
const MAX_TIMEOUT_MS = 2_147_483_647;
const HTTP_VERSIONS = ['1', '2', '2or1'] as const;

/**
 * `forward-request`: sends the request to the backend (ctx.backendUrl + backendPath +
 * backendQuery) through the backend layer, which sets ctx.response or throws a PolicyFailure
 * (timeout, connection failure, or a 4xx/5xx with fail-on-error-status-code).
 *
 * @example
 * ```xml
 * <backend>
 *   <forward-request timeout="60" fail-on-error-status-code="true" />
 * </backend>
 * ```
 */
export const forwardRequestPolicy = definePolicy<ForwardRequestConfig>({
  name: 'forward-request',
  sections: ['backend'],
  scopes: ALL_SCOPES,
  // "Multiple statements per policy document: not supported".
  oncePerSection: true,
  parse(element, ctx) {
    ctx.checkAttributes(element, ['timeout', 'timeout-ms', 'continue-timeout', 'http-version', 'follow-redirects', 'buffer-request-body', 'buffer-response', 'fail-on-error-status-code']);
    checkChildren(element, ctx, []);
    const seconds = integerAttribute(element, 'timeout', ctx, { min: 0, max: Math.floor(MAX_TIMEOUT_MS / 1000) });
    const ms = integerAttribute(element, 'timeout-ms', ctx, { min: 0, max: MAX_TIMEOUT_MS });
    if (getAttribute(element, 'timeout') !== undefined && getAttribute(element, 'timeout-ms') !== undefined) {
      ctx.report('GH_POLICY_ATTR_CONFLICT', attributeValueAt(element, 'timeout-ms'), `<forward-request>: use either 'timeout' (seconds) or 'timeout-ms', not both`);
    }
    let timeoutMs = ms ?? (seconds === undefined ? null : seconds * 1000);
    if (timeoutMs === 0) {
      // 0 would read as "no timeout" to undici; a backend must always be timed out (house rule).
      ctx.report('GH_POLICY_ATTR_INVALID', attributeValueAt(element, ms === undefined ? 'timeout' : 'timeout-ms'), `<forward-request>: a timeout of 0 fails every request at once; gatehouse waits 1 ms`, 'warning');
      timeoutMs = 1;
    }
    if (getAttribute(element, 'continue-timeout') !== undefined) {
      integerAttribute(element, 'continue-timeout', ctx, { min: 0, max: Math.floor(MAX_TIMEOUT_MS / 1000) });
      ctx.report('GH_POLICY_ATTR_UNSUPPORTED', attributeValueAt(element, 'continue-timeout'), `<forward-request continue-timeout>: gatehouse does not wait for 100 Continue; ignored`, 'info');
    }
    const httpVersion = enumAttribute(element, 'http-version', ctx, HTTP_VERSIONS, '1');
    if (httpVersion === '2') {
      ctx.report('GH_POLICY_ATTR_UNSUPPORTED', attributeValueAt(element, 'http-version'), `<forward-request http-version="2">: gatehouse speaks HTTP/1.1 to backends; an HTTP/2-only (gRPC) backend will not answer`, 'warning');
    } else if (httpVersion === '2or1') {
      ctx.report('GH_POLICY_ATTR_UNSUPPORTED', attributeValueAt(element, 'http-version'), `<forward-request http-version="2or1">: gatehouse uses the HTTP/1.1 fallback`, 'info');
    }
    return {
      timeoutMs,
      followRedirects: booleanAttribute(element, 'follow-redirects', ctx, false),
      bufferRequestBody: booleanAttribute(element, 'buffer-request-body', ctx, false),
      bufferResponse: booleanAttribute(element, 'buffer-response', ctx, true),
      failOnErrorStatusCode: booleanAttribute(element, 'fail-on-error-status-code', ctx, false),
      httpVersion,
    };
  },
  compile(config, env, statement) {
    // One frozen options object shared by every request through this statement.
    const options: ForwardOptions = Object.freeze({
      timeoutMs: config.timeoutMs ?? env.defaultBackendTimeoutMs ?? DEFAULT_TIMEOUT_MS,
      followRedirects: config.followRedirects,
      failOnErrorStatusCode: config.failOnErrorStatusCode,
      bufferRequestBody: config.bufferRequestBody,
    });
    const forwarder = env.forwarder;
    return createHandler(statement, (ctx) => forwarder.forward(ctx, options));
  },
});
