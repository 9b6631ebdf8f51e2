import type { SectionName } from '../policy/define-policy.ts';

/** Header names are lower-case, as node:http and undici hand them over. */
export type HeaderValue = string | string[];
export type HeaderMap = Record<string, HeaderValue | undefined>;

/** A body is nothing, bytes/text already in memory, or a stream that is never buffered whole. */
export type Body = null | string | Uint8Array | AsyncIterable<Uint8Array>;

/** The request as the pipeline sees it; the HTTP layer fills it, policies never see node:http. */
export interface GatewayRequest {
  /** As received, upper-case for the standard methods. */
  method: string;
  /** The path as received (still percent-encoded), without the query. */
  readonly path: string;
  /** The raw query string without '?'; '' when none. */
  readonly query: string;
  readonly headers: HeaderMap;
  body: Body;
  /** The caller's address (socket peer, or the trusted-proxy rule's answer). */
  readonly ipAddress: string;
  readonly protocol: 'http' | 'https';
  /** Host header as received ('' when absent). */
  readonly host: string;
}

export interface GatewayResponse {
  status: number;
  statusText?: string | undefined;
  headers: HeaderMap;
  body: Body;
}

/** APIM's context.LastError (apim-semantics.md §4.2). */
export interface LastError {
  readonly source: string;
  readonly reason: string;
  readonly message: string;
  readonly scope?: string | undefined;
  readonly section?: SectionName | undefined;
  readonly policyId?: string | undefined;
  /** The gatehouse code behind it, when gatehouse raised it (GH_BACKEND_TIMEOUT …). */
  readonly code?: string | undefined;
}

/** What the router resolved; immutable and shared by every request to the same operation. */
export interface RuntimeApi {
  readonly name: string;
  readonly path: string;
  readonly serviceUrl: string;
  readonly revision: string;
  readonly version: string | null;
}

export interface RuntimeOperation {
  readonly name: string;
  readonly method: string;
  readonly urlTemplate: string;
  /** Response examples from the specification (mock-response picks from them). */
  readonly responses?: readonly { readonly status: number; readonly contentType: string | null; readonly example: string | null }[];
}

/** Added by a policy (cors) to the final response, whichever step produced it. */
export interface ResponseDecorator {
  decorate(response: GatewayResponse, ctx: GatewayContext): void;
}

/**
 * Per-request state. One object per request, fields fixed at construction so V8 keeps one shape.
 */
export interface GatewayContext {
  readonly requestId: string;
  readonly request: GatewayRequest;
  response: GatewayResponse | null;
  readonly api: RuntimeApi;
  readonly operation: RuntimeOperation | null;
  readonly productName: string | null;
  /** Path and query parameters captured by the operation's URL template. */
  readonly matchedParameters: Readonly<Record<string, string>>;
  /** Backend base URL; set-backend-service changes it. */
  backendUrl: string;
  /** The backend entity chosen by set-backend-service backend-id, if any. */
  backendId: string | null;
  /** Path below the API suffix that forward-request appends to backendUrl; rewrite-uri changes it. */
  backendPath: string;
  /** Query string (no '?') forward-request sends; set-query-parameter and rewrite-uri change it. */
  backendQuery: string;
  readonly variables: Map<string, unknown>;
  lastError: LastError | null;
  /** The section now running, for LastError.Section. */
  section: SectionName;
  /** Decorators applied to the final response; null until a policy adds one. */
  responseDecorators: ResponseDecorator[] | null;
  /** Policy-private per-request state, keyed by policy name (e.g. the cors decision). */
  readonly state: Map<string, unknown>;
}

/**
 * An APIM error raised by a policy or a built-in step: it sends the request to on-error with
 * context.LastError set, and becomes `statusCode` when no on-error section answers.
 */
export class PolicyFailure extends Error {
  readonly source: string;
  readonly reason: string;
  readonly statusCode: number;
  readonly code: string | undefined;
  /**
   * What the caller's default error body says, when it must differ from LastError.Message
   * (ip-filter: APIM answers "Forbidden" and keeps the detail for on-error and traces).
   */
  readonly responseMessage: string | undefined;
  constructor(source: string, reason: string, message: string, statusCode: number, code?: string, responseMessage?: string) {
    super(message);
    this.name = 'PolicyFailure';
    this.source = source;
    this.reason = reason;
    this.statusCode = statusCode;
    this.code = code;
    this.responseMessage = responseMessage;
  }
}

export function addResponseDecorator(ctx: GatewayContext, decorator: ResponseDecorator): void {
  if (ctx.responseDecorators === null) ctx.responseDecorators = [decorator];
  else if (!ctx.responseDecorators.includes(decorator)) ctx.responseDecorators.push(decorator);
}
