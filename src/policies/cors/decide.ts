/**
 * The one CORS decision for gatehouse. The server (preflight answers and the compiled handler),
 * the request trace and the `cors check` CLI all ask `decideCors`, so what they show can never
 * differ from what the gateway sends. Pure: no I/O, no clock, no GatewayContext.
 *
 * Sources for every rule are in docs/cors.md (APIM docs, apim-semantics.md §1, WHATWG Fetch).
 */
import type { GatewayRequest, GatewayResponse, HeaderMap } from '../../pipeline/context.ts';
import type { PolicyHandler } from '../../pipeline/handler.ts';
import { appendVary, getHeaderJoined } from '../../pipeline/headers.ts';
import { H, NO_HEADERS, VARY, VARY_ORIGIN_ONLY, corsWhere, isCorsHandler, type CompiledCors, type CorsHeaderPair } from './compiled.ts';
import { isSerialisedOrigin, isToken, normaliseRequestOrigin } from './origin.ts';

/** The parts of a request CORS looks at. Header values as received (undefined when absent). */
export interface CorsRequest {
  readonly method: string;
  readonly origin: string | undefined;
  readonly accessControlRequestMethod: string | undefined;
  readonly accessControlRequestHeaders: string | undefined;
}

/**
 * - `preflight-answer`: answer the preflight now: 200, empty body, `headers`.
 * - `actual-headers`: run the request normally and put `headers` on the final response.
 * - `terminate-empty-200`: answer now with an empty 200 carrying only `headers` (no CORS headers).
 * - `no-cors`: run the request normally; `headers` holds at most `Vary: Origin`, never a CORS header.
 */
export type CorsResponseKind = 'preflight-answer' | 'actual-headers' | 'terminate-empty-200' | 'no-cors';

export type CorsReasonCode =
  /** No `<cors>` applies to the request at all. */
  | 'no-cors-policy'
  /** No Origin header: not a CORS request. */
  | 'origin-missing'
  /** Origin is `null`, empty, several values, not a serialised origin, or holds control characters. */
  | 'origin-invalid'
  | 'origin-not-allowed'
  | 'origin-allowed'
  /** `*` without credentials: answered with `Access-Control-Allow-Origin: *`. */
  | 'origin-any'
  /** `*` with credentials: the request's Origin is echoed, never `*` (Fetch). */
  | 'origin-any-echoed'
  | 'method-invalid'
  | 'method-not-allowed'
  | 'method-allowed'
  | 'header-invalid'
  | 'header-not-allowed'
  | 'headers-allowed'
  /** Unmatched and terminate-unmatched-request is true: empty 200. */
  | 'terminate'
  /** Unmatched preflight and terminate-unmatched-request is false: the next top-level cors is tried. */
  | 'fall-through'
  /** Every top-level cors was tried on a preflight and none matched: empty 200. */
  | 'none-left'
  /** Unmatched actual request with terminate false: it proceeds without CORS headers. */
  | 'proceed'
  /** Unmatched actual request that is not GET/HEAD: it proceeds even with terminate true (gatehouse decision). */
  | 'proceed-not-get-head'
  /** On an actual request only the first cors decides; this one was not consulted. */
  | 'later-cors-ignored';

/** Why the decision came out as it did. `cors` is the `<cors>` concerned, `value` a request detail. */
export interface CorsReason {
  readonly code: CorsReasonCode;
  readonly cors: CompiledCors | null;
  readonly value?: string | undefined;
}

export interface CorsDecision {
  readonly kind: CorsResponseKind;
  readonly preflight: boolean;
  /** Exact response headers to add, lower-case names, in order. */
  readonly headers: readonly CorsHeaderPair[];
  /** The `<cors>` that decided (the last one tried on a fall-through), or null when none applied. */
  readonly decidedBy: CompiledCors | null;
  /** The request's Origin as received (undefined when absent). */
  readonly origin: string | undefined;
  readonly reasons: readonly CorsReason[];
}

/** Fetch: a CORS-preflight request is OPTIONS with Origin and Access-Control-Request-Method. */
export function isPreflight(method: string, headers: HeaderMap): boolean {
  return method === 'OPTIONS' && headers[H.origin] !== undefined && headers[H.requestMethod] !== undefined;
}

/** Reads the CORS-relevant headers of a gateway request (several values are joined, and so never match). */
export function corsRequestOf(request: { readonly method: string; readonly headers: HeaderMap }): CorsRequest {
  return {
    method: request.method,
    origin: getHeaderJoined(request.headers, H.origin),
    accessControlRequestMethod: getHeaderJoined(request.headers, H.requestMethod),
    accessControlRequestHeaders: getHeaderJoined(request.headers, H.requestHeaders),
  };
}

/**
 * Decides what gatehouse does for `request` given the top-level `<cors>` policies of the effective
 * inbound section, in order (apim-semantics.md §1.7, §1.9, §1.13):
 * - preflight (OPTIONS + Origin + Access-Control-Request-Method): try the first cors; matched →
 *   answer; unmatched → terminate true: empty 200; terminate false: try the next; none left: empty 200.
 * - anything else: only the first cors decides; later ones are ignored.
 */
export function decideCors(policies: readonly CompiledCors[], request: CorsRequest): CorsDecision {
  const first = policies[0];
  if (first === undefined) {
    return decision('no-cors', isPreflightRequest(request), NO_HEADERS, null, request.origin, [{ code: 'no-cors-policy', cors: null }]);
  }
  if (isPreflightRequest(request)) return decidePreflight(policies, request);
  const actual = decideActual(first, request.method, request.origin);
  if (policies.length === 1) return actual;
  const reasons = [...actual.reasons];
  for (let i = 1; i < policies.length; i++) reasons.push({ code: 'later-cors-ignored', cors: policies[i] ?? null });
  return decision(actual.kind, false, actual.headers, actual.decidedBy, actual.origin, reasons);
}

/** Answers remembered per chain of cors handlers, and the bounds on what is remembered. */
const preflightAnswers = new WeakMap<readonly PolicyHandler[], Map<string, HeaderMap>>();
const PREFLIGHT_ANSWERS_PER_CHAIN = 256;
const PREFLIGHT_KEY_MAX_LENGTH = 512;

/**
 * The gateway's preflight entry point: after it resolved the API (and found no OPTIONS operation),
 * it passes the top-level cors handlers of the effective inbound in order; non-cors handlers are
 * skipped. Always a 200 with an empty body and the headers decideCors would put on it, without
 * building the explanation. The header map is remembered per chain of cors handlers and per
 * (Origin, Access-Control-Request-Method, Access-Control-Request-Headers). The answer is a pure function of those (and of the compiled
 * chain, which never changes), and a browser app sends the same few preflights over and over.
 * Bounded: at most 256 answers per chain, keys of at most 512 characters; anything else (hostile
 * input included) is worked out each time and never stored. The remembered map is frozen and
 * shared by every response that uses it: responses are written as they are, never changed.
 */
export function preflightResponse(corsHandlers: readonly PolicyHandler[], request: GatewayRequest): GatewayResponse {
  const headers = request.headers;
  const origin = getHeaderJoined(headers, H.origin);
  const method = getHeaderJoined(headers, H.requestMethod);
  const requested = getHeaderJoined(headers, H.requestHeaders);
  // '\n' never occurs in a received header value (node refuses it), '\0' marks an absent header.
  const key = `${origin ?? '\0'}\n${method ?? '\0'}\n${requested ?? '\0'}`;
  let answers = preflightAnswers.get(corsHandlers);
  if (answers === undefined) preflightAnswers.set(corsHandlers, (answers = new Map()));
  let map = answers.get(key);
  if (map === undefined) {
    const corsRequest: CorsRequest = { method: request.method, origin, accessControlRequestMethod: method, accessControlRequestHeaders: requested };
    map = Object.freeze(headerMapOf(preflightAnswerHeaders(corsHandlers, corsRequest))) as HeaderMap;
    if (key.length <= PREFLIGHT_KEY_MAX_LENGTH && answers.size < PREFLIGHT_ANSWERS_PER_CHAIN) answers.set(key, map);
  }
  return { status: 200, statusText: 'OK', headers: map, body: null };
}

/**
 * The headers decideCors puts on a preflight's answer, by the same steps as decidePreflight but
 * without building reasons: the gateway answers every preflight through here and needs no trace.
 */
function preflightAnswerHeaders(corsHandlers: readonly PolicyHandler[], request: CorsRequest): readonly CorsHeaderPair[] {
  for (let i = 0; i < corsHandlers.length; i++) {
    const handler = corsHandlers[i] as PolicyHandler;
    if (!isCorsHandler(handler)) continue;
    const answer = evaluatePreflight(handler.cors, request, null);
    if (answer !== undefined) return answer;
    if (handler.cors.terminateUnmatched) return NO_HEADERS;
  }
  return NO_HEADERS;
}

/**
 * compat.corsOnGatewayErrors (a gatehouse extension, off by default = APIM): puts CORS headers on a
 * response the gateway generated before any policy ran (404 no operation, 401 subscription key),
 * as the first top-level cors would have for an actual request. Preflight-ness is ignored: the
 * request already became an error, and a `terminate-empty-200` decision only adds its Vary (the
 * error stays). Returns the decision for the trace; undefined when no cors applies.
 */
export function applyCorsToGatewayError(corsHandlers: readonly PolicyHandler[], request: GatewayRequest, response: GatewayResponse): CorsDecision | undefined {
  for (const handler of corsHandlers) {
    if (!isCorsHandler(handler)) continue;
    const decided = decideActual(handler.cors, request.method, getHeaderJoined(request.headers, H.origin));
    applyCorsHeaders(response, decided);
    return decided;
  }
  return undefined;
}

/** A 200 with no body and exactly `headers` (the preflight answer and the terminate answer). */
export function emptyResponse(headers: readonly CorsHeaderPair[]): GatewayResponse {
  return { status: 200, statusText: 'OK', headers: headerMapOf(headers), body: null };
}

function headerMapOf(headers: readonly CorsHeaderPair[]): HeaderMap {
  const map: HeaderMap = {};
  // Indexed loop: destructuring in for…of goes through the iterator protocol.
  for (let i = 0; i < headers.length; i++) {
    const pair = headers[i] as CorsHeaderPair;
    map[pair[0]] = pair[1];
  }
  return map;
}

/**
 * Puts a decision's headers on a response that something else produced (backend, return-response,
 * on-error, or a gateway error under compat.corsOnGatewayErrors). For `actual-headers` ours win:
 * any Access-Control-Allow-Origin/-Credentials/-Expose-Headers already there is replaced, so the
 * response carries exactly one of each. `Vary` is merged, never duplicated.
 */
export function applyCorsHeaders(response: GatewayResponse, decided: CorsDecision): void {
  const headers = response.headers;
  if (decided.kind === 'actual-headers') {
    // ACAO is always ours and overwritten below; the optional two go if we do not send them.
    if (headers[H.allowCredentials] !== undefined) delete headers[H.allowCredentials];
    if (headers[H.exposeHeaders] !== undefined) delete headers[H.exposeHeaders];
  }
  const pairs = decided.headers;
  for (let i = 0; i < pairs.length; i++) {
    const [name, value] = pairs[i] as CorsHeaderPair;
    if (name === H.vary) appendVary(headers, value);
    else headers[name] = value;
  }
}

// ── Actual (non-preflight) requests: the hot path ─────────────────────────────────────────────

/**
 * One cors deciding an actual (non-preflight) request. Only the Origin matters here (the method was
 * the preflight's business; §1.7 [I]). Allocations: none without Origin, one object when unmatched,
 * three when matched (decision, header list, Access-Control-Allow-Origin pair) because the echoed
 * origin is per request. Everything else is precomputed.
 */
export function decideActual(cors: CompiledCors, method: string, origin: string | undefined): CorsDecision {
  const cache = cors.actual;
  if (origin === undefined) return cache.noOrigin;
  const match = matchOrigin(cors, origin);
  if (match === ORIGIN_ANY) return decision('actual-headers', false, cors.fixed.actualWildcard, cors, origin, cache.anyReasons);
  if (match === ORIGIN_ALLOWED || match === ORIGIN_ANY_ECHO) {
    const headers: CorsHeaderPair[] = [[H.allowOrigin, origin]];
    for (const p of cors.fixed.actualAfterOrigin) headers.push(p);
    return decision('actual-headers', false, headers, cors, origin, match === ORIGIN_ALLOWED ? cache.matchedReasons : cache.anyEchoReasons);
  }
  const getOrHead = method === 'GET' || method === 'HEAD';
  const outcome = !getOrHead ? 2 : cors.terminateUnmatched ? 0 : 1;
  const reasons = cache.unmatchedReasons[match === ORIGIN_INVALID ? 1 : 0]?.[outcome] ?? [];
  return decision(outcome === 0 ? 'terminate-empty-200' : 'no-cors', false, VARY_ORIGIN_ONLY, cors, origin, reasons);
}

// ── Preflights ────────────────────────────────────────────────────────────────────────────────

function decidePreflight(policies: readonly CompiledCors[], request: CorsRequest): CorsDecision {
  const reasons: CorsReason[] = [];
  let last: CompiledCors | null = null;
  for (const cors of policies) {
    last = cors;
    const answer = evaluatePreflight(cors, request, reasons);
    if (answer !== undefined) return decision('preflight-answer', true, answer, cors, request.origin, reasons);
    if (cors.terminateUnmatched) {
      reasons.push({ code: 'terminate', cors });
      return decision('terminate-empty-200', true, NO_HEADERS, cors, request.origin, reasons);
    }
    reasons.push({ code: 'fall-through', cors });
  }
  reasons.push({ code: 'none-left', cors: null });
  return decision('terminate-empty-200', true, NO_HEADERS, last, request.origin, reasons);
}

/**
 * Evaluates one cors against a preflight, pushing its reasons (none with `reasons` null: the
 * gateway's answer path, which allocates no reason objects). Returns the answer's headers when it
 * matches, undefined when it does not. Exported for the compiled handler (OPTIONS operations).
 */
export function evaluatePreflight(cors: CompiledCors, request: CorsRequest, reasons: CorsReason[] | null): CorsHeaderPair[] | undefined {
  const origin = request.origin ?? '';
  const originMatch = matchOrigin(cors, origin);
  let ok = true;
  if (originMatch === ORIGIN_INVALID) {
    reasons?.push({ code: 'origin-invalid', cors, value: origin });
    ok = false;
  } else if (originMatch === ORIGIN_NOT_ALLOWED) {
    reasons?.push({ code: 'origin-not-allowed', cors, value: origin });
    ok = false;
  } else {
    reasons?.push({ code: originMatch === ORIGIN_ANY ? 'origin-any' : originMatch === ORIGIN_ANY_ECHO ? 'origin-any-echoed' : 'origin-allowed', cors, value: origin });
  }

  // Method: compared case-insensitively (APIM is .NET; methods in config are upper-cased at load).
  const requested = request.accessControlRequestMethod ?? '';
  let methodPair: CorsHeaderPair | undefined = cors.fixed.allowMethods;
  let echoedMethod = false;
  if (!isToken(requested)) {
    reasons?.push({ code: 'method-invalid', cors, value: requested });
    ok = false;
  } else if (cors.anyMethod) {
    reasons?.push({ code: 'method-allowed', cors, value: requested });
    if (methodPair === undefined) {
      // `*` with credentials: Fetch reads `*` literally, so echo the method.
      methodPair = [H.allowMethods, requested];
      echoedMethod = true;
    }
  } else if (cors.methods.has(requested)) {
    reasons?.push({ code: 'method-allowed', cors, value: requested });
  } else if (cors.methods.has(requested.toUpperCase())) {
    // Matched only case-insensitively (e.g. `patch`): Fetch compares methods byte for byte,
    // so the list answer would fail in the browser; echo the method as requested instead.
    reasons?.push({ code: 'method-allowed', cors, value: requested });
    methodPair = [H.allowMethods, requested];
    echoedMethod = true;
  } else {
    reasons?.push({ code: 'method-not-allowed', cors, value: requested });
    ok = false;
  }

  // Headers: Access-Control-Request-Headers is a comma list; browsers send lower-case names.
  const requestedHeaders = splitHeaderList(request.accessControlRequestHeaders);
  let headersOk = true;
  for (const name of requestedHeaders) {
    if (!isToken(name)) {
      reasons?.push({ code: 'header-invalid', cors, value: name });
      headersOk = false;
    } else if (!cors.anyHeader && !cors.headers.has(name.toLowerCase())) {
      reasons?.push({ code: 'header-not-allowed', cors, value: name });
      headersOk = false;
    }
  }
  if (!headersOk) ok = false;
  else if (requestedHeaders.length > 0) reasons?.push({ code: 'headers-allowed', cors, value: requestedHeaders.join(', ') });
  if (!ok) return undefined;

  let headersPair = cors.fixed.allowHeaders;
  let echoedHeaders = false;
  if (cors.anyHeader && requestedHeaders.length > 0) {
    // `*` is echoed with and without credentials: with credentials Fetch reads `*` literally, and
    // without, `*` still never covers Authorization. Names are lower-cased tokens (validated above).
    headersPair = [H.allowHeaders, requestedHeaders.map((n) => n.toLowerCase()).join(', ')];
    echoedHeaders = true;
  }

  const out: CorsHeaderPair[] = [originMatch === ORIGIN_ANY ? cors.fixed.wildcardOrigin : [H.allowOrigin, origin]];
  if (cors.fixed.allowCredentials !== undefined) out.push(cors.fixed.allowCredentials);
  if (methodPair !== undefined) out.push(methodPair);
  if (headersPair !== undefined) out.push(headersPair);
  if (cors.fixed.maxAge !== undefined) out.push(cors.fixed.maxAge);
  out.push(echoedMethod ? (echoedHeaders ? VARY.originMethodHeaders : VARY.originMethod) : echoedHeaders ? VARY.originHeaders : VARY.origin);
  return out;
}

// ── Origin matching ───────────────────────────────────────────────────────────────────────────

const ORIGIN_ALLOWED = 0;
const ORIGIN_ANY = 1;
const ORIGIN_ANY_ECHO = 2;
const ORIGIN_NOT_ALLOWED = 3;
const ORIGIN_INVALID = 4;
type OriginMatch = typeof ORIGIN_ALLOWED | typeof ORIGIN_ANY | typeof ORIGIN_ANY_ECHO | typeof ORIGIN_NOT_ALLOWED | typeof ORIGIN_INVALID;

/**
 * - `*` without credentials: any non-empty Origin (also `null`) gets `*`; nothing is reflected.
 * - `*` with credentials: only a well-formed serialised origin is echoed; `null` never is.
 * - a list: exact lookup first (browsers send the normalised form: no allocation); on a miss the
 *   value is normalised (case, default port) and looked up again. Malformed values never match.
 */
function matchOrigin(cors: CompiledCors, origin: string): OriginMatch {
  if (cors.anyOrigin) {
    if (!cors.allowCredentials) return origin === '' ? ORIGIN_INVALID : ORIGIN_ANY;
    return isSerialisedOrigin(origin) ? ORIGIN_ANY_ECHO : ORIGIN_INVALID;
  }
  if (cors.origins.has(origin)) return ORIGIN_ALLOWED;
  const normalised = normaliseRequestOrigin(origin);
  if (normalised === undefined) return ORIGIN_INVALID;
  return cors.origins.has(normalised) ? ORIGIN_ALLOWED : ORIGIN_NOT_ALLOWED;
}

// ── Helpers ───────────────────────────────────────────────────────────────────────────────────

function isPreflightRequest(request: CorsRequest): boolean {
  return request.method === 'OPTIONS' && request.origin !== undefined && request.accessControlRequestMethod !== undefined;
}

function splitHeaderList(value: string | undefined): string[] {
  if (value === undefined) return [];
  if (value.indexOf(',') === -1) {
    // One name, the usual preflight (`content-type`): no split.
    const name = value.trim();
    return name === '' ? [] : [name];
  }
  const out: string[] = [];
  for (const part of value.split(',')) {
    const name = part.trim();
    if (name !== '') out.push(name);
  }
  return out;
}

function decision(
  kind: CorsResponseKind,
  preflight: boolean,
  headers: readonly CorsHeaderPair[],
  decidedBy: CompiledCors | null,
  origin: string | undefined,
  reasons: readonly CorsReason[],
): CorsDecision {
  // One literal shape for every decision keeps V8's hidden class monomorphic on the hot path.
  return { kind, preflight, headers, decidedBy, origin, reasons };
}

// ── Explaining (trace, CLI) ───────────────────────────────────────────────────────────────────

/** One human line per reason, e.g. `cors at apis/a/policy.xml:3:5 (api:a): origin 'https://x' is not allowed (allowed: …)`. */
export function explainCorsDecision(decided: CorsDecision): string[] {
  return decided.reasons.map((reason) => {
    const where = reason.cors === null ? 'gatehouse' : `cors at ${corsWhere(reason.cors)} (${reason.cors.scope})`;
    return `${where}: ${explainReason(reason, decided)}`;
  });
}

function explainReason(reason: CorsReason, decided: CorsDecision): string {
  const cors = reason.cors;
  const origin = reason.value ?? decided.origin ?? '';
  switch (reason.code) {
    case 'no-cors-policy':
      return 'no <cors> policy applies to this request';
    case 'origin-missing':
      return 'no Origin header: not a CORS request; only Vary: Origin is added';
    case 'origin-invalid':
      return `Origin ${quote(origin)} is not a single serialised origin (null, empty or malformed) and never matches`;
    case 'origin-not-allowed':
      return `origin ${quote(origin)} is not allowed (allowed: ${cors?.originList.join(', ') ?? ''})`;
    case 'origin-allowed':
      return `origin ${quote(origin)} is allowed; it is echoed in Access-Control-Allow-Origin`;
    case 'origin-any':
      return 'any origin is allowed (*) without credentials: Access-Control-Allow-Origin: *';
    case 'origin-any-echoed':
      return `any origin is allowed (*) but allow-credentials is true: the origin ${quote(origin)} is echoed, never *`;
    case 'method-invalid':
      return `Access-Control-Request-Method ${quote(reason.value ?? '')} is not a valid method`;
    case 'method-not-allowed':
      return `method ${reason.value ?? ''} is not allowed (allowed: ${cors === null ? '' : cors.methodList.join(', ')}${cors?.methodsDefaulted ? ', the APIM default without <allowed-methods>' : ''})`;
    case 'method-allowed':
      return `method ${reason.value ?? ''} is allowed`;
    case 'header-invalid':
      return `requested header ${quote(reason.value ?? '')} is not a valid header name`;
    case 'header-not-allowed':
      return cors?.headersConfigured === false
        ? `header ${reason.value ?? ''} is not allowed: this <cors> has no <allowed-headers>, so no request header is allowed`
        : `header ${reason.value ?? ''} is not allowed (allowed: ${cors?.headerList.join(', ') ?? ''})`;
    case 'headers-allowed':
      return `requested headers allowed: ${reason.value ?? ''}`;
    case 'terminate':
      return `terminate-unmatched-request is true (${cors?.terminateSource === 'attribute' ? 'written' : 'compat default'}): empty 200, no CORS headers`;
    case 'fall-through':
      return `terminate-unmatched-request is false (${cors?.terminateSource === 'attribute' ? 'written' : 'compat default'}): trying the next top-level <cors>`;
    case 'none-left':
      return 'no further top-level <cors> to try: empty 200, no CORS headers';
    case 'proceed':
      return 'terminate-unmatched-request is false: the request proceeds without CORS headers';
    case 'proceed-not-get-head':
      return 'not GET/HEAD: the request proceeds without CORS headers (terminate applies to GET/HEAD only)';
    case 'later-cors-ignored':
      return 'not consulted: only the first <cors> decides a non-preflight request';
  }
}

function quote(value: string): string {
  return JSON.stringify(value.length > 100 ? `${value.slice(0, 97)}…` : value);
}
