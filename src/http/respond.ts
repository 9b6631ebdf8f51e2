/**
 * GatewayResponse → node:http ServerResponse. Never throws and never leaves a rejected promise
 * behind: bad header values are dropped and reported, body streams are piped with backpressure,
 * and a client that goes away mid-response ends the write quietly (reported as 'aborted').
 */
import type { ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import type { GatewayResponse } from '../pipeline/context.ts';
import { hasForbiddenHeaderChars } from '../pipeline/headers.ts';
import { isHopByHop, isValidHeaderName, isWritableHeaderValue } from './headers.ts';
import { discardBody } from '../pipeline/body.ts';

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
}

/** How the write ended. 'aborted': the client went away; 'failed': the body stream errored. */
export type WriteResult = 'complete' | 'aborted' | 'failed';

/**
 * Writes `response` to `res`. Headers with CR, LF, NUL or other characters node cannot write are
 * dropped (and reported); so are invalid names and hop-by-hop headers, except `Connection: close`.
 * Content-Length is set from in-memory bodies, removed for 204/304 and bodiless statuses, and kept
 * for streams (the backend's). HEAD, 1xx, 204 and 304 send no body; a stream body that is not
 * sent is discarded so its backend connection is released.
 */
export async function writeResponse(res: ServerResponse, response: GatewayResponse, options: WriteOptions): Promise<WriteResult> {
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

  const headers = response.headers;
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined) continue;
    if (isHopByHop(name)) {
      // The one hop-by-hop instruction a gateway response may carry: close after this response.
      if (name === 'connection' && typeof value === 'string' && value.trim().toLowerCase() === 'close') res.setHeader('connection', 'close');
      continue;
    }
    if (!isValidHeaderName(name)) {
      report?.({ code: 'GH_RESPONSE_HEADER_INVALID', message: 'a header name is not a valid token; the header was dropped', header: safeName(name) });
      continue;
    }
    if (typeof value === 'string' ? !isWritableHeaderValue(value) : !value.every(isWritableHeaderValue)) {
      const why = (typeof value === 'string' ? hasForbiddenHeaderChars(value) : value.some(hasForbiddenHeaderChars)) ? 'CR, LF or NUL' : 'a control character';
      report?.({ code: 'GH_RESPONSE_HEADER_INVALID', message: `the value of ${name} contains ${why}; the header was dropped`, header: name });
      continue;
    }
    res.setHeader(name, value);
  }

  const body = response.body;
  const noBody = options.method === 'HEAD' || status === 204 || status === 304;
  if (status === 204) res.removeHeader('content-length');

  if (noBody || body === null) {
    if (!noBody && body === null) res.setHeader('content-length', '0');
    if (body !== null) discardBody(body);
    return end(res, undefined);
  }
  if (typeof body === 'string') {
    res.setHeader('content-length', Buffer.byteLength(body));
    return end(res, body);
  }
  if (body instanceof Uint8Array) {
    res.setHeader('content-length', body.byteLength);
    return end(res, body);
  }

  if (res.destroyed) {
    discardBody(body);
    return 'aborted';
  }
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

function end(res: ServerResponse, chunk: string | Uint8Array | undefined): Promise<WriteResult> {
  if (res.destroyed) return Promise.resolve('aborted');
  return new Promise((resolve) => {
    const done = (): void => {
      res.off('close', done);
      res.off('finish', done);
      resolve(res.writableFinished ? 'complete' : 'aborted');
    };
    res.once('finish', done);
    res.once('close', done);
    // Errors on `res` surface as 'close' without 'finish'; swallow the event so it is not unhandled.
    res.once('error', noop);
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
