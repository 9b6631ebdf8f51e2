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
