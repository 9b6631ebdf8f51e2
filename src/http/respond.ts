/**
 * GatewayResponse → node:http ServerResponse. Never throws and never leaves a rejected promise
 * behind: bad header values are dropped and reported, body streams are piped with backpressure,
 * and a client that goes away mid-response ends the write quietly (reported as 'aborted').
 */
import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { GatewayResponse } from '../pipeline/context.ts';
import { hasForbiddenHeaderChars } from '../pipeline/headers.ts';
import { isHopByHop, isValidHeaderName, isWritableHeaderValue } from './headers.ts';
import { discardBody } from '../pipeline/body.ts';
import { BackendBody } from '../backend/body.ts';

export { discardBody };

/** Why a header or the status line was changed on the way out. */
export interface ResponseIssue {
  readonly code: 'GH_RESPONSE_HEADER_INVALID' | 'GH_RESPONSE_BODY_FAILED';
  readonly message: string;
  /** The header concerned, when there is one (its value is never included: it may be hostile). */
  readonly header?: string;
}

export interface WriteOptions {
  /** The request method: HEAD responses get headers only. */
  readonly method: string;
  /** Told about every header dropped and every body stream failure; for logs. */
  readonly onIssue?: ((issue: ResponseIssue) => void) | undefined;
  /**
   * false: nobody waits for the outcome of an in-memory body, so it is handed to node with no
   * listener and no promise (most gateway answers: preflights, errors, small backend bodies) and
   * the result is {@link WRITE_SENT}. Streams are always tracked. Default true.
   */
  readonly track?: boolean | undefined;
}

/**
 * How the write ended. 'aborted': the client went away; 'failed': the body stream errored;
 * 'sent': an in-memory body handed to node untracked (`track: false`), outcome unknown.
 */
export type WriteResult = 'complete' | 'aborted' | 'failed' | 'sent';

/** What writeResponse returns for an untracked in-memory write: one shared, settled promise. */
export const WRITE_SENT: Promise<WriteResult> = Promise.resolve('sent');

/**
 * Writes `response` to `res`. Headers with CR, LF, NUL or other characters node cannot write are
 * dropped (and reported); so are invalid names and hop-by-hop headers, except `Connection: close`.
 * Content-Length is set from in-memory bodies, removed for 204/304 and bodiless statuses, and kept
 * for streams (the backend's). HEAD, 1xx, 204 and 304 send no body; a stream body that is not
 * sent is discarded so its backend connection is released.
 */
export function writeResponse(res: ServerResponse, response: GatewayResponse, options: WriteOptions): Promise<WriteResult> {
  // Not an async function: the in-memory case returns end()'s promise as it is, without the
  // extra promise and microtask turns an async wrapper adds; a bug that throws still rejects.
  try {
    return writeNow(res, response, options);
  } catch (err) {
    return Promise.reject(err);
  }
}

function writeNow(res: ServerResponse, response: GatewayResponse, options: WriteOptions): Promise<WriteResult> {
  const report = options.onIssue;
  let status = response.status;
  if (!Number.isInteger(status) || status < 200 || status > 999) {
    report?.({ code: 'GH_RESPONSE_HEADER_INVALID', message: `status ${String(status)} cannot be sent; 500 sent instead` });
    status = 500;
  }
  res.statusCode = status;
  const text = response.statusText;
  if (text !== undefined && text !== '') {
    if (isWritableHeaderValue(text)) res.statusMessage = text;
    else report?.({ code: 'GH_RESPONSE_HEADER_INVALID', message: 'the status text has characters that cannot be sent; the default reason phrase was used' });
  }

  const body = response.body;
  const noBody = options.method === 'HEAD' || status === 204 || status === 304;
  // Content-Length the gateway computes (in-memory bodies, an empty 200) replaces any in the map;
  // a stream keeps the backend's, HEAD/304 keep the map's, 204 sends none.
  let contentLength: string | undefined;
  if (!noBody) {
    if (body === null) contentLength = '0';
    else if (typeof body === 'string') contentLength = String(Buffer.byteLength(body));
    else if (body instanceof Uint8Array) contentLength = String(body.byteLength);
  }
  const dropLength = contentLength !== undefined || status === 204;

  // Hot path: one flat [name, value, …] list handed to writeHead, instead of a setHeader call
  // (and node's per-header bookkeeping object) per header. node validates every name and value
  // as it writes them and throws on the first bad one before anything is sent: only then is the
  // list built again with each header checked, the bad ones dropped and reported.
  try {
    res.writeHead(status, headerList(response.headers, dropLength, contentLength, null));
  } catch (err) {
    if (!isHeaderValidationError(err)) throw err;
    res.writeHead(status, headerList(response.headers, dropLength, contentLength, report ?? noop));
  }

  if (noBody || body === null) {
    if (body !== null) discardBody(body);
    return end(res, undefined, options.track !== false);
  }
  if (typeof body === 'string' || body instanceof Uint8Array) return end(res, body, options.track !== false);

  if (res.destroyed) {
    discardBody(body);
    return Promise.resolve('aborted');
  }
  if (body instanceof BackendBody) {
    // A small backend body has usually arrived whole by now: written with the headers in one call.
    const whole = body.takeComplete();
    return whole !== null ? end(res, whole, options.track !== false) : streamBackendBody(body, res, report);
  }
  // A source already ended or destroyed takes the generic path, which reports it as pipeline does.
  if (isNodeReadable(body) && !body.destroyed && !body.readableEnded) return pipeReadable(body, res, report);
  return pipeIterable(body, res, report);
}

/** Bytes of a backend body that may wait in the client socket's buffer before the backend is paused (undici's Readable held as much). */
const BACKEND_BUFFER_BYTES = 64 * 1024;

/**
 * Hot path for backend bodies: each chunk is written as undici hands it over; a full socket
 * buffer pauses the backend until 'drain'. The client going away releases the backend request;
 * a backend failure after the headers breaks the client connection (the status line is out).
 */
function streamBackendBody(body: BackendBody, res: ServerResponse, report: WriteOptions['onIssue']): Promise<WriteResult> {
  return new Promise((resolve) => {
    let failed = false;
    const onDrain = (): void => body.resume();
    res.on('drain', onDrain);
    // 'close' always comes, after 'finish' when the response completed.
    res.on('close', () => {
      res.off('drain', onDrain);
      if (failed) return resolve('failed');
      if (res.writableFinished) return resolve('complete');
      body.destroy();
      resolve('aborted');
    });
    res.on('error', noop);
    body.stream({
      // Pausing the backend at node's first `false` (16 KiB buffered) would stop and restart it for
      // nearly every chunk of a large body; up to BACKEND_BUFFER_BYTES may wait in the socket buffer.
      data: (chunk) => res.write(chunk) || res.writableLength < BACKEND_BUFFER_BYTES,
      end: () => res.end(),
      error: (err) => {
        failed = true;
        report?.({ code: 'GH_RESPONSE_BODY_FAILED', message: `the response body stream failed after the headers were sent: ${errorCode(err)}` });
        res.destroy();
      },
    });
  });
}

/**
 * The [name, value, …] list for writeHead: hop-by-hop headers dropped (except `Connection: close`),
 * Content-Length replaced when the gateway computed one. With `report`, every name and value is
 * checked first and the ones node would refuse are dropped and reported; without, node checks.
 */
function headerList(headers: GatewayResponse['headers'], dropLength: boolean, contentLength: string | undefined, report: ((issue: ResponseIssue) => void) | null): string[] {
  const out: string[] = [];
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined) continue;
    if (isHopByHop(name)) {
      // The one hop-by-hop instruction a gateway response may carry: close after this response.
      if (name === 'connection' && typeof value === 'string' && value.trim().toLowerCase() === 'close') out.push('connection', 'close');
      continue;
    }
    if (dropLength && name === 'content-length') continue;
    if (report !== null) {
      if (!isValidHeaderName(name)) {
        report({ code: 'GH_RESPONSE_HEADER_INVALID', message: 'a header name is not a valid token; the header was dropped', header: safeName(name) });
        continue;
      }
      if (typeof value === 'string' ? !isWritableHeaderValue(value) : !value.every(isWritableHeaderValue)) {
        const why = (typeof value === 'string' ? hasForbiddenHeaderChars(value) : value.some(hasForbiddenHeaderChars)) ? 'CR, LF or NUL' : 'a control character';
        report({ code: 'GH_RESPONSE_HEADER_INVALID', message: `the value of ${name} contains ${why}; the header was dropped`, header: name });
        continue;
      }
    }
    if (typeof value === 'string') out.push(name, value);
    else for (let i = 0; i < value.length; i++) out.push(name, value[i] as string);
  }
  if (contentLength !== undefined) out.push('content-length', contentLength);
  return out;
}

/** What node's writeHead throws for a header it will not write (before writing anything). */
function isHeaderValidationError(err: unknown): boolean {
  const code = errorCode(err);
  return code === 'ERR_INVALID_CHAR' || code === 'ERR_INVALID_HTTP_TOKEN' || code === 'ERR_HTTP_INVALID_HEADER_VALUE';
}

/** Any other async iterable, through stream.pipeline. */
async function pipeIterable(body: AsyncIterable<Uint8Array>, res: ServerResponse, report: WriteOptions['onIssue']): Promise<WriteResult> {
  // Remember a failure of the source itself, so a backend reset is not mistaken for a client abort.
  let sourceError: unknown;
  const emitter = body as { once?: (event: string, fn: (err: unknown) => void) => unknown };
  if (typeof emitter.once === 'function') emitter.once('error', (err) => (sourceError = err));
  try {
    // pipeline applies backpressure, destroys the source when `res` closes early, and rejects
    // instead of emitting unhandled 'error' events.
    await pipeline(body, res);
    return 'complete';
  } catch (err) {
    const code = errorCode(err);
    if (sourceError === undefined && (code === 'ERR_STREAM_PREMATURE_CLOSE' || code === 'EPIPE' || code === 'ECONNRESET')) return 'aborted';
    report?.({ code: 'GH_RESPONSE_BODY_FAILED', message: `the response body stream failed after the headers were sent: ${errorCode(sourceError ?? err)}` });
    // The status line is out; the only honest signal left is a broken connection.
    res.destroy();
    return 'failed';
  }
}

/**
 * A node Readable (what a custom BackendForwarder or a test may put on the response): piped by
 * hand, see {@link pipeReadable}. stream.pipeline would do, but it destroys such a source with an
 * error when the client leaves, which would be reported as a body failure instead of an abort.
 */
function isNodeReadable(body: object): body is Readable {
  const b = body as Partial<Readable>;
  return typeof b.pipe === 'function' && typeof b.unpipe === 'function' && typeof b.destroy === 'function' && typeof b.on === 'function';
}

/**
 * Node Readable bodies: `readable.pipe(res)` with the same outcomes as stream.pipeline —
 * backpressure, the source destroyed when the client goes away ('aborted'), a source failure
 * reported and the connection broken ('failed'), a source that closes before its end breaking the
 * connection too ('aborted', as pipeline's premature close) — without pipeline's per-call
 * AbortController, whose abort() builds a DOMException with a stack trace on every response
 * (≈ 8 % of the CPU of a proxied GET in the profile, docs/performance.md).
 */
function pipeReadable(body: Readable, res: ServerResponse, report: WriteOptions['onIssue']): Promise<WriteResult> {
  return new Promise((resolve) => {
    let settled = false;
    const settle = (result: WriteResult): void => {
      if (settled) return;
      settled = true;
      body.off('error', onSourceError);
      body.off('close', onSourceClose);
      res.off('finish', onFinish);
      res.off('close', onClose);
      resolve(result);
    };
    const onSourceError = (err: unknown): void => {
      if (settled) return;
      report?.({ code: 'GH_RESPONSE_BODY_FAILED', message: `the response body stream failed after the headers were sent: ${errorCode(err)}` });
      body.unpipe(res);
      // The status line is out; the only honest signal left is a broken connection.
      res.destroy();
      settle('failed');
    };
    const onSourceClose = (): void => {
      // Closed without 'end' and without an error: nothing more will come; the response cannot complete.
      if (settled || body.readableEnded) return;
      body.unpipe(res);
      res.destroy();
      settle('aborted');
    };
    const onFinish = (): void => settle('complete');
    const onClose = (): void => {
      if (settled) return;
      // The client went away before the end: stop the source so the backend connection is released.
      body.unpipe(res);
      body.destroy();
      settle(res.writableFinished ? 'complete' : 'aborted');
    };
    // Errors after settling (a destroyed source, a reset socket) must not become unhandled events.
    body.on('error', noop);
    res.on('error', noop);
    body.on('error', onSourceError);
    body.on('close', onSourceClose);
    res.on('finish', onFinish);
    res.on('close', onClose);
    body.pipe(res);
  });
}

function end(res: ServerResponse, chunk: string | Uint8Array | undefined, track: boolean): Promise<WriteResult> {
  if (res.destroyed) return Promise.resolve('aborted');
  if (!track) {
    // A ServerResponse emits no 'error' for one end() on a live response; nothing to listen for.
    res.end(chunk);
    return WRITE_SENT;
  }
  return new Promise((resolve) => {
    // A ServerResponse always emits 'close', right after 'finish' when it completed or when its
    // connection ended first; one listener tells both apart.
    res.on('close', () => resolve(res.writableFinished ? 'complete' : 'aborted'));
    // Errors on `res` surface as 'close' without 'finish'; swallow the event so it is not unhandled.
    res.on('error', noop);
    if (chunk === undefined) res.end();
    else res.end(chunk);
  });
}

function noop(): void {}

function errorCode(err: unknown): string {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string') return err.code;
  return err instanceof Error ? err.name : 'unknown error';
}

// Names are reported for logs; keep them printable and short.
function safeName(name: string): string {
  return name.replace(/[^\x21-\x7e]/g, '?').slice(0, 64);
}
