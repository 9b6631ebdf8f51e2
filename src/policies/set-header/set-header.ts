import { ALL_SCOPES, definePolicy, type ParseContext, type PolicyElement } from '../../policy/define-policy.ts';
import type { HeaderMap, HeaderValue } from '../../pipeline/context.ts';
import { attributeValueAt } from '../shared/attributes.ts';
import { createHandler } from '../shared/handler.ts';
import { headerValueProblem, isHeaderName } from '../shared/header-values.ts';
import { responseOf } from '../shared/response.ts';
import { parseValueList, type ExistsAction } from '../shared/value-list.ts';

export interface SetHeaderConfig {
  /** As written; compiled lower-case. */
  readonly name: string;
  readonly existsAction: ExistsAction;
  readonly values: readonly string[];
  /** inbound/backend change the request to the backend; outbound/on-error the response to the caller. */
  readonly target: 'request' | 'response';
}

/** APIM: "Connection, Content-Length, Keep-Alive, Transfer-Encoding cannot be modified or deleted". */
const PROTECTED = new Set(['connection', 'content-length', 'keep-alive', 'transfer-encoding']);

/**
 * Headers APIM sends as repeated field lines instead of one comma-joined value, because their
 * values may contain commas or dates (set-header usage notes).
 */
const REPEATED = new Set([
  'user-agent', 'www-authenticate', 'proxy-authenticate', 'cookie', 'set-cookie', 'warning',
  'date', 'expires', 'if-modified-since', 'if-unmodified-since', 'last-modified', 'retry-after',
]);

/** A compiled header change, applied to a request's or a response's header map. */
export type HeaderAction = (headers: HeaderMap) => void;

/**
 * Parses a `<set-header>` element; return-response uses it for its `<set-header>` children too.
 * Undefined when the statement cannot be used (errors reported) or is ignored (protected header).
 */
export function parseSetHeader(element: PolicyElement, ctx: ParseContext): SetHeaderConfig | undefined {
  const list = parseValueList(element, ctx);
  if (list === undefined) return undefined;
  let ok = true;
  if (!isHeaderName(list.name)) {
    ctx.report('GH_POLICY_ATTR_INVALID', attributeValueAt(element, 'name'), `<set-header name="${list.name}">: not a valid header name (letters, digits and !#$%&'*+-.^_\`|~ only)`);
    ok = false;
  }
  list.values.forEach((value, i) => {
    const problem = headerValueProblem(value);
    if (problem === null) return;
    ctx.report('GH_POLICY_CHILD_INVALID', list.valueAt[i] ?? element, `<set-header name="${list.name}">: the value ${problem}`);
    ok = false;
  });
  if (!ok) return undefined;
  const lower = list.name.toLowerCase();
  if (PROTECTED.has(lower)) {
    ctx.report('GH_POLICY_HEADER_PROTECTED', element, `<set-header name="${list.name}">: APIM does not let policies modify or delete ${list.name}; the statement is ignored`, 'warning');
    return undefined;
  }
  if (list.existsAction !== 'delete' && !list.hasValueElements) {
    ctx.report('GH_POLICY_CHILD_REQUIRED', element, `<set-header name="${list.name}" exists-action="${list.existsAction}"> has no <value>; the header is set to an empty value`, 'warning');
  }
  if (lower === 'server' && list.existsAction === 'delete') {
    ctx.report('GH_POLICY_HEADER_PROTECTED', element, `<set-header name="Server" exists-action="delete">: APIM does not support removing Server; gatehouse removes it`, 'info');
  }
  const target = ctx.section === 'inbound' || ctx.section === 'backend' ? 'request' : 'response';
  return { name: list.name, existsAction: list.existsAction, values: list.values, target };
}

/**
 * Compiles a header change once: the name is lower-cased and the value joined here, so a request
 * pays one property write (plus a small array copy for repeated headers, since later steps may
 * push onto a list they find in the map).
 */
export function compileHeaderAction(config: SetHeaderConfig): HeaderAction {
  const name = config.name.toLowerCase();
  const repeated = REPEATED.has(name);
  const list = Object.freeze([...config.values]);
  const joined = list.join(',');
  const fresh = repeated && list.length > 1 ? (): HeaderValue => list.slice() : (): HeaderValue => joined;
  switch (config.existsAction) {
    case 'override':
      return (headers) => {
        headers[name] = fresh();
      };
    case 'skip':
      return (headers) => {
        if (headers[name] === undefined) headers[name] = fresh();
      };
    case 'append':
      return (headers) => {
        const existing = headers[name];
        if (existing === undefined) headers[name] = fresh();
        else if (repeated) headers[name] = typeof existing === 'string' ? [existing, ...list] : [...existing, ...list];
        else {
          const before = typeof existing === 'string' ? existing : existing.join(',');
          headers[name] = before === '' ? joined : `${before},${joined}`;
        }
      };
    case 'delete':
      return (headers) => {
        delete headers[name];
      };
  }
}

/**
 * `set-header`: sets, appends to, keeps or deletes a request header (inbound, backend) or a
 * response header (outbound, on-error).
 *
 * @example
 * ```xml
 * <set-header name="X-Request-Source" exists-action="override">
 *   <value>gatehouse</value>
 * </set-header>
 * <set-header name="Ocp-Apim-Subscription-Key" exists-action="delete" />
 * ```
 */
export const setHeaderPolicy = definePolicy<SetHeaderConfig>({
  name: 'set-header',
  sections: ['inbound', 'backend', 'outbound', 'on-error'],
  scopes: ALL_SCOPES,
  parse: parseSetHeader,
  compile(config, _env, statement) {
    const apply = compileHeaderAction(config);
    if (config.target === 'request') return createHandler(statement, (ctx) => void apply(ctx.request.headers));
    return createHandler(statement, (ctx) => void apply(responseOf(ctx).headers));
  },
});
