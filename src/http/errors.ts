/**
 * APIM-shaped error responses the gateway produces itself (apim-semantics.md §5.6):
 * `{"statusCode":404,"message":"Resource not found"}` with `Content-Type: application/json`.
 *
 * The fixed bodies are serialised once at module load and shared as Buffers (never mutated);
 * every call returns a fresh response object with fresh headers, because response decorators
 * and on-error policies may change headers on the response they get.
 */
import type { GatewayResponse } from '../pipeline/context.ts';

export const JSON_CONTENT_TYPE = 'application/json';

/** APIM's text for no API and for no operation (both 404). */
export const NOT_FOUND_MESSAGE = 'Resource not found';
/** APIM's 401 text when no subscription key was sent (observed body; the error table says "…to this API."). */
export const MISSING_KEY_MESSAGE =
  'Access denied due to missing subscription key. Make sure to include subscription key when making requests to an API.';
/** APIM's 401 text for a key that is not valid for the API. */
export const INVALID_KEY_MESSAGE =
  'Access denied due to invalid subscription key. Make sure to provide a valid key for an active subscription.';
/** APIM's 500 text (the real gateway adds an activityId; see {@link internalError}). */
export const INTERNAL_ERROR_MESSAGE = 'Internal server error';
/** gatehouse's 413 text (APIM documents none). */
export const TOO_LARGE_MESSAGE = 'Request entity too large';

/** The exact bytes of a `{statusCode, message}` body. */
export function errorBodyBytes(status: number, message: string): Buffer {
  return Buffer.from(JSON.stringify({ statusCode: status, message }));
}

const NOT_FOUND_BODY = errorBodyBytes(404, NOT_FOUND_MESSAGE);
const MISSING_KEY_BODY = errorBodyBytes(401, MISSING_KEY_MESSAGE);
const INVALID_KEY_BODY = errorBodyBytes(401, INVALID_KEY_MESSAGE);
const TOO_LARGE_BODY = errorBodyBytes(413, TOO_LARGE_MESSAGE);

function fixed(status: number, body: Buffer): GatewayResponse {
  return { status, headers: { 'content-type': JSON_CONTENT_TYPE }, body };
}

/** 404 for no matching API or operation. */
export function notFound(): GatewayResponse {
  return fixed(404, NOT_FOUND_BODY);
}

/** 401 for a request without a subscription key where one is required. */
export function missingSubscriptionKey(): GatewayResponse {
  return fixed(401, MISSING_KEY_BODY);
}

/** 401 for a subscription key that is not valid for the API. */
export function invalidSubscriptionKey(): GatewayResponse {
  return fixed(401, INVALID_KEY_BODY);
}

/**
 * 413 for a request body over the limit. Carries `Connection: close`: the rest of the body is
 * never read, and node would otherwise drain it to keep the connection alive.
 */
export function requestTooLarge(): GatewayResponse {
  return { status: 413, headers: { 'content-type': JSON_CONTENT_TYPE, connection: 'close' }, body: TOO_LARGE_BODY };
}

/**
 * 500 as the APIM gateway sends it: `{"statusCode":500,"message":"Internal server error","activityId":"…"}`.
 * `activityId` is the request id (APIM's activity id), omitted when not given.
 */
export function internalError(activityId?: string): GatewayResponse {
  const body = activityId === undefined
    ? { statusCode: 500, message: INTERNAL_ERROR_MESSAGE }
    : { statusCode: 500, message: INTERNAL_ERROR_MESSAGE, activityId };
  return { status: 500, headers: { 'content-type': JSON_CONTENT_TYPE }, body: JSON.stringify(body) };
}

/**
 * A generic `{statusCode, message}` response. `message` is serialised with JSON.stringify, so it
 * cannot break the JSON, but it is shown to the client: pass configured or fixed text, never
 * unvalidated request input or internal details (backend hosts, stack traces).
 */
export function gatewayError(status: number, message: string): GatewayResponse {
  return { status, headers: { 'content-type': JSON_CONTENT_TYPE }, body: JSON.stringify({ statusCode: status, message }) };
}
