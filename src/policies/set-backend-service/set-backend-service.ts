import { GatehouseError } from '../../errors.ts';
import { ALL_SCOPES, definePolicy, type ParseContext, type PolicyElement } from '../../policy/define-policy.ts';
import { getAttribute } from '../../policy/element.ts';
import { attributeValueAt, checkChildren } from '../shared/attributes.ts';
import { createHandler } from '../shared/handler.ts';

export type SetBackendServiceConfig =
  /** `base-url`, without trailing '/' (forward-request appends backendPath, which starts with '/'). */
  | { readonly kind: 'url'; readonly url: string }
  | { readonly kind: 'backend'; readonly backendId: string };

const SERVICE_FABRIC = ['sf-resolve-condition', 'sf-service-instance-name', 'sf-partition-key', 'sf-listener-name', 'sf-replica-type'];

/** ctx.state key: the scope whose backend-id chose the current backend (APIM's override rule). */
const STATE_KEY = 'set-backend-service';

function parseBaseUrl(element: PolicyElement, ctx: ParseContext, value: string): string | undefined {
  const at = attributeValueAt(element, 'base-url');
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    ctx.report('GH_POLICY_ATTR_INVALID', at, `<set-backend-service base-url="${value}">: not an absolute URL`);
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    ctx.report('GH_POLICY_ATTR_INVALID', at, `<set-backend-service base-url="${value}">: only http and https backends are supported`);
    return undefined;
  }
  if (value.includes('?') || value.includes('#')) {
    ctx.report('GH_POLICY_ATTR_UNSUPPORTED', at, `<set-backend-service base-url="${value}">: a query or fragment in base-url is not supported; add query parameters with set-query-parameter`);
    return undefined;
  }
  return value.replace(/\/+$/, '');
}

/**
 * `set-backend-service`: changes the backend base URL for this request, to a URL (`base-url`)
 * or to a backend entity from `backends/` (`backend-id`, resolved at load).
 *
 * APIM rule (set-backend-service usage notes): when an inherited statement chose the backend by
 * `backend-id`, a `base-url` from another scope does not override it. gatehouse does the same.
 *
 * @example
 * ```xml
 * <set-backend-service base-url="https://orders-v2.internal.example.com/api" />
 * <set-backend-service backend-id="orders-backend" />
 * ```
 */
export const setBackendServicePolicy = definePolicy<SetBackendServiceConfig>({
  name: 'set-backend-service',
  sections: ['inbound', 'backend'],
  scopes: ALL_SCOPES,
  parse(element, ctx) {
    ctx.checkAttributes(element, ['base-url', 'backend-id', ...SERVICE_FABRIC]);
    checkChildren(element, ctx, []);
    for (const name of SERVICE_FABRIC) {
      if (getAttribute(element, name) !== undefined) {
        ctx.report('GH_POLICY_ATTR_UNSUPPORTED', getAttribute(element, name) ?? element, `<set-backend-service ${name}>: Service Fabric backends are not supported; ignored`, 'warning');
      }
    }
    const hasUrl = getAttribute(element, 'base-url') !== undefined;
    const hasId = getAttribute(element, 'backend-id') !== undefined;
    if (hasUrl && hasId) {
      ctx.report('GH_POLICY_ATTR_CONFLICT', element, `<set-backend-service>: use either 'base-url' or 'backend-id', not both`);
      return undefined;
    }
    if (!hasUrl && !hasId) {
      ctx.report('GH_POLICY_ATTR_REQUIRED', element, `<set-backend-service> needs 'base-url' or 'backend-id'`);
      return undefined;
    }
    if (hasUrl) {
      const value = ctx.literalAttribute(element, 'base-url');
      const url = value === undefined ? undefined : parseBaseUrl(element, ctx, value);
      return url === undefined ? undefined : { kind: 'url', url };
    }
    const backendId = ctx.literalAttribute(element, 'backend-id');
    if (backendId === '') ctx.report('GH_POLICY_ATTR_INVALID', attributeValueAt(element, 'backend-id'), `<set-backend-service>: 'backend-id' must not be empty`);
    return backendId === undefined || backendId === '' ? undefined : { kind: 'backend', backendId };
  },
  compile(config, env, statement) {
    const scope = statement.scope;
    if (config.kind === 'url') {
      const url = config.url;
      return createHandler(statement, (ctx) => {
        // APIM: a backend chosen by backend-id in another scope cannot be overridden by base-url.
        const chosenBy = ctx.state.get(STATE_KEY);
        if (ctx.backendId !== null && chosenBy !== undefined && chosenBy !== scope) return;
        ctx.backendUrl = url;
        ctx.backendId = null;
        ctx.state.delete(STATE_KEY);
      });
    }
    const backend = env.backends.get(config.backendId);
    if (backend === undefined) {
      // Only visible with the whole folder loaded; the compiler turns this into a load diagnostic.
      const known = [...env.backends.keys()].sort();
      throw new GatehouseError(
        'GH_CONFIG_BACKEND_NOT_FOUND',
        `<set-backend-service backend-id="${config.backendId}">: no backend with that id in backends/${known.length > 0 ? ` (defined: ${known.join(', ')})` : ' (none defined)'}`,
      );
    }
    const id = backend.id;
    const url = backend.url.replace(/\/+$/, '');
    return createHandler(statement, (ctx) => {
      ctx.backendUrl = url;
      ctx.backendId = id;
      ctx.state.set(STATE_KEY, scope);
    });
  },
});
