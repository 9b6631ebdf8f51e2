/**
 * The APIM `cors` policy (apim-semantics.md §1; docs/cors.md has the full truth table).
 *
 * Preflights are answered by the gateway before operation matching through `preflightResponse`
 * (decide.ts), which reads the CompiledCors each handler exposes. The handler's own `run` covers
 * what happens at its position in inbound:
 * - an actual (non-preflight) request: the first cors that runs records its decision in
 *   `ctx.state` and, when the Origin matches, decorates the final response whatever produced it;
 *   an unmatched GET/HEAD with terminate-unmatched-request=true ends with an empty 200;
 * - a preflight that reached the pipeline because an OPTIONS operation matched (APIM then skips its
 *   preflight logic; a cors inside that operation's policy answers it when it runs, §1.5).
 */
import { addResponseDecorator, type GatewayContext, type GatewayResponse, type ResponseDecorator } from '../../pipeline/context.ts';
import type { HandlerResult } from '../../pipeline/handler.ts';
import { getHeaderJoined } from '../../pipeline/headers.ts';
import type { SourceLocation } from '../../policy/diagnostics.ts';
import { definePolicy } from '../../policy/define-policy.ts';
import { getAttribute } from '../../policy/element.ts';
import { buildCompiledCors, H, NO_HEADERS, type CompiledCors, type CorsConfig, type CorsHandler } from './compiled.ts';
import { applyCorsHeaders, corsRequestOf, decideActual, emptyResponse, evaluatePreflight, isPreflight, type CorsDecision, type CorsReason } from './decide.ts';
import { parseCors } from './parse.ts';

/** Key of the cors decision in `ctx.state`; set by the first cors that decides a request. */
export const CORS_STATE_KEY = 'cors';

/** The cors decision recorded for this request, if a cors ran (for traces and the on-error path). */
export function corsDecisionOf(ctx: GatewayContext): CorsDecision | undefined {
  return ctx.state.get(CORS_STATE_KEY) as CorsDecision | undefined;
}

/**
 * The compiled handler. It is also its own ResponseDecorator: the per-request part (the echoed
 * origin) lives in the decision in ctx.state, so adding the decorator allocates nothing.
 */
class CorsPolicyHandler implements CorsHandler, ResponseDecorator {
  readonly name = 'cors' as const;
  readonly cors: CompiledCors;
  readonly location: SourceLocation;
  readonly scope: string;
  readonly policyId: string | undefined;

  constructor(cors: CompiledCors) {
    this.cors = cors;
    this.location = cors.location;
    this.scope = cors.scope;
    this.policyId = cors.policyId;
  }

  run(ctx: GatewayContext): HandlerResult {
    // Only the first cors of the effective inbound decides (APIM: "only evaluates the first
    // occurrence", apim-semantics.md §1.9): a later one does nothing.
    if (ctx.state.has(CORS_STATE_KEY)) return;
    const request = ctx.request;
    if (isPreflight(request.method, request.headers)) return this.#preflightInPipeline(ctx);

    // Several Origin field lines are joined, so they never match (getHeaderJoined allocates only then).
    const decision = decideActual(this.cors, request.method, getHeaderJoined(request.headers, H.origin));
    ctx.state.set(CORS_STATE_KEY, decision);
    if (decision.kind === 'terminate-empty-200') {
      ctx.response = emptyResponse(decision.headers);
      return 'respond';
    }
    // Matched: CORS headers + Vary. Unmatched or no Origin: Vary: Origin only (Fetch §3.2.5).
    addResponseDecorator(ctx, this);
  }

  decorate(response: GatewayResponse, ctx: GatewayContext): void {
    const decision = corsDecisionOf(ctx);
    if (decision !== undefined && decision.decidedBy === this.cors) applyCorsHeaders(response, decision);
  }

  /** A preflight inside the normal pipeline (an OPTIONS operation matched): this cors alone answers. */
  #preflightInPipeline(ctx: GatewayContext): HandlerResult {
    const reasons: CorsReason[] = [];
    const answer = evaluatePreflight(this.cors, corsRequestOf(ctx.request), reasons);
    if (answer !== undefined) {
      ctx.state.set(CORS_STATE_KEY, record('preflight-answer', answer, this.cors, ctx, reasons));
      ctx.response = emptyResponse(answer);
      return 'respond';
    }
    if (this.cors.terminateUnmatched) {
      reasons.push({ code: 'terminate', cors: this.cors });
      ctx.state.set(CORS_STATE_KEY, record('terminate-empty-200', NO_HEADERS, this.cors, ctx, reasons));
      ctx.response = emptyResponse(NO_HEADERS);
      return 'respond';
    }
    // terminate=false: a later top-level cors may still answer; if none does, the OPTIONS
    // operation proceeds as configured (gatehouse decision, docs/cors.md).
    return undefined;
  }
}

function record(kind: CorsDecision['kind'], headers: CorsDecision['headers'], cors: CompiledCors, ctx: GatewayContext, reasons: CorsReason[]): CorsDecision {
  return { kind, preflight: true, headers, decidedBy: cors, origin: getHeaderJoined(ctx.request.headers, H.origin), reasons };
}

/** `<cors>`: inbound only, every scope, once per section (AD:cors-policy.md). */
export const corsPolicy = definePolicy<CorsConfig>({
  name: 'cors',
  sections: ['inbound'],
  scopes: ['global', 'workspace', 'product', 'api', 'operation'],
  oncePerSection: true,
  parse: parseCors,
  compile(config, env, statement) {
    const cors = buildCompiledCors(config, {
      location: statement.element.location,
      scope: statement.scope,
      policyId: getAttribute(statement.element, 'id')?.value.trim(),
      terminateDefault: env.compat.corsTerminateUnmatchedDefault,
    });
    return new CorsPolicyHandler(cors);
  },
});

export type { CompiledCors, CorsConfig, CorsHandler } from './compiled.ts';
export { isCorsHandler } from './compiled.ts';
export { applyCorsHeaders, applyCorsToGatewayError, decideCors, explainCorsDecision, isPreflight, preflightResponse } from './decide.ts';
export type { CorsDecision, CorsReason, CorsReasonCode, CorsRequest, CorsResponseKind } from './decide.ts';
