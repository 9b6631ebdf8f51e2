/**
 * forward-request's transport: sends ctx.request to ctx.backendUrl + backendPath + backendQuery
 * with undici and puts the streamed backend response on ctx.response.
 *
 * One undici Agent (a connection pool per origin) is created with the forwarder and closed by
 * `close()`. Request and response bodies are streamed, never buffered whole, unless forward-request
 * asks for buffer-request-body. Failures become PolicyFailures with APIM's LastError reasons
 * (apim-semantics.md §4.8); docs/routing.md explains every decision.
 */
import type { Socket } from 'node:net';
import { Agent, interceptors } from 'undici';
import type { Dispatcher } from 'undici';
import { PolicyFailure } from '../pipeline/context.ts';
import type { Body, GatewayContext, GatewayRequest, HeaderMap } from '../pipeline/context.ts';
import type { BackendForwarder, ForwardOptions } from '../pipeline/handler.ts';
import { getHeaderJoined } from '../pipeline/headers.ts';
import { BackendBody, type BodyFlow } from './body.ts';
import { TOO_LARGE_MESSAGE } from '../http/errors.ts';
import { connectionTokens, isHopByHop, stripHopByHop } from '../http/headers.ts';
import { clientSocketOf, isRequestTooLarge, peerAddressOf } from '../http/request.ts';

/**
 * Status of the default error response when the backend times out and no on-error answers.
 * APIM answers 500 here (MicrosoftDocs/azure-docs#109013), not 504.
 */
export const BACKEND_TIMEOUT_STATUS = 500;
/**
 * Status when the backend cannot be reached (refused, reset, DNS). APIM answers 500 with reason
 * BackendConnectionFailure (Azure/api-management-self-hosted-gateway#230 logs), not 502.
 */
export const BACKEND_CONNECTION_STATUS = 500;
/** Logged status when the client went away first; nothing reaches the client (nginx's 499). */
export const CLIENT_ABORTED_STATUS = 499;

/** `LastError.Source` for failures raised here. */
const SOURCE = 'forward-request';

export interface UndiciForwarderOptions {
  /** Time to establish a TCP/TLS connection, ms (default 10 000). Over it → BackendConnectionFailure. */
  readonly connectTimeoutMs?: number;
  /**
   * Longest pause between two chunks of the backend's response body, ms (default 300 000, 0 = none).
   * It fires after forward-request returned, so it breaks the client connection mid-response.
   */
  readonly bodyTimeoutMs?: number;
  /** How long an idle pooled connection is kept, ms (default 4 000, undici's). */
  readonly keepAliveTimeoutMs?: number;
  /** Connections per backend origin (default: unlimited). */
  readonly connectionsPerOrigin?: number | null;
  /** Redirects followed when forward-request has follow-redirects="true" (default 10). */
  readonly maxRedirections?: number;
  /** Use this dispatcher instead of creating an Agent (tests, custom TLS). `close()` then leaves it open. */
  readonly dispatcher?: Dispatcher;
}

/** A backend base URL parsed once: origin for undici, path prefix, Host header, base query. */
interface BackendTarget {
  readonly origin: string;
  /** Path of the base URL without its trailing '/' ('' for the root). */
  readonly basePath: string;
  readonly host: string;
  /** Query of the base URL without '?' ('' when none); sent before backendQuery. */
  readonly baseQuery: string;
}

// Backend URLs come from configuration (a few) or from set-backend-service expressions (could be
// many): parse each once, keep at most this many.
const TARGET_CACHE_LIMIT = 512;

/**
 * One forwarded request as undici's dispatch handler: settles `headers` at the backend's response
 * headers (or the failure before them), then feeds the {@link BackendBody}. Using dispatch rather
 * than `request()` saves the request API's handler, its abort-signal bookkeeping and the body
 * Readable on every call (docs/performance.md); `abort()` serves the timeout and the client going away.
 */
class BackendExchange implements Dispatcher.DispatchHandler, BodyFlow {
  readonly headers: Promise<BackendAnswer>;
  #resolve!: (answer: BackendAnswer) => void;
  #reject!: (err: unknown) => void;
  #settled = false;
  #controller: Dispatcher.DispatchController | null = null;
  #abortReason: Error | null = null;
  #body: BackendBody | null = null;

  constructor() {
    this.headers = new Promise((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
  }

  /** Stops the request: before the headers the promise rejects with `reason` at once. */
  abort(reason: Error): void {
    if (this.#abortReason !== null) return;
    this.#abortReason = reason;
    // A request still queued for a connection has no controller yet; onRequestStart aborts it.
    this.#controller?.abort(reason);
    this.#fail(reason);
  }

  pause(): void {
    this.#controller?.pause();
  }

  resume(): void {
    this.#controller?.resume();
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    // Called again when undici retries the request on a new connection: keep the latest.
    this.#controller = controller;
    if (this.#abortReason !== null) controller.abort(this.#abortReason);
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[] | undefined>): void {
    // 1xx informational responses (102, 103) are not the answer; undici calls again for the final one.
    if (statusCode < 200) return;
    if (this.#settled) {
      controller.abort(this.#abortReason ?? new Error('aborted'));
      return;
    }
    this.#settled = true;
    const body = new BackendBody(this);
    this.#body = body;
    this.#resolve({ statusCode, headers: headers as HeaderMap, body });
  }

  onResponseData(_controller: Dispatcher.DispatchController, chunk: Buffer): void {
    this.#body?.push(chunk);
  }

  onResponseEnd(): void {
    this.#body?.end();
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    this.#fail(err);
  }

  #fail(err: Error): void {
    if (!this.#settled) {
      this.#settled = true;
      this.#reject(err);
    } else this.#body?.fail(err);
  }
}

interface BackendAnswer {
  readonly statusCode: number;
  readonly headers: HeaderMap;
  readonly body: BackendBody;
}

/** Why a forward was aborted; the undici error that follows is mapped by this, not by its own kind. */
class ForwardAborted extends Error {
  constructor(readonly why: 'timeout' | 'client') {
    super(why === 'timeout' ? 'backend timeout' : 'client went away');
  }
}

/** The BackendForwarder the gateway uses in production. Create one per gateway; `close()` on shutdown. */
export class UndiciForwarder implements BackendForwarder {
  readonly #agent: Dispatcher;
  readonly #redirecting: Dispatcher;
  readonly #ownsAgent: boolean;
  readonly #bodyTimeoutMs: number;
  #closing: Promise<void> | null = null;
  readonly #targets = new Map<string, BackendTarget | null>();

  constructor(options: UndiciForwarderOptions = {}) {
    this.#bodyTimeoutMs = options.bodyTimeoutMs ?? 300_000;
    if (options.dispatcher !== undefined) {
      this.#agent = options.dispatcher;
      this.#ownsAgent = false;
    } else {
      this.#agent = new Agent({
        connect: { timeout: options.connectTimeoutMs ?? 10_000 },
        keepAliveTimeout: options.keepAliveTimeoutMs ?? 4_000,
        connections: options.connectionsPerOrigin ?? null,
        bodyTimeout: this.#bodyTimeoutMs,
      });
      this.#ownsAgent = true;
    }
    // Built once: the redirect-following dispatcher shares the pool.
    this.#redirecting = this.#agent.compose(interceptors.redirect({ maxRedirections: options.maxRedirections ?? 10 }));
  }

  /**
   * Sends the request and sets ctx.response = { status, headers (lower-case, hop-by-hop removed),
   * body: a {@link BackendBody} fed as the backend sends it }. Throws PolicyFailure: Timeout (no response headers within
   * options.timeoutMs), BackendConnectionFailure, ClientConnectionFailure, RequestEntityTooLarge,
   * or BackendErrorStatusCode (fail-on-error-status-code). Hot path.
   */
  async forward(ctx: GatewayContext, options: ForwardOptions): Promise<void> {
    const target = this.#target(ctx.backendUrl);
    if (target === null) {
      throw new PolicyFailure(SOURCE, 'BackendConnectionFailure', 'The backend URL is not an absolute http(s) URL.', BACKEND_CONNECTION_STATUS, 'GH_BACKEND_CONNECTION');
    }
    const request = ctx.request;
    if (options.bufferRequestBody) await bufferBody(request);
    const body = request.body;
    const path = backendPathAndQuery(target, ctx.backendPath, ctx.backendQuery);
    const headers = forwardHeaders(request, target.host);

    const socket = clientSocketOf(request);
    if (socket !== null && socket.destroyed) throw clientAborted();

    // One exchange serves both the forward-request timeout (APIM: time to response headers,
    // connecting and sending included) and the client going away.
    const exchange = new BackendExchange();
    const timer = setTimeout(() => exchange.abort(new ForwardAborted('timeout')), options.timeoutMs);
    const onClientClose = (): void => exchange.abort(new ForwardAborted('client'));
    if (socket !== null) watchClose(socket, onClientClose);

    (options.followRedirects ? this.#redirecting : this.#agent).dispatch(
      {
        origin: target.origin,
        path,
        method: request.method as Dispatcher.HttpMethod,
        headers,
        // undici streams any (async) iterable; the declared type lists only Readable.
        body: body as Dispatcher.DispatchOptions['body'],
        // Our timer above is the authority; undici's own header timer only guards long timeouts.
        headersTimeout: options.timeoutMs,
        bodyTimeout: this.#bodyTimeoutMs,
      },
      exchange,
    );
    let data: BackendAnswer;
    try {
      data = await exchange.headers;
    } catch (err) {
      const why = err instanceof ForwardAborted ? err.why : socket !== null && socket.destroyed ? 'client' : null;
      throw toFailure(err, why, options.timeoutMs);
    } finally {
      clearTimeout(timer);
      if (socket !== null) unwatchClose(socket, onClientClose);
    }

    const responseHeaders = data.headers;
    stripHopByHop(responseHeaders);
    ctx.response = { status: data.statusCode, headers: responseHeaders, body: data.body };

    if (options.failOnErrorStatusCode && data.statusCode >= 400 && data.statusCode <= 599) {
      // on-error replaces the response; release the backend body now so its connection is reused
      // instead of waiting for the body timeout.
      data.body.dump().catch(() => {});
      ctx.response.body = null;
      throw new PolicyFailure(
        SOURCE,
        'BackendErrorStatusCode',
        `The backend responded with status code ${data.statusCode}.`,
        data.statusCode,
        'GH_BACKEND_ERROR_STATUS',
      );
    }
  }

  /** Closes pooled connections (waits for requests in flight). Idempotent. */
  async close(): Promise<void> {
    if (!this.#ownsAgent) return;
    this.#closing ??= this.#agent.close();
    await this.#closing;
  }

  #target(backendUrl: string): BackendTarget | null {
    const cached = this.#targets.get(backendUrl);
    if (cached !== undefined) return cached;
    const target = parseTarget(backendUrl);
    if (this.#targets.size >= TARGET_CACHE_LIMIT) this.#targets.clear();
    this.#targets.set(backendUrl, target);
    return target;
  }
}

/** Parses a backend base URL; null when it is not an absolute http(s) URL. Credentials in it are ignored. */
export function parseTarget(backendUrl: string): BackendTarget | null {
  let url: URL;
  try {
    url = new URL(backendUrl);
  } catch {
    return null;
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.hostname === '') return null;
  const pathname = url.pathname;
  return {
    origin: url.origin,
    basePath: pathname.endsWith('/') ? pathname.slice(0, -1) : pathname,
    host: url.host,
    baseQuery: url.search.length > 1 ? url.search.slice(1) : '',
  };
}

/**
 * Joins the base URL's path with the path below the API suffix, with exactly one '/' between
 * them, and appends the query: base query first, then ctx.backendQuery.
 * `http://b/api/` + `/items` → `/api/items`; `http://b` + '' → `/`; `http://b/api` + '' → `/api`.
 */
export function backendPathAndQuery(target: BackendTarget, backendPath: string, backendQuery: string): string {
  let path: string;
  if (backendPath === '') path = target.basePath === '' ? '/' : target.basePath;
  else if (backendPath.charCodeAt(0) === 0x2f /* / */) path = target.basePath + backendPath;
  else path = `${target.basePath}/${backendPath}`;
  const query = target.baseQuery === '' ? backendQuery : backendQuery === '' ? target.baseQuery : `${target.baseQuery}&${backendQuery}`;
  return query === '' ? path : `${path}?${query}`;
}

/**
 * The headers sent to the backend: the request's headers minus hop-by-hop ones, those the
 * Connection header names, Host and Expect (node answered 100-continue already); Content-Length
 * only when the body is a stream (undici computes it for in-memory bodies and needs none for null);
 * Host set to the backend's; X-Forwarded-For appended with the caller's address; X-Forwarded-Proto
 * and X-Forwarded-Host set to what the gateway received.
 */
export function forwardHeaders(request: GatewayRequest, backendHost: string): Record<string, string | string[]> {
  const source = request.headers;
  const named = connectionTokens(source['connection']);
  const body = request.body;
  const streamBody = body !== null && typeof body !== 'string' && !(body instanceof Uint8Array);
  const out: Record<string, string | string[]> = {};
  for (const name in source) {
    const value = source[name];
    if (value === undefined) continue;
    if (isHopByHop(name) || (named !== null && named.has(name))) continue;
    switch (name) {
      case 'host':
      case 'expect':
      case 'x-forwarded-for':
      case 'x-forwarded-proto':
      case 'x-forwarded-host':
        continue;
      case 'content-length':
        if (!streamBody) continue;
    }
    out[name] = value;
  }
  out['host'] = backendHost;
  const prior = getHeaderJoined(source, 'x-forwarded-for');
  // Append the hop we received the request from (the socket peer), not the resolved caller: with
  // trusted proxies the caller is already in `prior`, and the proxy hop must not be lost.
  const ip = peerAddressOf(request);
  if (ip !== '') out['x-forwarded-for'] = prior === undefined || prior === '' ? ip : `${prior}, ${ip}`;
  else if (prior !== undefined) out['x-forwarded-for'] = prior;
  out['x-forwarded-proto'] = request.protocol;
  if (request.host !== '') out['x-forwarded-host'] = request.host;
  return out;
}

/** buffer-request-body="true": read the body into memory once, so retry can send it again. */
async function bufferBody(request: GatewayRequest): Promise<void> {
  const body: Body = request.body;
  if (body === null || typeof body === 'string' || body instanceof Uint8Array) return;
  const chunks: Uint8Array[] = [];
  try {
    for await (const chunk of body) chunks.push(chunk);
  } catch (err) {
    throw toFailure(err, null, 0);
  }
  request.body = Buffer.concat(chunks);
  // The length is known now; a stale chunked framing header must not survive.
  delete request.headers['transfer-encoding'];
}

/**
 * One 'close' listener per client socket, fanning out to its in-flight forwards. A listener per
 * forward would pile up on a pipelining client's socket (MaxListenersExceededWarning at 11).
 */
const closeWatchers = new WeakMap<Socket, Set<() => void>>();

function watchClose(socket: Socket, callback: () => void): void {
  let set = closeWatchers.get(socket);
  if (set === undefined) {
    const callbacks = new Set<() => void>();
    set = callbacks;
    closeWatchers.set(socket, callbacks);
    socket.once('close', () => {
      closeWatchers.delete(socket);
      for (const cb of callbacks) cb();
    });
  }
  set.add(callback);
}

function unwatchClose(socket: Socket, callback: () => void): void {
  closeWatchers.get(socket)?.delete(callback);
}

function clientAborted(): PolicyFailure {
  return new PolicyFailure(SOURCE, 'ClientConnectionFailure', 'Client connection was unexpectedly closed.', CLIENT_ABORTED_STATUS, 'GH_CLIENT_ABORTED');
}

/**
 * Maps an undici (or request body) error to the APIM failure. Messages name no host or URL: the
 * default error response may show them to the client.
 */
function toFailure(err: unknown, why: 'timeout' | 'client' | null, timeoutMs: number): PolicyFailure {
  let failure: PolicyFailure;
  const code = errorCode(err);
  if (why === 'timeout' || code === 'UND_ERR_HEADERS_TIMEOUT') {
    failure = new PolicyFailure(
      SOURCE,
      'Timeout',
      `Request to the backend timed out: no response headers within ${timeoutMs} ms.`,
      BACKEND_TIMEOUT_STATUS,
      'GH_BACKEND_TIMEOUT',
    );
  } else if (why === 'client') {
    failure = clientAborted();
  } else if (isRequestTooLarge(err)) {
    failure = new PolicyFailure(SOURCE, 'RequestEntityTooLarge', TOO_LARGE_MESSAGE, 413, 'GH_REQUEST_TOO_LARGE');
  } else {
    failure = new PolicyFailure(
      SOURCE,
      'BackendConnectionFailure',
      `Backend connection failure${code === '' ? '' : ` (${code})`}.`,
      BACKEND_CONNECTION_STATUS,
      'GH_BACKEND_CONNECTION',
    );
  }
  // Keep the transport error for logs and traces (Error.cause is not shown to clients).
  failure.cause = err;
  return failure;
}

function errorCode(err: unknown): string {
  if (typeof err !== 'object' || err === null) return '';
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && /^[A-Z0-9_]+$/.test(code)) return code;
  // Connect errors arrive wrapped in an AggregateError (IPv4 + IPv6 attempts) or with a cause.
  const cause = (err as { cause?: unknown }).cause;
  if (cause !== undefined && cause !== err) return errorCode(cause);
  const errors = (err as { errors?: unknown }).errors;
  if (Array.isArray(errors) && errors.length > 0) return errorCode(errors[0]);
  return '';
}
