import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Logger } from 'pino';
import type { GatewayRequest, GatewayResponse } from '../pipeline/context.ts';
import { internalError, requestTooLarge } from './errors.ts';
import { isRequestTooLarge, readGatewayRequest, type RequestReadOptions } from './request.ts';
import { WRITE_SENT, writeResponse } from './respond.ts';

/**
 * The data plane as the server sees it: request in, response out. A handler that can answer
 * synchronously returns the response itself (the server writes it at once); otherwise a promise.
 */
export type RequestHandler = (request: GatewayRequest, requestId: string) => GatewayResponse | Promise<GatewayResponse>;

export interface ServerOptions {
  readonly maxHeaderBytes: number;
  readonly read: RequestReadOptions;
  readonly logger: Logger;
  /** Whole-request timeout (node's requestTimeout), ms; bounds slow clients. */
  readonly requestTimeoutMs?: number;
  /**
   * How long a response may make no progress towards a client that stopped reading, ms. A client
   * that stops reading a streamed response stalls every write; without this it would hold the
   * backend connection forever (undici's body timeout does not fire while we apply backpressure).
   * Default 330 s: longer than APIM's 300 s backend timeout.
   */
  readonly idleTimeoutMs?: number;
}

/**
 * node:http adapter: socket → GatewayRequest → handler → response written with backpressure.
 * Nothing a client sends can crash the process: every failure becomes a logged 4xx/5xx.
 */
export function createGatewayServer(handler: RequestHandler, options: ServerOptions): Server {
  let sequence = 0;
  const prefix = `${process.pid.toString(36)}-${Date.now().toString(36)}`;
  const server = createServer(
    {
      maxHeaderSize: options.maxHeaderBytes,
      requestTimeout: options.requestTimeoutMs ?? 300_000,
      headersTimeout: 60_000,
      // Header values with CR/LF never reach us: node's parser refuses them (400) before this code runs.
    },
    (req, res) => {
      const requestId = `${prefix}-${(++sequence).toString(36)}`;
      serve(req, res, requestId, handler, options);
    },
  );
  watchStalledWrites(server, options.idleTimeoutMs ?? 330_000);
  server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
    // Malformed requests (bad headers, CR/LF injection, oversized headers): answer like node would, log, move on.
    if (!socket.writable) return socket.destroy();
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400;
    options.logger.debug({ code: 'GH_REQUEST_HEADER_INVALID', parserCode: err.code }, 'malformed request refused');
    socket.end(`HTTP/1.1 ${status} ${status === 431 ? 'Request Header Fields Too Large' : 'Bad Request'}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  });
  return server;
}

/**
 * Cuts connections whose response has made no progress for `idleMs`: bytes wait to be written and
 * none has left since the last look. One sweep over the open connections every `idleMs / 4` (at
 * most every 30 s) instead of node's per-socket timeout (server.timeout), which re-arms a timer
 * on every request and every write (~1–2 % of a small request's CPU). Idle keep-alive
 * connections, slow request headers and slow uploads have node's own limits (keepAliveTimeout,
 * headersTimeout, requestTimeout); this covers the one case they leave open.
 */
function watchStalledWrites(server: Server, idleMs: number): void {
  const sockets = new Map<Socket, { written: number; since: number }>();
  const untracked = { written: -1, since: 0 };
  server.on('connection', (socket: Socket) => {
    sockets.set(socket, untracked);
    socket.once('close', () => sockets.delete(socket));
  });
  const sweep = setInterval(
    () => {
      const now = Date.now();
      for (const [socket, last] of sockets) {
        if (socket.writableLength === 0) {
          if (last !== untracked) sockets.set(socket, untracked);
          continue;
        }
        // bytesWritten counts what was handed to the socket; it stands still while the client reads nothing.
        const written = socket.bytesWritten;
        if (last.written !== written) sockets.set(socket, { written, since: now });
        else if (now - last.since >= idleMs) socket.destroy();
      }
    },
    Math.max(10, Math.min(Math.floor(idleMs / 4), 30_000)),
  );
  sweep.unref();
  server.once('close', () => clearInterval(sweep));
}

/**
 * One request. Not an async function: a handler that answers synchronously (a preflight, a 404,
 * a mock) gets its response written in the same tick, with no promise and no microtask turn; only
 * a handler that returns a promise is waited for. Failures are handled the same either way.
 */
function serve(req: IncomingMessage, res: ServerResponse, requestId: string, handler: RequestHandler, options: ServerOptions): void {
  // The clock is read only when the request log line will be written.
  const started = options.logger.isLevelEnabled('debug') ? performance.now() : -1;
  const request = readGatewayRequest(req, options.read);
  if (request instanceof Error) return respond(req, res, requestId, requestTooLarge(), options, started);
  let result: GatewayResponse | Promise<GatewayResponse>;
  try {
    result = handler(request, requestId);
  } catch (err) {
    return respond(req, res, requestId, failureResponse(err, requestId, options), options, started);
  }
  if (!isPromise(result)) return respond(req, res, requestId, result, options, started);
  result.then(
    (response) => respond(req, res, requestId, response, options, started),
    (err: unknown) => respond(req, res, requestId, failureResponse(err, requestId, options), options, started),
  );
}

function isPromise(value: GatewayResponse | Promise<GatewayResponse>): value is Promise<GatewayResponse> {
  return typeof (value as Partial<Promise<GatewayResponse>>).then === 'function';
}

/** What a handler failure (thrown or rejected) becomes: 413 for an oversized body, else a logged 500. */
function failureResponse(err: unknown, requestId: string, options: ServerOptions): GatewayResponse {
  if (isRequestTooLarge(err)) return requestTooLarge();
  options.logger.error({ err, requestId }, 'GH_INTERNAL unexpected failure while handling a request');
  return internalError(requestId);
}

/** Writes `response`; `started` ≥ 0 (debug enabled) adds the request log line once the write ends. */
function respond(req: IncomingMessage, res: ServerResponse, requestId: string, response: GatewayResponse, options: ServerOptions, started: number): void {
  // A body read in part and then abandoned (413 while forwarding, a backend that failed or answered
  // mid-upload) leaves its rest on the socket: node neither drains it nor parses the next request,
  // so the keep-alive connection would hang. Close it after this response instead.
  if (!req.complete && req.readableDidRead) res.shouldKeepAlive = false;
  const tracked = started >= 0;
  const writing = writeResponse(res, response, {
    method: req.method ?? 'GET',
    onIssue: (issue) => options.logger.warn({ requestId, ...issue }, issue.message),
    // Only the debug line needs the outcome of an in-memory write; without it none is tracked.
    track: tracked,
  });
  // An untracked write has nothing left to fail: no promise to chain (hot path).
  if (writing === WRITE_SENT) return;
  const written = writing.catch((err: unknown) => {
    options.logger.error({ err, requestId }, 'GH_INTERNAL failed to write a response');
    res.destroy();
    return 'failed' as const;
  });
  if (tracked) {
    void written.then((result) => {
      options.logger.debug({ requestId, method: req.method, url: req.url, status: response.status, result, ms: Math.round((performance.now() - started) * 100) / 100 }, 'request');
    });
  }
}

/** Listens and resolves with the bound address (port 0 picks a free port). */
export function listen(server: Server, port: number, host: string): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve(server.address() as AddressInfo);
    });
  });
}

/** Stops accepting, ends idle keep-alive connections, resolves when every request has finished. */
export function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
  });
}
