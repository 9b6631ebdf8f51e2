/**
 * The request router: (method, path, query, headers) → API, operation, parameters.
 * Built once from the loaded APIs; immutable afterwards. docs/routing.md has the rules and why.
 *
 * Build-time work: template compilation, precedence sorting, lower-casing of every configured
 * name, and maps keyed by the first path segment. Per request: one split of the path, map
 * lookups, and literal compares that short-circuit on exact equality.
 */
import type { VersioningScheme } from '../config/model.ts';
import type { HeaderMap } from '../pipeline/context.ts';
import {
  EMPTY_PARAMS,
  captureQueryParams,
  compareTemplates,
  compileTemplate,
  hasAllQueryParams,
  queryValue,
  safeDecode,
  segmentEqualsLiteral,
} from './template.ts';
import type { CompiledTemplate } from './template.ts';

/** An operation of an API entry; `value` is whatever the gateway hangs on it (its compiled pipeline). */
export interface RouteOperationEntry<T> {
  /** Upper-case HTTP method, or '*' for an operation that answers every method (tried last). */
  readonly method: string;
  /** APIM URL template, e.g. '/users/{id}' or '/search?q={q}'. */
  readonly urlTemplate: string;
  readonly value: T;
}

/** How a version set tells versions apart (ARM `versioningScheme` + `versionQueryName`/`versionHeaderName`). */
export interface RouteVersionSet {
  readonly scheme: VersioningScheme;
  /** Query parameter name (Query) or header name (Header); ignored for Segment. */
  readonly name?: string | null;
}

/** One API revision as the router sees it; `value` is the gateway's per-API data. */
export interface RouteApiEntry<A, T> {
  /**
   * The APIM API name (without ';rev='). Optional; when given, two differently named APIs on one
   * suffix (and version) are reported as 'api-path-duplicate' instead of being taken as revisions.
   */
  readonly name?: string;
  /** URL suffix without leading or trailing '/', '' for the catch-all API; may span segments ('a/b'). */
  readonly path: string;
  /** The version set this API belongs to, or null/undefined for an unversioned API. */
  readonly versionSet?: RouteVersionSet | null;
  /** Version identifier inside the set; null or '' for the set's `Original` (answers without one). */
  readonly version?: string | null;
  readonly revision: string;
  /** The current revision serves requests without `;rev=`. */
  readonly isCurrent: boolean;
  readonly operations: readonly RouteOperationEntry<T>[];
  readonly value: A;
}

/** Something the router could not use or had to decide between; the loader turns these into diagnostics. */
export interface RouteProblem {
  readonly kind:
    | 'template-invalid'
    | 'operation-duplicate'
    | 'api-path-duplicate'
    | 'revision-duplicate'
    | 'revision-current-duplicate'
    | 'revision-no-current'
    | 'version-duplicate'
    | 'version-set-mismatch'
    | 'path-invalid';
  /** Index into the entries passed to the router. */
  readonly apiIndex: number;
  /** Index into that entry's operations, for operation problems. */
  readonly operationIndex?: number;
  /** The entry that was kept instead, when the problem is a duplicate. */
  readonly keptApiIndex?: number;
  readonly keptOperationIndex?: number;
  readonly message: string;
}

/** Opaque per-API routing data; pass it back to {@link Router.findOperation}. */
export interface ApiRoute<A, T> {
  readonly value: A;
  /** @internal */ readonly byMethod: ReadonlyMap<string, readonly CompiledOperation<T>[]>;
  /** @internal */ readonly anyMethod: readonly CompiledOperation<T>[];
}

/** @internal */
export interface CompiledOperation<T> {
  readonly template: CompiledTemplate;
  readonly value: T;
  /** Other operations with exactly the same path shape but fewer query parameters (tried in order). */
  readonly queryVariants: readonly CompiledOperation<T>[] | null;
}

export interface OperationMatch<T> {
  readonly operation: T;
  /** Path parameters, then the template's query parameters that were present. */
  readonly params: Readonly<Record<string, string>>;
}

export interface RouteMatch<A, T> {
  readonly api: A;
  /** null when the API matched but no operation did (wrong method included): APIM answers 404. */
  readonly operation: T | null;
  readonly params: Readonly<Record<string, string>>;
  /** The path below the API identifier (suffix, version segment, `;rev=`), exactly as sent; '' when nothing follows. */
  readonly remainderPath: string;
  /** True when `;rev=N` chose the revision. */
  readonly revisionExplicit: boolean;
  /** Handle for {@link Router.findOperation} (e.g. preflight checks on the same API). */
  readonly route: ApiRoute<A, T>;
}

/** Revisions of one API (or one version of it). */
interface RevisionSet<A, T> {
  /** API name of the first entry, when entries carry names. */
  readonly name: string | undefined;
  current: ApiRoute<A, T> | null;
  readonly byRevision: Map<string, ApiRoute<A, T>>;
}

/** Everything that answers under one URL suffix. */
interface SuffixGroup<A, T> {
  /** Lower-case, decoded suffix segments. */
  readonly segments: readonly string[];
  readonly rawSegments: readonly string[];
  /** Unversioned API, or the version set's Original. */
  unversioned: RevisionSet<A, T> | null;
  scheme: VersioningScheme | null;
  /** Lower-case query/header name for Query/Header schemes. */
  versionName: string;
  readonly versions: Map<string, RevisionSet<A, T>>;
  /** Index of the entry that created the group (for duplicate reports). */
  readonly firstIndex: number;
  /** Whether entries without a version set exist next to versioned ones. */
  hasUnversionedEntry: boolean;
}

const REV_MARK = ';rev=';

/**
 * Routes requests to APIs and operations. Construct once with every API entry; read `problems`
 * for what the loader should report. `resolve` and `findOperation` are the hot path.
 */
export class Router<A, T> {
  /** Problems found while building, in entry order. Duplicates keep the first entry. */
  readonly problems: readonly RouteProblem[];
  /** First suffix segment (lower-case, decoded) → groups starting with it, longest suffix first. */
  readonly #byFirstSegment = new Map<string, SuffixGroup<A, T>[]>();
  /** The group with the empty suffix (catch-all), if any. */
  #catchAll: SuffixGroup<A, T> | null = null;

  constructor(entries: readonly RouteApiEntry<A, T>[]) {
    const problems: RouteProblem[] = [];
    const groups = new Map<string, SuffixGroup<A, T>>();
    const revisionOwner = new Map<RevisionSet<A, T>, Map<string, number>>();
    const currentOwner = new Map<RevisionSet<A, T>, number>();

    entries.forEach((entry, apiIndex) => {
      const rawPath = entry.path.replace(/^\/+|\/+$/g, '');
      const rawSegments = rawPath === '' ? [] : rawPath.split('/');
      if (rawSegments.some((s) => s === '' || s.includes(';') || s.includes('?') || s.includes('{'))) {
        problems.push({ kind: 'path-invalid', apiIndex, message: `API path '${entry.path}' has an empty segment or a ';', '?' or '{' character` });
        return;
      }
      const segments = rawSegments.map((s) => safeDecode(s).toLowerCase());
      const key = segments.join('/');
      let group = groups.get(key);
      if (group === undefined) {
        group = {
          segments,
          rawSegments,
          unversioned: null,
          scheme: null,
          versionName: '',
          versions: new Map(),
          firstIndex: apiIndex,
          hasUnversionedEntry: false,
        };
        groups.set(key, group);
      }

      const vs = entry.versionSet ?? null;
      const version = entry.version ?? '';
      let revisions: RevisionSet<A, T>;
      if (vs === null) {
        // An unversioned API cannot share a suffix with a version set (nor the reverse, below).
        if (group.scheme !== null) {
          problems.push({ kind: 'api-path-duplicate', apiIndex, keptApiIndex: group.firstIndex, message: `API path '${entry.path}' is already used by a version set` });
          return;
        }
        group.hasUnversionedEntry = true;
        revisions = group.unversioned ??= { name: entry.name, current: null, byRevision: new Map() };
      } else {
        const name = (vs.name ?? '').toLowerCase();
        if (group.hasUnversionedEntry) {
          problems.push({ kind: 'api-path-duplicate', apiIndex, keptApiIndex: group.firstIndex, message: `API path '${entry.path}' is already used by an API outside a version set` });
          return;
        }
        if (group.scheme === null) {
          group.scheme = vs.scheme;
          group.versionName = name;
        } else if (group.scheme !== vs.scheme || (vs.scheme !== 'Segment' && group.versionName !== name)) {
          problems.push({ kind: 'version-set-mismatch', apiIndex, keptApiIndex: group.firstIndex, message: `API path '${entry.path}' is used by two version sets with different schemes or names` });
          return;
        }
        if ((vs.scheme === 'Query' || vs.scheme === 'Header') && name === '') {
          problems.push({ kind: 'version-set-mismatch', apiIndex, message: `the ${vs.scheme} version set of API path '${entry.path}' has no ${vs.scheme === 'Query' ? 'query parameter' : 'header'} name` });
          return;
        }
        if (version === '') {
          revisions = group.unversioned ??= { name: entry.name, current: null, byRevision: new Map() };
        } else {
          const vkey = safeDecode(version).toLowerCase();
          let set = group.versions.get(vkey);
          if (set === undefined) {
            set = { name: entry.name, current: null, byRevision: new Map() };
            group.versions.set(vkey, set);
          }
          revisions = set;
        }
      }

      if (revisions.name !== undefined && entry.name !== undefined && revisions.name !== entry.name) {
        problems.push({
          kind: 'api-path-duplicate',
          apiIndex,
          keptApiIndex: revisionOwner.get(revisions)?.values().next().value ?? group.firstIndex,
          message: `APIs '${revisions.name}' and '${entry.name}' both claim path '${entry.path}'${vs === null ? '' : ` version '${version}'`}`,
        });
        return;
      }
      let owners = revisionOwner.get(revisions);
      if (owners === undefined) {
        owners = new Map();
        revisionOwner.set(revisions, owners);
      }
      const kept = owners.get(entry.revision);
      if (kept !== undefined) {
        const versionText = vs === null ? '' : ` version '${version}'`;
        problems.push({
          kind: vs === null || version === '' ? 'revision-duplicate' : 'version-duplicate',
          apiIndex,
          keptApiIndex: kept,
          message: `API path '${entry.path}'${versionText} revision '${entry.revision}' is defined twice`,
        });
        return;
      }
      owners.set(entry.revision, apiIndex);

      const route = buildApiRoute(entry, apiIndex, problems);
      revisions.byRevision.set(entry.revision, route);
      if (entry.isCurrent) {
        const currentIndex = currentOwner.get(revisions);
        if (currentIndex !== undefined) {
          problems.push({ kind: 'revision-current-duplicate', apiIndex, keptApiIndex: currentIndex, message: `API path '${entry.path}' has two current revisions` });
        } else {
          revisions.current = route;
          currentOwner.set(revisions, apiIndex);
        }
      }
    });

    for (const group of groups.values()) {
      for (const set of [group.unversioned, ...group.versions.values()]) {
        if (set !== null && set.current === null && set.byRevision.size > 0) {
          const owners = revisionOwner.get(set);
          const first = owners === undefined ? group.firstIndex : Math.min(...owners.values());
          problems.push({ kind: 'revision-no-current', apiIndex: first, message: `API path '${group.rawSegments.join('/')}' has no current revision; only ';rev=' requests reach it` });
        }
      }
      if (group.segments.length === 0) {
        this.#catchAll = group;
        continue;
      }
      const first = group.segments[0] as string;
      const list = this.#byFirstSegment.get(first);
      if (list === undefined) this.#byFirstSegment.set(first, [group]);
      else list.push(group);
    }
    // Longest suffix first, so the first group that matches is the longest prefix match.
    for (const list of this.#byFirstSegment.values()) list.sort((a, b) => b.segments.length - a.segments.length);
    this.problems = problems;
  }

  /**
   * Finds the API and operation for a request. `path` is the raw path (percent-encoded, starting
   * with '/'), `query` the raw query without '?'. Returns null when no API matches (APIM: 404,
   * global policies do not run); a match with `operation: null` when the API matched but no
   * operation did (APIM: 404 OperationNotFound, on-error runs). Hot path.
   */
  resolve(method: string, path: string, query: string, headers: HeaderMap): RouteMatch<A, T> | null {
    if (path.charCodeAt(0) !== 0x2f /* / */) return null;
    const segments = path.length === 1 ? [] : splitSegments(path, 1);
    // A trailing '/' does not change what matches (docs/routing.md); remainderPath keeps it.
    let end = segments.length;
    if (end > 0 && segments[end - 1] === '') end--;

    if (end > 0) {
      const first = segments[0] as string;
      const semi = first.indexOf(';');
      let key = semi === -1 ? first : first.slice(0, semi);
      if (key.includes('%')) key = safeDecode(key);
      // Exact key first: configured keys are lower-case, and most requests use the configured case.
      const candidates = this.#byFirstSegment.get(key) ?? this.#byFirstSegment.get(key.toLowerCase());
      if (candidates !== undefined) {
        for (const group of candidates) {
          const m = this.#matchGroup(group, method, path, query, headers, segments, end);
          if (m !== undefined) return m;
        }
      }
    }
    if (this.#catchAll !== null) {
      const m = this.#matchGroup(this.#catchAll, method, path, query, headers, segments, end);
      if (m !== undefined) return m;
    }
    return null;
  }

  /**
   * Finds an operation of an already resolved API (`match.route`) for another method, e.g. "is
   * there an OPTIONS operation for this URL" or the operation a preflight asks about.
   * `remainderPath` is the path below the API identifier (RouteMatch.remainderPath).
   */
  findOperation(route: ApiRoute<A, T>, method: string, remainderPath: string, query = ''): OperationMatch<T> | null {
    const segments = remainderPath === '' || remainderPath === '/' ? [] : splitSegments(remainderPath, remainderPath.charCodeAt(0) === 0x2f ? 1 : 0);
    let end = segments.length;
    if (end > 0 && segments[end - 1] === '') end--;
    const found = matchOperation(route, method, segments, 0, end, query);
    return found === null ? null : { operation: found.op.value, params: found.params };
  }

  /**
   * Matches one suffix group. Returns undefined when the suffix does not match (try the next
   * group), null when it matched but the version or revision is unknown (final: no API).
   */
  #matchGroup(
    group: SuffixGroup<A, T>,
    method: string,
    path: string,
    query: string,
    headers: HeaderMap,
    segments: string[],
    end: number,
  ): RouteMatch<A, T> | null | undefined {
    const n = group.segments.length;
    if (end < n) return undefined;
    let revision: string | null = null;
    // Character offset in `path` just after the API identifier consumed so far.
    let offset = 0;
    for (let i = 0; i < n; i++) {
      let seg = segments[i] as string;
      if (i === n - 1) {
        const mark = seg.indexOf(REV_MARK);
        if (mark !== -1) {
          revision = seg.slice(mark + REV_MARK.length);
          seg = seg.slice(0, mark);
        }
      }
      const lower = group.segments[i] as string;
      if (!segmentEqualsLiteral(seg, group.rawSegments[i] as string, lower)) return undefined;
      offset += 1 + (segments[i] as string).length;
    }
    let next = n;

    // A catch-all API may take ';rev=N' as a segment of its own ('/;rev=2/items').
    if (n === 0 && next < end && (segments[0] as string).startsWith(REV_MARK)) {
      revision = (segments[0] as string).slice(REV_MARK.length);
      offset += 1 + (segments[0] as string).length;
      next = 1;
    }

    let revisions: RevisionSet<A, T> | null = group.unversioned;
    if (group.scheme !== null) {
      let id: string | undefined;
      if (group.scheme === 'Segment') {
        if (next < end) {
          let seg = segments[next] as string;
          const mark = seg.indexOf(REV_MARK);
          let segRevision: string | null = null;
          if (mark !== -1) {
            segRevision = seg.slice(mark + REV_MARK.length);
            seg = seg.slice(0, mark);
          }
          const set = group.versions.get(safeDecode(seg).toLowerCase());
          if (set !== undefined) {
            if (segRevision !== null) {
              if (revision !== null) return null; // ';rev=' twice in one API identifier
              revision = segRevision;
            }
            offset += 1 + (segments[next] as string).length;
            next++;
            revisions = set;
            id = seg;
          }
        }
      } else {
        id = group.scheme === 'Query' ? queryValue(query, group.versionName) : firstHeader(headers, group.versionName);
        if (id !== undefined && id !== '') {
          const set = group.versions.get(id.toLowerCase());
          // A version identifier that names no version is no API at all (APIM answers 404).
          if (set === undefined) return null;
          revisions = set;
        }
      }
      if (id === undefined && revisions === null) return null;
    }
    if (revisions === null) return null;

    let route: ApiRoute<A, T> | null | undefined;
    if (revision !== null) route = revisions.byRevision.get(revision);
    else route = revisions.current;
    if (route === null || route === undefined) return null;

    const remainderPath = path.slice(offset);
    const found = matchOperation(route, method, segments, next, end, query);
    return {
      api: route.value,
      operation: found === null ? null : found.op.value,
      params: found === null ? EMPTY_PARAMS : found.params,
      remainderPath,
      revisionExplicit: revision !== null,
      route,
    };
  }
}

/**
 * `path.slice(start).split('/')`, without the slice: V8 splits a sliced string several times slower
 * than the original (≈ 150 ns against ≈ 55 ns for `/api/items/42`), and this runs for every request.
 */
export function splitSegments(path: string, start: number): string[] {
  const out: string[] = [];
  for (let from = start; ; ) {
    const slash = path.indexOf('/', from);
    if (slash === -1) {
      out.push(path.slice(from));
      return out;
    }
    out.push(path.slice(from, slash));
    from = slash + 1;
  }
}

function firstHeader(headers: HeaderMap, lowerName: string): string | undefined {
  const v = headers[lowerName];
  return v === undefined ? undefined : typeof v === 'string' ? v : v[0];
}

function matchOperation<A, T>(
  route: ApiRoute<A, T>,
  method: string,
  segments: readonly string[],
  start: number,
  end: number,
  query: string,
): { op: CompiledOperation<T>; params: Readonly<Record<string, string>> } | null {
  const list = route.byMethod.get(method);
  if (list !== undefined) {
    const found = firstMatch(list, segments, start, end, query);
    if (found !== null) return found;
  }
  return route.anyMethod.length === 0 ? null : firstMatch(route.anyMethod, segments, start, end, query);
}

function firstMatch<T>(
  list: readonly CompiledOperation<T>[],
  segments: readonly string[],
  start: number,
  end: number,
  query: string,
): { op: CompiledOperation<T>; params: Readonly<Record<string, string>> } | null {
  for (const candidate of list) {
    const params = candidate.template.match(segments, start, end);
    if (params === null) continue;
    let op = candidate;
    let opParams = params;
    if (candidate.queryVariants !== null) {
      // Same path, different query parameters: the first whose parameters are all present wins,
      // else the one with the fewest (the list is sorted by query parameter count, most first).
      op = candidate.queryVariants[candidate.queryVariants.length - 1] as CompiledOperation<T>;
      for (const v of candidate.queryVariants) {
        if (hasAllQueryParams(v.template, query)) {
          op = v;
          break;
        }
      }
      // Variants share the path shape, not necessarily the parameter names: capture with the winner.
      if (op !== candidate) opParams = op.template.match(segments, start, end) ?? params;
    }
    if (op.template.queryParams.length === 0 || query === '') return { op, params: opParams };
    const all: Record<string, string> = opParams === EMPTY_PARAMS ? {} : (opParams as Record<string, string>);
    const found = captureQueryParams(op.template, query, all);
    return { op, params: found === 0 && opParams === EMPTY_PARAMS ? EMPTY_PARAMS : all };
  }
  return null;
}

function buildApiRoute<A, T>(entry: RouteApiEntry<A, T>, apiIndex: number, problems: RouteProblem[]): ApiRoute<A, T> {
  type Pending = { template: CompiledTemplate; value: T; index: number };
  const byMethod = new Map<string, Pending[]>();
  const seen = new Map<string, number>();
  entry.operations.forEach((op, operationIndex) => {
    const r = compileTemplate(op.urlTemplate);
    if (r.template === null) {
      problems.push({ kind: 'template-invalid', apiIndex, operationIndex, message: `URL template '${op.urlTemplate}': ${r.error}` });
      return;
    }
    const dupKey = `${op.method} ${r.template.shapeKey}`;
    const kept = seen.get(dupKey);
    if (kept !== undefined) {
      problems.push({
        kind: 'operation-duplicate',
        apiIndex,
        operationIndex,
        keptApiIndex: apiIndex,
        keptOperationIndex: kept,
        message: `${op.method} ${op.urlTemplate} matches the same requests as operation ${kept + 1} of this API`,
      });
      return;
    }
    seen.set(dupKey, operationIndex);
    let list = byMethod.get(op.method);
    if (list === undefined) {
      list = [];
      byMethod.set(op.method, list);
    }
    list.push({ template: r.template, value: op.value, index: operationIndex });
  });

  const compiled = new Map<string, readonly CompiledOperation<T>[]>();
  for (const [method, pending] of byMethod) {
    // Stable order: equal precedence keeps configuration order.
    pending.sort((a, b) => compareTemplates(a.template, b.template) || a.index - b.index);
    // Templates with the same path shape differ only in their query part: they become one entry
    // whose variants are tried by query parameter presence (most parameters first, from the sort).
    const shapes = new Map<string, Pending[]>();
    for (const p of pending) {
      const same = shapes.get(p.template.pathShapeKey);
      if (same === undefined) shapes.set(p.template.pathShapeKey, [p]);
      else same.push(p);
    }
    const out: CompiledOperation<T>[] = [];
    for (const same of shapes.values()) {
      const head = same[0] as Pending;
      const variants =
        same.length === 1 ? null : same.map((p): CompiledOperation<T> => ({ template: p.template, value: p.value, queryVariants: null }));
      out.push({ template: head.template, value: head.value, queryVariants: variants });
    }
    compiled.set(method, out);
  }
  const anyMethod = compiled.get('*') ?? [];
  compiled.delete('*');
  return { value: entry.value, byMethod: compiled, anyMethod };
}
