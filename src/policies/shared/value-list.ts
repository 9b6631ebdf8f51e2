/**
 * The statement shape set-header and set-query-parameter share:
 * `<x name="…" exists-action="override|skip|append|delete"><value>…</value>…</x>`.
 */
import type { Locatable } from '../../policy/diagnostics.ts';
import type { ParseContext } from '../../policy/define-policy.ts';
import type { PolicyElement } from '../../policy/element.ts';
import { attributeValueAt, checkChildren, enumAttribute } from './attributes.ts';

export const EXISTS_ACTIONS = ['override', 'skip', 'append', 'delete'] as const;
export type ExistsAction = (typeof EXISTS_ACTIONS)[number];

export interface ValueList {
  readonly name: string;
  readonly existsAction: ExistsAction;
  /** Literal `<value>` texts, trimmed, in document order. */
  readonly values: readonly string[];
  /** Where each value's text starts (same order as `values`), for diagnostics about its content. */
  readonly valueAt: readonly Locatable[];
  /** True when the element has at least one `<value>` child (even one we could not read). */
  readonly hasValueElements: boolean;
}

/**
 * Reads name, exists-action and the `<value>` children. Undefined when the name is missing or
 * not literal (reported); values that are expressions are reported and left out.
 */
export function parseValueList(element: PolicyElement, ctx: ParseContext): ValueList | undefined {
  ctx.checkAttributes(element, ['name', 'exists-action']);
  checkChildren(element, ctx, ['value']);
  const name = ctx.literalAttribute(element, 'name', { required: true });
  const existsAction = enumAttribute(element, 'exists-action', ctx, EXISTS_ACTIONS, 'override');
  const values: string[] = [];
  const valueAt: Locatable[] = [];
  let hasValueElements = false;
  for (const child of element.children) {
    if (child.name !== 'value') continue;
    hasValueElements = true;
    ctx.checkAttributes(child, []);
    for (const nested of child.children) {
      ctx.report('GH_POLICY_CHILD_INVALID', nested, `<value> takes text only; <${nested.name}> is not allowed inside it`);
    }
    const text = ctx.literalText(child);
    if (text === undefined) continue;
    values.push(text);
    valueAt.push(child.textLocation ?? child);
  }
  if (existsAction === 'delete' && hasValueElements) {
    ctx.report('GH_POLICY_CHILD_INVALID', element, `<${element.name} exists-action="delete">: the <value> elements are ignored`, 'warning');
  }
  if (name === undefined) return undefined;
  if (name === '') {
    ctx.report('GH_POLICY_ATTR_INVALID', attributeValueAt(element, 'name'), `<${element.name}>: 'name' must not be empty`);
    return undefined;
  }
  return { name, existsAction, values, valueAt, hasValueElements };
}
