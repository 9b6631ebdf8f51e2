import type { SectionName } from '../policy/define-policy.ts';
import { discardBody } from './body.ts';
import { PolicyFailure, type GatewayContext, type GatewayResponse, type LastError } from './context.ts';
import type { PolicyHandler } from './handler.ts';
import type { CompiledPipeline } from './pipeline.ts';

/**
 * Runs a compiled pipeline: inbound → backend → outbound, jumping to on-error when a step fails
 * (apim-semantics.md §4.2). Returns the final response with every response decorator applied.
 * Hot path: no closures, no per-section allocation; handlers that return synchronously are not
 * awaited, and when every section ran synchronously (cors, set-header, return-response,
 * mock-response …) the response itself is returned: no promise, no microtask turn. From the first
 * asynchronous step (or any failure) on, {@link runPipelineAsync} finishes the work.
 */
export function runPipeline(pipeline: CompiledPipeline, ctx: GatewayContext): GatewayResponse | Promise<GatewayResponse> {
  try {
    ctx.section = 'inbound';
    const inbound = runSection(pipeline.inbound, ctx);
    if (typeof inbound !== 'boolean') return runPipelineAsync(pipeline, ctx, INBOUND, inbound);
    if (!inbound) {
      ctx.section = 'backend';
      const backend = runSection(pipeline.backend, ctx);
      if (typeof backend !== 'boolean') return runPipelineAsync(pipeline, ctx, BACKEND, backend);
      if (!backend) {
        startOutbound(ctx);
        const outbound = runSection(pipeline.outbound, ctx);
        if (typeof outbound !== 'boolean') return runPipelineAsync(pipeline, ctx, OUTBOUND, outbound);
      }
    }
  } catch (err) {
    return failAsync(pipeline, ctx, err);
  }
  return finish(ctx);
}

/** Which section went asynchronous, for {@link runPipelineAsync}. */
const INBOUND = 0;
const BACKEND = 1;
const OUTBOUND = 2;

/** Before outbound: with no forward-request and nothing answered, APIM's context.Response starts as an empty 200. */
function startOutbound(ctx: GatewayContext): void {
  if (ctx.response === null) ctx.response = emptyResponse(200);
  ctx.section = 'outbound';
}

/** The rest of {@link runPipeline} once section `stage` returned `pending`; later sections may still run synchronously. */
async function runPipelineAsync(pipeline: CompiledPipeline, ctx: GatewayContext, stage: number, pending: Promise<boolean>): Promise<GatewayResponse> {
  try {
    let answered = await pending;
    if (!answered && stage === INBOUND) {
      ctx.section = 'backend';
      const backend = runSection(pipeline.backend, ctx);
      answered = typeof backend === 'boolean' ? backend : await backend;
      stage = BACKEND;
    }
    if (!answered && stage === BACKEND) {
      startOutbound(ctx);
      const outbound = runSection(pipeline.outbound, ctx);
      if (typeof outbound !== 'boolean') await outbound;
    }
  } catch (err) {
    return failAsync(pipeline, ctx, err);
  }
  return finish(ctx);
}

/** A failed step (thrown or rejected): on-error with LastError, then the final response. */
async function failAsync(pipeline: CompiledPipeline, ctx: GatewayContext, err: unknown): Promise<GatewayResponse> {
  const failure = err instanceof StepFailure ? err : new StepFailure(err, null);
  await runOnError(pipeline, ctx, toLastError(failure.cause, failure.handler, ctx.section), failure.cause);
  return finish(ctx);
}

/**
 * Runs `handlers` in order; true when one of them answered ('respond'). Synchronous until a
 * handler returns a promise; from there on {@link runSectionAsync} finishes the section.
 */
function runSection(handlers: readonly PolicyHandler[], ctx: GatewayContext): boolean | Promise<boolean> {
  for (let i = 0; i < handlers.length; i++) {
    const handler = handlers[i] as PolicyHandler;
    let result;
    try {
      result = handler.run(ctx);
    } catch (err) {
      throw new StepFailure(err, handler);
    }
    if (result !== undefined && typeof (result as Promise<unknown>).then === 'function') return runSectionAsync(handlers, ctx, i, result as Promise<unknown>);
    if (result === 'respond') return true;
  }
  return false;
}

/** The rest of a section after handler `index` returned `pending`. */
async function runSectionAsync(handlers: readonly PolicyHandler[], ctx: GatewayContext, index: number, pending: Promise<unknown>): Promise<boolean> {
  let outcome;
  try {
    outcome = await pending;
  } catch (err) {
    throw new StepFailure(err, handlers[index] as PolicyHandler);
  }
  if (outcome === 'respond') return true;
  for (let i = index + 1; i < handlers.length; i++) {
    const handler = handlers[i] as PolicyHandler;
    try {
      const result = handler.run(ctx);
      outcome = result !== undefined && typeof (result as Promise<unknown>).then === 'function' ? await result : result;
    } catch (err) {
      throw new StepFailure(err, handler);
    }
    if (outcome === 'respond') return true;
  }
  return false;
}

/** Carries the failing handler up to runPipeline, so LastError can name its scope and id. */
class StepFailure {
  constructor(
    readonly cause: unknown,
    readonly handler: PolicyHandler | null,
  ) {}
}

/**
 * Sends the request through on-error with context.LastError set. The default error response
 * (status from the failure, APIM-shaped JSON body) is in place first, so on-error policies can
 * change it (set-header, set-status) or replace it (return-response).
 */
export async function runOnError(pipeline: CompiledPipeline, ctx: GatewayContext, lastError: LastError, cause: unknown, defaultResponse?: GatewayResponse): Promise<void> {
  ctx.lastError = lastError;
  // A backend response being replaced still holds its connection until its body is released.
  if (ctx.response !== null) discardBody(ctx.response.body);
  if (defaultResponse !== undefined) ctx.response = defaultResponse;
  else {
    const status = cause instanceof PolicyFailure ? cause.statusCode : 500;
    const message = cause instanceof PolicyFailure ? (cause.responseMessage ?? cause.message) : 'Internal server error';
    ctx.response = jsonError(status, message);
  }
  if (pipeline.onError.length === 0) return;
  ctx.section = 'on-error';
  try {
    await runSection(pipeline.onError, ctx);
  } catch {
    // APIM: an error inside on-error ends processing with the response as it stands.
  }
}

function toLastError(err: unknown, handler: PolicyHandler | null, section: SectionName): LastError {
  if (err instanceof PolicyFailure) {
    return { source: err.source, reason: err.reason, message: err.message, scope: handler?.scope, section, policyId: handler?.policyId, code: err.code };
  }
  return {
    source: handler?.name ?? 'gateway',
    reason: 'InternalError',
    message: err instanceof Error ? err.message : String(err),
    scope: handler?.scope,
    section,
    policyId: handler?.policyId,
    code: 'GH_INTERNAL',
  };
}

/** Applies the response decorators and returns the final response. */
export function finish(ctx: GatewayContext): GatewayResponse {
  const response = ctx.response ?? emptyResponse(200);
  ctx.response = response;
  const decorators = ctx.responseDecorators;
  if (decorators !== null) for (let i = 0; i < decorators.length; i++) decorators[i]?.decorate(response, ctx);
  return response;
}

export function emptyResponse(status: number): GatewayResponse {
  return { status, headers: {}, body: null };
}

/** APIM's gateway error body shape, {"statusCode":404,"message":"Resource not found"}, with APIM's plain `application/json` (as src/http/errors.ts). */
export function jsonError(status: number, message: string): GatewayResponse {
  return {
    status,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ statusCode: status, message }),
  };
}
