import type { SourceLocation } from '../policy/diagnostics.ts';
import type { GatewayContext } from './context.ts';

/**
 * `'respond'`: ctx.response is final; the pipeline stops (return-response, mock-response).
 * Anything else: go on. A PolicyFailure thrown from `run` goes to on-error.
 */
export type HandlerResult = void | 'respond';

/** A compiled policy. Built once at load; `run` is the hot path. */
export interface PolicyHandler {
  readonly name: string;
  readonly location: SourceLocation;
  /** The scope document it came from ('global', 'api:echo' …), for LastError.Scope and traces. */
  readonly scope: string;
  /** The optional `id` attribute every APIM policy may carry (LastError.PolicyId). */
  readonly policyId: string | undefined;
  run(ctx: GatewayContext): HandlerResult | Promise<HandlerResult>;
}

/** Options a forward-request passes to the backend layer. */
export interface ForwardOptions {
  /** Milliseconds until response headers must arrive (APIM `timeout`, seconds, default 300). */
  readonly timeoutMs: number;
  readonly followRedirects: boolean;
  /** APIM fail-on-error-status-code: 4xx/5xx from the backend go to on-error. */
  readonly failOnErrorStatusCode: boolean;
  readonly bufferRequestBody: boolean;
}

/**
 * The backend layer as the policy language sees it. Implemented in src/backend; the policy
 * code only knows this interface, so it never imports the HTTP layer.
 */
export interface BackendForwarder {
  /** Sends ctx's request to ctx.backendUrl + backendPath + backendQuery; sets ctx.response. Throws PolicyFailure. */
  forward(ctx: GatewayContext, options: ForwardOptions): Promise<void>;
}
