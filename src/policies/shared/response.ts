import { discardBody } from '../../pipeline/body.ts';
import type { GatewayContext, GatewayResponse } from '../../pipeline/context.ts';
import { emptyResponse } from '../../pipeline/run.ts';

/**
 * The response an outbound/on-error policy changes. The pipeline always provides one there (the
 * backend's, APIM's empty 200 when nothing forwarded, or the default error response in on-error);
 * before the backend (inbound, backend) there is none yet, and this starts APIM's empty 200,
 * which a later forward-request replaces.
 */
export function responseOf(ctx: GatewayContext): GatewayResponse {
  return ctx.response ?? (ctx.response = emptyResponse(200));
}

/**
 * Puts a new response in place of the current one (return-response, mock-response). The replaced
 * body is released first: a backend body that is neither read nor destroyed keeps its pooled
 * connection (and the backend's writes) busy until the body timeout, minutes later.
 */
export function replaceResponse(ctx: GatewayContext, response: GatewayResponse): void {
  const previous = ctx.response;
  if (previous !== null && previous.body !== response.body) discardBody(previous.body);
  ctx.response = response;
}
