/**
 * node:http IncomingMessage → GatewayRequest. One object per request with a fixed shape; the
 * body is the IncomingMessage stream itself (never buffered), wrapped in a byte counter only
 * when its size is not known up front.
 */
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { GatehouseError } from '../errors.ts';
import type { Body, GatewayRequest, HeaderMap } from '../pipeline/context.ts';

export interface RequestReadOptions {
  /** Largest request body accepted, in bytes (Infinity: no limit). Over it → GH_REQUEST_TOO_LARGE, 413. */
  readonly maxBodyBytes: number;
  /**
   * Decides the caller address from the socket peer (already normalised, see
   * {@link normalizeIpAddress}) and the headers; the trusted-proxy rule hooks in here.
   * Default: the socket peer, as APIM does.
   */
  readonly clientAddress?: ((peer: string, headers: HeaderMap) => string) | undefined;
}

/**
 * The GatewayRequest the HTTP server builds. Besides the GatewayRequest fields it keeps the node
 * request (for the forwarder's client-abort detection) and the socket address exactly as node
 * reported it (`::ffff:10.0.0.1` on a dual-stack listener), for ip-filter diagnostics.
 */
export class NodeGatewayRequest implements GatewayRequest {
  method: string;
  readonly path: string;
  readonly query: string;
  readonly headers: HeaderMap;
  body: Body;
  readonly protocol: 'http' | 'https';
  readonly host: string;
  /** The node request; policies never see it (they only know GatewayRequest). */
  readonly raw: IncomingMessage;
  /**
   * Socket peer address as node reported it, before normalisation ('' when unknown). Read now:
   * node caches it per connection, and it is gone once the socket closes.
   */
  readonly socketAddress: string;
  readonly #clientAddress: RequestReadOptions['clientAddress'];
  #ipAddress: string | undefined = undefined;

  constructor(raw: IncomingMessage, method: string, path: string, query: string, body: Body, protocol: 'http' | 'https', clientAddress: RequestReadOptions['clientAddress']) {
    this.method = method;
    this.path = path;
    this.query = query;
    this.headers = raw.headers as HeaderMap;
    this.body = body;
    this.protocol = protocol;
    const host = raw.headers.host;
    this.host = host ?? '';
    this.raw = raw;
    this.socketAddress = raw.socket.remoteAddress ?? '';
    this.#clientAddress = clientAddress;
  }

  /**
   * The caller's address, worked out when first asked for (ip-filter, X-Forwarded-For): most
   * requests (a preflight, a proxied call without ip-filter) never need it.
   */
  get ipAddress(): string {
    if (this.#ipAddress === undefined) {
      const peer = normalizeIpAddress(this.socketAddress);
      this.#ipAddress = this.#clientAddress === undefined ? peer : this.#clientAddress(peer, this.headers);
    }
    return this.#ipAddress;
  }

}

/**
 * The address of the connection's peer (normalised): the hop a proxy appends to X-Forwarded-For.
 * It differs from `ipAddress` when the trusted-proxy rule took the caller from X-Forwarded-For.
 */
export function peerAddressOf(request: GatewayRequest): string {
  return request instanceof NodeGatewayRequest ? normalizeIpAddress(request.socketAddress) : request.ipAddress;
}

/** The client socket behind a request built by {@link readGatewayRequest}, or null for other requests (tests). */
export function clientSocketOf(request: GatewayRequest): Socket | null {
  return request instanceof NodeGatewayRequest ? request.raw.socket : null;
}

/**
 * Strips the IPv4-mapped IPv6 prefix: `::ffff:192.0.2.1` → `192.0.2.1`, so ip-filter rules written
 * as IPv4 match on dual-stack listeners (APIM reports IPv4 callers as IPv4). Other addresses are
 * returned unchanged; the raw form stays on {@link NodeGatewayRequest.socketAddress}.
 */
export function normalizeIpAddress(address: string): string {
  if (address.length > 7 && (address.startsWith('::ffff:') || address.startsWith('::FFFF:')) && address.indexOf('.', 7) !== -1) {
    return address.slice(7);
  }
  return address;
}

/**
 * Builds the GatewayRequest, or returns a GatehouseError (GH_REQUEST_TOO_LARGE, statusCode 413)
 * when the declared Content-Length is already over the limit; the caller then answers with
 * `requestTooLarge()` from ./errors.ts without reading the body.
 *
 * Body rules: no Content-Length and no Transfer-Encoding (or Content-Length 0) → null, since
 * HTTP/1.1 then has no body whatever the method; a Content-Length within the limit → the
 * IncomingMessage itself (node's parser never delivers more than declared); otherwise (chunked)
 * → a counting wrapper whose iteration throws GH_REQUEST_TOO_LARGE when the limit is passed.
 */
export function readGatewayRequest(req: IncomingMessage, options: RequestReadOptions): NodeGatewayRequest | GatehouseError {
  const target = req.url ?? '/';
  let path: string;
  let query: string;
  if (target.charCodeAt(0) === 0x2f /* / */) {
    // Origin-form: split by hand; no URL object per request.
    const q = target.indexOf('?');
    path = q === -1 ? target : target.slice(0, q);
    query = q === -1 ? '' : target.slice(q + 1);
  } else {
    ({ path, query } = splitNonOriginTarget(target));
  }
  const hash = path.indexOf('#');
  if (hash !== -1) path = path.slice(0, hash);
  const qhash = query.indexOf('#');
  if (qhash !== -1) query = query.slice(0, qhash);

  const headers = req.headers;
  let body: Body = null;
  const lengthHeader = headers['content-length'];
  if (lengthHeader !== undefined) {
    // node's parser has already refused a malformed or conflicting Content-Length.
    const length = Number(lengthHeader);
    if (length > options.maxBodyBytes) {
      return new GatehouseError('GH_REQUEST_TOO_LARGE', `The request body of ${length} bytes exceeds the limit of ${options.maxBodyBytes} bytes.`, { statusCode: 413 });
    }
    if (length > 0) body = req;
  } else if (headers['transfer-encoding'] !== undefined) {
    body = options.maxBodyBytes === Infinity ? req : limitBody(req, options.maxBodyBytes);
  }

  const protocol = (req.socket as { encrypted?: boolean }).encrypted === true ? 'https' : 'http';
  return new NodeGatewayRequest(req, req.method ?? 'GET', path, query, body, protocol, options.clientAddress);
}

/** Absolute-form (`http://host/p?q`, sent to proxies) and asterisk-form (`*`) request targets. */
function splitNonOriginTarget(target: string): { path: string; query: string } {
  if (target === '*') return { path: '*', query: '' };
  const scheme = target.indexOf('://');
  if (scheme === -1) return { path: target, query: '' };
  const slash = target.indexOf('/', scheme + 3);
  const q = target.indexOf('?', scheme + 3);
  if (slash === -1 || (q !== -1 && q < slash)) return { path: '/', query: q === -1 ? '' : target.slice(q + 1) };
  return q === -1 ? { path: target.slice(slash), query: '' } : { path: target.slice(slash, q), query: target.slice(q + 1) };
}

/**
 * Streams `req` while counting bytes; throws GH_REQUEST_TOO_LARGE once more than `max` arrive.
 * The iterator does not destroy the request on early exit, so the socket stays open long enough
 * to answer 413 (the response carries Connection: close).
 */
async function* limitBody(req: IncomingMessage, max: number): AsyncGenerator<Uint8Array> {
  let total = 0;
  for await (const chunk of req.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
    total += chunk.length;
    if (total > max) {
      throw new GatehouseError('GH_REQUEST_TOO_LARGE', `The request body exceeds the limit of ${max} bytes.`, { statusCode: 413 });
    }
    yield chunk;
  }
}

/** True when `err` is the body-limit error from {@link readGatewayRequest}'s stream. */
export function isRequestTooLarge(err: unknown): err is GatehouseError {
  return err instanceof GatehouseError && err.code === 'GH_REQUEST_TOO_LARGE';
}
