/**
 * `<jsonp callback-parameter-name="cb"/>`: wraps a JSON response as `callback(<json>);` when the
 * request's query names a callback (apim-semantics.md §2). Outbound only, once per section.
 *
 * @example
 * ```xml
 * <outbound>
 *   <base />
 *   <jsonp callback-parameter-name="cb" />
 * </outbound>
 * ```
 * `GET /api/items?cb=render` answers `render({"items":[]});` as `text/javascript`. The callback is
 * checked against a JavaScript member-path grammar and never reaches the body otherwise; a bad one
 * fails with APIM's CallbackParameterInvalid (400) through on-error. Every decision APIM leaves
 * open is in docs/jsonp.md.
 */
import { promisify } from 'node:util';
import { brotliDecompress, gunzip, inflate, inflateRaw, type InputType, type ZlibOptions } from 'node:zlib';
import { definePolicy } from '../../policy/define-policy.ts';
import { getAttribute } from '../../policy/element.ts';
import { PolicyFailure, type Body, type GatewayResponse, type HeaderMap } from '../../pipeline/context.ts';
import type { PolicyHandler } from '../../pipeline/handler.ts';

export interface JsonpConfig {
  /** The query parameter that carries the callback name (`cb` in `?cb=render`). */
  readonly parameterName: string;
}

/** Largest response body (as received, and again after decompression) that is buffered and wrapped. */
export const JSONP_MAX_BODY_BYTES = 4 * 1024 * 1024;
/** Longest callback accepted; generated names (jQuery, Angular) stay far below it. */
export const JSONP_MAX_CALLBACK_LENGTH = 128;
/** Content-Type of a wrapped response (RFC 9239 and the HTML standard name text/javascript). */
export const JSONP_CONTENT_TYPE = 'text/javascript; charset=utf-8';
/** Status of CallbackParameterInvalid when on-error does not answer: the request is at fault. */
export const JSONP_INVALID_CALLBACK_STATUS = 400;

/**
 * One or more identifiers joined by dots, ASCII only: `cb`, `jQuery3600_17`, `angular.callbacks._0`.
 * Nothing else can follow, so the answer is always exactly one call expression.
 */
const CALLBACK_RE = /^[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*$/;

/**
 * Reserved words cannot start the callback: `delete(…)`, `typeof(…)`, `void(…)` and `import(…)`
 * parse as something other than a call, and `new`, `super`, `this` … make no sense. After a dot
 * they are ordinary property names (`a.delete` is fine).
 */
const RESERVED = new Set([
  'await', 'break', 'case', 'catch', 'class', 'const', 'continue', 'debugger', 'default', 'delete', 'do', 'else',
  'enum', 'export', 'extends', 'false', 'finally', 'for', 'function', 'if', 'implements', 'import', 'in',
  'instanceof', 'interface', 'let', 'new', 'null', 'package', 'private', 'protected', 'public', 'return', 'static',
  'super', 'switch', 'this', 'throw', 'true', 'try', 'typeof', 'var', 'void', 'while', 'with', 'yield',
]);

/** True when `callback` may be written into a response. Exported for tests and docs. */
export function isValidCallback(callback: string): boolean {
  // Length first: bounds the regex's work on hostile input.
  if (callback.length === 0 || callback.length > JSONP_MAX_CALLBACK_LENGTH || !CALLBACK_RE.test(callback)) return false;
  const dot = callback.indexOf('.');
  return !RESERVED.has(dot === -1 ? callback : callback.slice(0, dot));
}

/** Query parameter names that could never be matched: separators, whitespace, control characters. */
function isInvalidParameterName(name: string): boolean {
  if (name === '' || /[&=#?%+\s]/.test(name)) return true;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

export const jsonpPolicy = definePolicy<JsonpConfig>({
  name: 'jsonp',
  sections: ['outbound'],
  scopes: ['global', 'workspace', 'product', 'api', 'operation'],
  oncePerSection: true,
  parse(element, ctx) {
    ctx.checkAttributes(element, ['callback-parameter-name']);
    for (const child of element.children) ctx.report('GH_POLICY_CHILD_INVALID', child, `<jsonp> takes no child elements, found <${child.name}>`);
    if (element.text.trim() !== '') ctx.report('GH_POLICY_TEXT_UNEXPECTED', element.textLocation ?? element, '<jsonp> takes no text; the text is ignored', 'warning');
    const name = ctx.literalAttribute(element, 'callback-parameter-name', { required: true });
    if (name === undefined) return undefined;
    if (isInvalidParameterName(name)) {
      const at = getAttribute(element, 'callback-parameter-name')?.valueLocation ?? element.location;
      ctx.report(
        'GH_POLICY_ATTR_INVALID',
        at,
        name === ''
          ? '<jsonp callback-parameter-name=""> is empty; name the query parameter that carries the callback, e.g. "callback"'
          : `<jsonp callback-parameter-name="${name.slice(0, 40)}">: a query parameter name cannot contain whitespace, control characters, %, +, &, =, # or ?`,
      );
      return undefined;
    }
    if (element.children.length > 0) return undefined;
    return { parameterName: name };
  },
  compile(config, _env, statement): PolicyHandler {
    const name = config.parameterName;
    const invalidMessage = `Value of callback parameter ${name} is not a valid JavaScript identifier.`;
    return {
      name: 'jsonp',
      location: statement.element.location,
      scope: statement.scope,
      policyId: getAttribute(statement.element, 'id')?.value,
      run(ctx) {
        // Hot path for the common case (no callback in the query): one or two indexOf calls on
        // the raw query, no allocation, no promise.
        const callback = readQueryParameter(ctx.request.query, name);
        if (callback === undefined) return;
        if (callback === INVALID || !isValidCallback(callback)) {
          // The message names the parameter (configuration), never the value (caller input).
          throw new PolicyFailure('jsonp', 'CallbackParameterInvalid', invalidMessage, JSONP_INVALID_CALLBACK_STATUS);
        }
        const response = ctx.response;
        if (response === null || !isWrappable(response, ctx.request.method)) return;
        return wrapResponse(response, callback);
      },
    };
  },
});

// ── Reading the callback from the query ─────────────────────────────────────────────────────

/** The parameter appears more than once, or its value is not valid percent-encoding. */
const INVALID: unique symbol = Symbol('invalid');

/**
 * The value of parameter `name` in a raw query string (no `?`), decoded as
 * application/x-www-form-urlencoded (WHATWG URL): keys and values are percent-decoded and `+` is a
 * space; names compare case-sensitively. undefined when absent or empty; INVALID when it appears
 * twice (parameter pollution: `?cb=a&cb=b`) or cannot be decoded. Exported for tests.
 */
export function readQueryParameter(query: string, name: string): string | undefined | typeof INVALID {
  if (query.length === 0) return undefined;
  // The name can only be present literally or percent-encoded; most queries leave here.
  if (query.indexOf(name) === -1 && query.indexOf('%') === -1) return undefined;
  let value: string | undefined;
  let seen = false;
  let start = 0;
  while (start <= query.length) {
    let end = query.indexOf('&', start);
    if (end === -1) end = query.length;
    if (end > start) {
      let eq = query.indexOf('=', start);
      if (eq === -1 || eq > end) eq = end;
      if (keyMatches(query, start, eq, name)) {
        if (seen) return INVALID;
        seen = true;
        const decoded = eq === end ? '' : formDecode(query.slice(eq + 1, end));
        if (decoded === undefined) return INVALID;
        value = decoded;
      }
    }
    start = end + 1;
  }
  return value === '' ? undefined : value;
}

function keyMatches(query: string, start: number, end: number, name: string): boolean {
  if (end - start === name.length && query.startsWith(name, start)) return true;
  // Only an encoded key can still match (the name itself holds no % or +); others are not sliced.
  const percent = query.indexOf('%', start);
  return percent !== -1 && percent < end && formDecode(query.slice(start, end)) === name;
}

function formDecode(text: string): string | undefined {
  try {
    return decodeURIComponent(text.includes('+') ? text.replace(/\+/g, ' ') : text);
  } catch {
    return undefined;
  }
}

// ── Which responses are wrapped ─────────────────────────────────────────────────────────────

/**
 * 2xx with content (not 204/205, not a 206 fragment), not a HEAD answer, a JSON media type, and
 * a content coding gatehouse can undo. Everything else passes through untouched.
 */
function isWrappable(response: GatewayResponse, method: string): boolean {
  const status = response.status;
  if (status < 200 || status > 299 || status === 204 || status === 205 || status === 206) return false;
  if (method === 'HEAD' || response.body === null) return false;
  if (!isJsonMediaType(lastValue(response.headers['content-type']))) return false;
  return contentCodings(response.headers) !== undefined;
}

/** WHATWG MIME Sniffing "JSON MIME type": application/json, text/json, or a +json subtype. */
export function isJsonMediaType(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const semi = contentType.indexOf(';');
  const essence = (semi === -1 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
  return essence === 'application/json' || essence === 'text/json' || (essence.endsWith('+json') && /^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+$/.test(essence));
}

function lastValue(value: HeaderMap[string]): string | undefined {
  return value === undefined ? undefined : typeof value === 'string' ? value : value[value.length - 1];
}

type Coding = 'gzip' | 'deflate' | 'br';

/** The codings applied, in order; [] for none/identity; undefined when one is unknown (zstd …). */
function contentCodings(headers: HeaderMap): Coding[] | undefined {
  const raw = headers['content-encoding'];
  if (raw === undefined) return [];
  const out: Coding[] = [];
  for (const token of (typeof raw === 'string' ? raw : raw.join(',')).split(',')) {
    const coding = token.trim().toLowerCase();
    if (coding === '' || coding === 'identity') continue;
    if (coding === 'gzip' || coding === 'x-gzip') out.push('gzip');
    else if (coding === 'deflate') out.push('deflate');
    else if (coding === 'br') out.push('br');
    else return undefined;
  }
  return out;
}

// ── Wrapping ───────────────────────────────────────────────────────────────────────────────

const gunzipAsync = promisify<InputType, ZlibOptions, Buffer>(gunzip);
const inflateAsync = promisify<InputType, ZlibOptions, Buffer>(inflate);
const inflateRawAsync = promisify<InputType, ZlibOptions, Buffer>(inflateRaw);
const brotliAsync = promisify<InputType, ZlibOptions, Buffer>(brotliDecompress as (b: InputType, o: ZlibOptions, cb: (e: Error | null, r: Buffer) => void) => void);
const DECODE_OPTIONS: ZlibOptions = { maxOutputLength: JSONP_MAX_BODY_BYTES };
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Headers that describe the backend's exact bytes and would lie about the wrapped body. */
const STALE_HEADERS = ['content-encoding', 'transfer-encoding', 'content-md5', 'digest', 'content-digest', 'repr-digest'] as const;

/**
 * Buffers the body (bounded), undoes the content coding, checks that it really is JSON and
 * replaces it with `callback(<json>);`. Any step that fails leaves the response as the backend
 * sent it (a stream that ran over the limit is replayed, never cut).
 */
async function wrapResponse(response: GatewayResponse, callback: string): Promise<void> {
  const codings = contentCodings(response.headers) ?? [];
  const buffered = await bufferBody(response.body, JSONP_MAX_BODY_BYTES);
  if (!buffered.complete) {
    response.body = buffered.replay;
    return;
  }
  const original = buffered.bytes;
  // Put the bytes back first: every early return below leaves the backend's body in place.
  response.body = original;
  const decoded = await decode(original, codings);
  if (decoded === undefined) return;
  let json = decoded;
  if (json.length >= 3 && json[0] === 0xef && json[1] === 0xbb && json[2] === 0xbf) json = json.subarray(3);
  let text: string;
  try {
    text = UTF8.decode(json);
    // A body that is not JSON (even if labelled so) is never turned into script: it could hold
    // anything, e.g. text a backend reflected from its own input.
    JSON.parse(text);
  } catch {
    return;
  }
  // A string, not bytes: node writes a string body together with the status line and headers in
  // one write (bytes take a writev). `text` is the exact decoding of `json` (fatal UTF-8, BOM
  // stripped) and the callback is ASCII, so the length is known without encoding again.
  const body = `${callback}(${text});`;
  const length = callback.length + 1 + json.length + 2;
  const headers = response.headers;
  for (const name of STALE_HEADERS) delete headers[name];
  headers['content-type'] = JSONP_CONTENT_TYPE;
  headers['x-content-type-options'] = 'nosniff';
  headers['content-length'] = String(length);
  const etag = lastValue(headers['etag']);
  if (etag !== undefined && !etag.startsWith('W/')) headers['etag'] = `W/${etag}`;
  response.body = body;
}

type Buffered = { readonly complete: true; readonly bytes: Buffer } | { readonly complete: false; readonly replay: AsyncIterable<Uint8Array> };

/** Reads a body into memory up to `limit` bytes; past it, returns a stream that replays what was read. */
async function bufferBody(body: Body, limit: number): Promise<Buffered> {
  if (body === null) return { complete: true, bytes: Buffer.alloc(0) };
  if (typeof body === 'string') {
    const bytes = Buffer.from(body, 'utf8');
    return bytes.length > limit ? { complete: false, replay: once(bytes) } : { complete: true, bytes };
  }
  if (body instanceof Uint8Array) {
    return body.length > limit ? { complete: false, replay: once(body) } : { complete: true, bytes: Buffer.from(body.buffer, body.byteOffset, body.byteLength) };
  }
  const iterator = body[Symbol.asyncIterator]();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const next = await iterator.next();
    if (next.done === true) break;
    chunks.push(next.value);
    size += next.value.length;
    if (size > limit) return { complete: false, replay: new Replay(chunks, iterator) };
  }
  return { complete: true, bytes: Buffer.concat(chunks, size) };
}

async function* once(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  yield bytes;
}

/**
 * What was read, then the rest of the source. A body can be discarded before anyone iterates it
 * (a later outbound step fails); `destroy()` then releases the source, which `return()` on a
 * generator that never started would not do (its `finally` never runs).
 */
class Replay implements AsyncIterable<Uint8Array> {
  readonly #chunks: readonly Uint8Array[];
  readonly #rest: AsyncIterator<Uint8Array>;
  constructor(chunks: readonly Uint8Array[], rest: AsyncIterator<Uint8Array>) {
    this.#chunks = chunks;
    this.#rest = rest;
  }
  [Symbol.asyncIterator](): AsyncIterator<Uint8Array> {
    return replay(this.#chunks, this.#rest);
  }
  destroy(): void {
    this.#rest.return?.()?.catch(() => {});
  }
}

async function* replay(chunks: readonly Uint8Array[], rest: AsyncIterator<Uint8Array>): AsyncGenerator<Uint8Array> {
  let finished = false;
  try {
    for (const chunk of chunks) yield chunk;
    for (;;) {
      const next = await rest.next();
      if (next.done === true) {
        finished = true;
        return;
      }
      yield next.value;
    }
  } finally {
    // The consumer stopped early (client went away): let the source release its connection.
    if (!finished) await rest.return?.();
  }
}

/** Undoes the codings (last applied first), each bounded by JSONP_MAX_BODY_BYTES; undefined on any failure. */
async function decode(bytes: Buffer, codings: readonly Coding[]): Promise<Buffer | undefined> {
  let out = bytes;
  try {
    for (let i = codings.length - 1; i >= 0; i--) {
      const coding = codings[i];
      if (coding === 'gzip') out = await gunzipAsync(out, DECODE_OPTIONS);
      else if (coding === 'br') out = await brotliAsync(out, DECODE_OPTIONS);
      // "deflate" means zlib-wrapped (RFC 9110 §8.4.1.2); some servers send raw deflate, which
      // browsers accept too.
      else out = await inflateAsync(out, DECODE_OPTIONS).catch(() => inflateRawAsync(out, DECODE_OPTIONS));
    }
  } catch {
    return undefined;
  }
  return out;
}
