import type { SourceLocation } from './diagnostics.ts';

/**
 * One attribute as written. `value` has entities decoded and APIM expression text restored
 * exactly as the author wrote it (e.g. `@(context.Request.Headers.GetValueOrDefault("a",""))`).
 */
export interface PolicyAttribute {
  readonly name: string;
  readonly value: string;
  /** Where the attribute's name starts. */
  readonly location: SourceLocation;
  /** Where the attribute's value starts (just after the opening quote). */
  readonly valueLocation: SourceLocation;
}

/**
 * The policy language's syntax tree: a plain, immutable element tree where every node knows
 * its file, line and column. Comments and processing instructions are dropped.
 */
export interface PolicyElement {
  readonly name: string;
  readonly attributes: readonly PolicyAttribute[];
  readonly children: readonly PolicyElement[];
  /** Direct text and CDATA content concatenated in document order, untrimmed; '' when none. */
  readonly text: string;
  /** Where the first non-whitespace direct text starts; undefined when there is none. */
  readonly textLocation: SourceLocation | undefined;
  /** Where the start tag's `<` is. */
  readonly location: SourceLocation;
}

export function getAttribute(element: PolicyElement, name: string): PolicyAttribute | undefined {
  for (const attribute of element.attributes) if (attribute.name === name) return attribute;
  return undefined;
}

/** True when a value is an APIM policy expression: `@(…)` or `@{…}`. */
export function isExpression(value: string): boolean {
  const v = value.trimStart();
  return v.length > 1 && v.charCodeAt(0) === 64 /* @ */ && (v[1] === '(' || v[1] === '{');
}

/** True when a value holds an expression anywhere, e.g. mixed text `Bearer @(…)`. */
export function containsExpression(value: string): boolean {
  return value.includes('@(') || value.includes('@{');
}
