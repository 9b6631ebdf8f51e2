/**
 * Attribute and child-element readers shared by the built-in policies. They report through the
 * ParseContext (with the attribute value's position) and return a usable value, so a policy's
 * `parse` keeps going and the user sees every problem of the element at once.
 */
import type { Locatable } from '../../policy/diagnostics.ts';
import type { ParseContext } from '../../policy/define-policy.ts';
import { getAttribute, type PolicyElement } from '../../policy/element.ts';

/** Where a diagnostic about attribute `name` points: its value when present, else the element. */
export function attributeValueAt(element: PolicyElement, name: string): Locatable {
  return getAttribute(element, name)?.valueLocation ?? element;
}

/**
 * A literal `true`/`false` attribute (ASCII case-insensitive, as .NET's bool.Parse reads it).
 * Absent → `fallback`; anything else is reported as GH_POLICY_ATTR_INVALID and gives `fallback`.
 */
export function booleanAttribute(element: PolicyElement, name: string, ctx: ParseContext, fallback: boolean): boolean {
  const raw = ctx.literalAttribute(element, name);
  if (raw === undefined) return fallback;
  const lower = raw.toLowerCase();
  if (lower === 'true') return true;
  if (lower === 'false') return false;
  ctx.report('GH_POLICY_ATTR_INVALID', attributeValueAt(element, name), `<${element.name} ${name}="${raw}">: expected true or false`);
  return fallback;
}

/** A literal whole-number attribute in [min, max]; undefined when absent or invalid (reported). */
export function integerAttribute(
  element: PolicyElement,
  name: string,
  ctx: ParseContext,
  range: { readonly min: number; readonly max: number },
  options?: { readonly required?: boolean },
): number | undefined {
  const raw = ctx.literalAttribute(element, name, options);
  if (raw === undefined) return undefined;
  const value = /^\d{1,15}$/.test(raw) ? Number(raw) : Number.NaN;
  if (!(value >= range.min && value <= range.max)) {
    ctx.report('GH_POLICY_ATTR_INVALID', attributeValueAt(element, name), `<${element.name} ${name}="${raw}">: expected a whole number from ${range.min} to ${range.max}`);
    return undefined;
  }
  return value;
}

/**
 * One of `allowed` (ASCII case-insensitive; returned in its canonical spelling). Absent or
 * invalid → `fallback`; an invalid value is reported as GH_POLICY_ATTR_INVALID.
 */
export function enumAttribute<T extends string>(element: PolicyElement, name: string, ctx: ParseContext, allowed: readonly T[], fallback: T): T {
  const raw = ctx.literalAttribute(element, name);
  if (raw === undefined) return fallback;
  const lower = raw.toLowerCase();
  for (const candidate of allowed) if (candidate === lower) return candidate;
  ctx.report('GH_POLICY_ATTR_INVALID', attributeValueAt(element, name), `<${element.name} ${name}="${raw}">: expected one of ${allowed.join(', ')}`);
  return fallback;
}

/**
 * Reports child elements not in `allowed` (GH_POLICY_CHILD_INVALID, error: a misplaced policy must
 * not be silently dropped) and stray text (GH_POLICY_TEXT_UNEXPECTED, warning: it is ignored).
 */
export function checkChildren(element: PolicyElement, ctx: ParseContext, allowed: readonly string[]): void {
  for (const child of element.children) {
    if (allowed.includes(child.name)) continue;
    const expected = allowed.length === 0 ? 'no child elements' : allowed.map((n) => `<${n}>`).join(', ');
    ctx.report('GH_POLICY_CHILD_INVALID', child, `<${child.name}> is not allowed inside <${element.name}>; it takes ${expected}`);
  }
  if (element.textLocation !== undefined) {
    ctx.report('GH_POLICY_TEXT_UNEXPECTED', element.textLocation, `<${element.name}> takes no text; the text is ignored`, 'warning');
  }
}
