/**
 * The cors policy's two data forms: `CorsConfig` (what `parse` read, plain data) and
 * `CompiledCors` (everything the request path needs, precomputed once at load and frozen).
 */
import type { SourceLocation } from '../../policy/diagnostics.ts';
import type { PolicyHandler } from '../../pipeline/handler.ts';
import type { CorsDecision, CorsReason, CorsReasonCode } from './decide.ts';

/** What `parse` produced from one `<cors>` element. Lists are normalised and de-duplicated. */
export interface CorsConfig {
  /** `allow-credentials`; APIM default false. */
  readonly allowCredentials: boolean;
  /** `terminate-unmatched-request`; 'unset' when absent, resolved with compat at compile. */
  readonly terminateUnmatchedRequest: boolean | 'unset';
  /** `*`, or origins normalised to `scheme://host[:port]` (default ports dropped). */
  readonly origins: '*' | readonly string[];
  /** `*`, or upper-cased methods; ['GET', 'POST'] when `<allowed-methods>` is absent (APIM default). */
  readonly methods: '*' | readonly string[];
  /** True when the methods are APIM's default because `<allowed-methods>` is absent. */
  readonly methodsDefaulted: boolean;
  /** `preflight-result-max-age` in seconds; undefined when the attribute is absent (then no Access-Control-Max-Age is sent). */
  readonly maxAge: number | undefined;
  /**
   * `*`, or header names as written (de-duplicated case-insensitively). `undefined` when
   * `<allowed-headers>` is absent: no request header is allowed on a preflight.
   */
  readonly headers: '*' | readonly string[] | undefined;
  /** Names from `<expose-headers>` as written (`*` kept literally); [] when absent. */
  readonly exposeHeaders: readonly string[];
}

/** Lower-case header names, as the gateway's HeaderMap uses them. */
export const H = {
  allowOrigin: 'access-control-allow-origin',
  allowCredentials: 'access-control-allow-credentials',
  allowMethods: 'access-control-allow-methods',
  allowHeaders: 'access-control-allow-headers',
  exposeHeaders: 'access-control-expose-headers',
  maxAge: 'access-control-max-age',
  vary: 'vary',
  origin: 'origin',
  requestMethod: 'access-control-request-method',
  requestHeaders: 'access-control-request-headers',
} as const;

export type CorsHeaderPair = readonly [name: string, value: string];

/** `Vary` values a cors answer can need; preflight variants depend on what was echoed. */
export const VARY = {
  origin: [H.vary, 'Origin'] as CorsHeaderPair,
  originMethod: [H.vary, 'Origin, Access-Control-Request-Method'] as CorsHeaderPair,
  originHeaders: [H.vary, 'Origin, Access-Control-Request-Headers'] as CorsHeaderPair,
  originMethodHeaders: [H.vary, 'Origin, Access-Control-Request-Method, Access-Control-Request-Headers'] as CorsHeaderPair,
} as const;
Object.values(VARY).forEach((pair) => Object.freeze(pair));

/** The `Vary: Origin` list used on every non-preflight response a cors decided (Fetch §3.2.5). */
export const VARY_ORIGIN_ONLY: readonly CorsHeaderPair[] = Object.freeze([VARY.origin]);
export const NO_HEADERS: readonly CorsHeaderPair[] = Object.freeze([]);

/**
 * One compiled `<cors>`: the configuration in the shapes the request path uses (Sets for
 * lookups, joined strings for list answers), plus the fixed header pairs. Immutable.
 */
export interface CompiledCors {
  /** Where the `<cors>` element starts, for reasons and traces. */
  readonly location: SourceLocation;
  /** Scope document label ('global', 'api:echo' …). */
  readonly scope: string;
  readonly policyId: string | undefined;
  readonly allowCredentials: boolean;
  readonly terminateUnmatched: boolean;
  /** Whether `terminateUnmatched` was written or came from compat.corsTerminateUnmatchedDefault. */
  readonly terminateSource: 'attribute' | 'compat-default';
  readonly anyOrigin: boolean;
  /** Normalised origins (empty when anyOrigin). */
  readonly origins: ReadonlySet<string>;
  readonly originList: readonly string[];
  readonly anyMethod: boolean;
  /** Upper-cased methods (empty when anyMethod). */
  readonly methods: ReadonlySet<string>;
  readonly methodList: readonly string[];
  readonly methodsDefaulted: boolean;
  readonly anyHeader: boolean;
  /** Lower-cased allowed request header names (empty when anyHeader or none configured). */
  readonly headers: ReadonlySet<string>;
  readonly headerList: readonly string[];
  /** False when `<allowed-headers>` was absent. */
  readonly headersConfigured: boolean;
  readonly exposeHeaders: readonly string[];
  readonly maxAge: number | undefined;
  /** Precomputed header pairs. */
  readonly fixed: FixedPairs;
  /** Precomputed decisions and reason lists for actual requests (the hot path). */
  readonly actual: ActualPrecomputed;
}

/**
 * What an actual request's decision can reuse: the whole no-Origin decision, and every reason
 * list, so an unmatched request allocates one decision object and a matched one three.
 */
export interface ActualPrecomputed {
  readonly noOrigin: CorsDecision;
  readonly matchedReasons: readonly CorsReason[];
  readonly anyReasons: readonly CorsReason[];
  readonly anyEchoReasons: readonly CorsReason[];
  /** [0 not allowed | 1 invalid][0 terminate | 1 proceed | 2 proceed-not-get-head]. */
  readonly unmatchedReasons: readonly (readonly (readonly CorsReason[])[])[];
}

/** Header pairs that never change per request, computed once per `<cors>`. */
export interface FixedPairs {
  /** Actual request, matched: everything after Access-Control-Allow-Origin (ACAC, ACEH, Vary). */
  readonly actualAfterOrigin: readonly CorsHeaderPair[];
  /** Actual request, matched, `*` origins without credentials: the whole list (ACAO `*` first). */
  readonly actualWildcard: readonly CorsHeaderPair[];
  readonly allowCredentials: CorsHeaderPair | undefined;
  /** The list (or `*`) answer for Access-Control-Allow-Methods; undefined when it must be echoed. */
  readonly allowMethods: CorsHeaderPair | undefined;
  /** The configured list for Access-Control-Allow-Headers; undefined for `*` (echo) or none configured. */
  readonly allowHeaders: CorsHeaderPair | undefined;
  readonly maxAge: CorsHeaderPair | undefined;
  readonly wildcardOrigin: CorsHeaderPair;
}

/** Builds the frozen CompiledCors from a parsed config. Pure; called once per `<cors>` at load. */
export function buildCompiledCors(
  config: CorsConfig,
  meta: { location: SourceLocation; scope: string; policyId: string | undefined; terminateDefault: boolean },
): CompiledCors {
  const terminateSource = config.terminateUnmatchedRequest === 'unset' ? 'compat-default' : 'attribute';
  const terminateUnmatched = config.terminateUnmatchedRequest === 'unset' ? meta.terminateDefault : config.terminateUnmatchedRequest;
  const anyOrigin = config.origins === '*';
  const originList = freezeList(config.origins === '*' ? [] : config.origins);
  const anyMethod = config.methods === '*';
  const methodList = freezeList(config.methods === '*' ? [] : config.methods);
  const anyHeader = config.headers === '*';
  const headerList = freezeList(config.headers === '*' || config.headers === undefined ? [] : config.headers);
  const exposeHeaders = freezeList(config.exposeHeaders);

  const allowCredentials = config.allowCredentials ? pair(H.allowCredentials, 'true') : undefined;
  const exposePair = exposeHeaders.length > 0 ? pair(H.exposeHeaders, exposeHeaders.join(', ')) : undefined;
  const actualAfterOrigin = freezeList([allowCredentials, exposePair, VARY.origin].filter(isPair));
  const wildcardOrigin = pair(H.allowOrigin, '*');

  // Methods: `*` is a wildcard for Fetch only without credentials; with credentials it is the
  // literal method "*", so the requested method is echoed instead (decide.ts).
  let allowMethods: CorsHeaderPair | undefined;
  if (anyMethod) allowMethods = config.allowCredentials ? undefined : pair(H.allowMethods, '*');
  else allowMethods = pair(H.allowMethods, methodList.join(', '));

  const fixed: FixedPairs = Object.freeze({
    actualAfterOrigin,
    actualWildcard: freezeList([wildcardOrigin, ...actualAfterOrigin]),
    allowCredentials,
    allowMethods,
    allowHeaders: headerList.length > 0 ? pair(H.allowHeaders, headerList.join(', ')) : undefined,
    maxAge: config.maxAge === undefined ? undefined : pair(H.maxAge, String(config.maxAge)),
    wildcardOrigin,
  });

  // Built unfrozen, because the precomputed reasons point back at the compiled cors; frozen below.
  const compiled: { -readonly [K in keyof CompiledCors]: CompiledCors[K] } = {
    location: meta.location,
    scope: meta.scope,
    policyId: meta.policyId,
    allowCredentials: config.allowCredentials,
    terminateUnmatched,
    terminateSource,
    anyOrigin,
    origins: new Set(originList),
    originList,
    anyMethod,
    methods: new Set(methodList),
    methodList,
    methodsDefaulted: config.methodsDefaulted,
    anyHeader,
    headers: new Set(headerList.map((h) => h.toLowerCase())),
    headerList,
    headersConfigured: config.headers !== undefined,
    exposeHeaders,
    maxAge: config.maxAge,
    fixed,
    actual: undefined as unknown as ActualPrecomputed,
  };
  compiled.actual = precomputeActual(compiled);
  return Object.freeze(compiled);
}

function precomputeActual(cors: CompiledCors): ActualPrecomputed {
  const r = (code: CorsReasonCode): CorsReason => Object.freeze({ code, cors });
  const list = (...reasons: CorsReason[]): readonly CorsReason[] => Object.freeze(reasons);
  const outcomes = [r('terminate'), r('proceed'), r('proceed-not-get-head')];
  const noOrigin: CorsDecision = { kind: 'no-cors', preflight: false, headers: VARY_ORIGIN_ONLY, decidedBy: cors, origin: undefined, reasons: list(r('origin-missing')) };
  return Object.freeze({
    noOrigin: Object.freeze(noOrigin),
    matchedReasons: list(r('origin-allowed')),
    anyReasons: list(r('origin-any')),
    anyEchoReasons: list(r('origin-any-echoed')),
    unmatchedReasons: Object.freeze([r('origin-not-allowed'), r('origin-invalid')].map((why) => Object.freeze(outcomes.map((o) => list(why, o))))),
  });
}

/** A compiled cors handler: a PolicyHandler that also exposes its CompiledCors. */
export interface CorsHandler extends PolicyHandler {
  readonly name: 'cors';
  readonly cors: CompiledCors;
}

/** True for handlers built by the cors policy; the gateway uses it to collect top-level cors. */
export function isCorsHandler(handler: PolicyHandler): handler is CorsHandler {
  return handler.name === 'cors' && typeof (handler as Partial<CorsHandler>).cors === 'object';
}

/** `file:line:column` of a cors, for messages. */
export function corsWhere(cors: CompiledCors): string {
  return `${cors.location.file}:${cors.location.line}:${cors.location.column}`;
}

function pair(name: string, value: string): CorsHeaderPair {
  return Object.freeze([name, value] as const);
}

function isPair(value: CorsHeaderPair | undefined): value is CorsHeaderPair {
  return value !== undefined;
}

function freezeList<T>(list: readonly T[]): readonly T[] {
  return Object.freeze([...list]);
}
