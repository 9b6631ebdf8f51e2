import type { DiagnosticBag } from './diagnostics.ts';
import type { PolicyAttribute, PolicyElement } from './element.ts';

/**
 * Looks a named value up by its display name (what `{{…}}` references). Returns undefined when
 * no such named value exists, and null when it exists but has no value here (a Key Vault secret
 * the overlay did not fill).
 */
export type NamedValueLookup = (displayName: string) => string | null | undefined;

const REFERENCE_RE = /\{\{([^{}]+?)\}\}/g;

/**
 * Substitutes `{{name}}` in attribute values and text. APIM substitutes the raw text before it
 * parses; gatehouse substitutes after parsing, in values and text only, which gives the same
 * result for every value that is not itself XML markup, and keeps every position exact
 * (decision recorded in docs/policy-documents.md).
 */
export function substituteNamedValues(element: PolicyElement, lookup: NamedValueLookup, diagnostics: DiagnosticBag): PolicyElement {
  let changed = false;
  const attributes = element.attributes.map((attribute): PolicyAttribute => {
    if (!attribute.value.includes('{{')) return attribute;
    const value = substitute(attribute.value, lookup, diagnostics, attribute);
    if (value === attribute.value) return attribute;
    changed = true;
    return { ...attribute, value };
  });
  let text = element.text;
  if (text.includes('{{')) {
    text = substitute(text, lookup, diagnostics, element.textLocation ? { location: element.textLocation } : element);
    if (text !== element.text) changed = true;
  }
  const children = element.children.map((child) => {
    const next = substituteNamedValues(child, lookup, diagnostics);
    if (next !== child) changed = true;
    return next;
  });
  return changed ? { ...element, attributes, children, text } : element;
}

function substitute(value: string, lookup: NamedValueLookup, diagnostics: DiagnosticBag, at: { location: PolicyElement['location'] } | PolicyAttribute): string {
  return value.replace(REFERENCE_RE, (whole, rawName: string) => {
    const name = rawName.trim();
    const found = lookup(name);
    const location = 'valueLocation' in at ? at.valueLocation : at.location;
    if (found === undefined) {
      diagnostics.report('GH_NAMED_VALUE_MISSING', location, `named value '{{${name}}}' is not defined (expected 'named values/<name>/namedValueInformation.json' with displayName '${name}', or namedValues in gatehouse.yaml)`);
      return whole;
    }
    if (found === null) {
      diagnostics.report('GH_NAMED_VALUE_NO_VALUE', location, `named value '{{${name}}}' has no value here (a Key Vault secret); give it one under namedValues in gatehouse.yaml`);
      return whole;
    }
    return found;
  });
}
