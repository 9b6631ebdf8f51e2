import { ALL_SCOPES, definePolicy } from '../../policy/define-policy.ts';
import { createHandler } from '../shared/handler.ts';
import { encodeUriComponentSafe, joinQuery, queryKey, splitQuery } from '../shared/query.ts';
import { parseValueList, type ExistsAction } from '../shared/value-list.ts';

export interface SetQueryParameterConfig {
  readonly name: string;
  readonly existsAction: ExistsAction;
  readonly values: readonly string[];
}

/**
 * `set-query-parameter`: adds, replaces, keeps or deletes a query parameter of the request sent
 * to the backend (ctx.backendQuery). Several `<value>`s give repeated `name=value` items.
 *
 * @example
 * ```xml
 * <set-query-parameter name="api-version" exists-action="skip">
 *   <value>2024-01-01</value>
 * </set-query-parameter>
 * <set-query-parameter name="subscription-key" exists-action="delete" />
 * ```
 */
export const setQueryParameterPolicy = definePolicy<SetQueryParameterConfig>({
  name: 'set-query-parameter',
  sections: ['inbound', 'backend'],
  scopes: ALL_SCOPES,
  parse(element, ctx) {
    const list = parseValueList(element, ctx);
    if (list === undefined) return undefined;
    // The APIM reference marks <value> required: without one there is nothing to set.
    if (list.existsAction !== 'delete' && !list.hasValueElements) {
      ctx.report('GH_POLICY_CHILD_REQUIRED', element, `<set-query-parameter name="${list.name}" exists-action="${list.existsAction}"> needs at least one <value>`);
      return undefined;
    }
    return { name: list.name, existsAction: list.existsAction, values: list.values };
  },
  compile(config, _env, statement) {
    // Compile once: the key to compare and the encoded `name=value` items to insert.
    const key = queryKey(config.name);
    const encodedName = encodeUriComponentSafe(config.name);
    const items = Object.freeze(config.values.map((v) => `${encodedName}=${encodeUriComponentSafe(v)}`));
    const itemsText = joinQuery(items);
    const action = config.existsAction;
    return createHandler(statement, (ctx) => {
      const query = ctx.backendQuery;
      if (query === '') {
        // Nothing to keep, replace or delete: the common case needs no parsing.
        if (action !== 'delete') ctx.backendQuery = itemsText;
        return;
      }
      const current = splitQuery(query);
      const first = current.findIndex((item) => item.key === key);
      if (first === -1) {
        if (action !== 'delete' && itemsText !== '') ctx.backendQuery = `${query}&${itemsText}`;
        return;
      }
      if (action === 'skip') return;
      if (action === 'append') {
        ctx.backendQuery = `${query}&${itemsText}`;
        return;
      }
      // override / delete: drop every item with this key; override puts the new items where the
      // first one was, so the order of the other parameters does not change.
      const out: string[] = [];
      for (let i = 0; i < current.length; i++) {
        const item = current[i]!;
        if (item.key !== key) out.push(item.raw);
        else if (i === first && action === 'override') out.push(...items);
      }
      ctx.backendQuery = joinQuery(out);
    });
  },
});
