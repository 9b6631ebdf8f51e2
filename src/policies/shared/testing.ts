/**
 * Table runners for the built-in policies' tests: a parse table (XML → config, or diagnostics
 * with line:column) and helpers for behaviour tables. Test-only.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Diagnostic } from '../../policy/diagnostics.ts';
import type { PolicyDefinition, ScopeKind, SectionName } from '../../policy/define-policy.ts';
import { parseForTest } from '../../policy/testing.ts';

/**
 * `GH_CODE line:column`, prefixed with the severity when it is not an error. `lineOffset` undoes
 * the newline parseTable puts before each snippet.
 */
export function formatForTable(d: Diagnostic, lineOffset = 0): string {
  const where = d.location ? ` ${d.location.line - lineOffset}:${d.location.column}` : '';
  return `${d.severity === 'error' ? '' : `${d.severity} `}${d.code}${where}`;
}

export interface ParseCase<C> {
  readonly name: string;
  readonly xml: string;
  readonly section?: SectionName;
  readonly scope?: ScopeKind;
  /** The expected config; `undefined` when the statement is dropped. Omit to skip the check. */
  readonly config?: C | undefined;
  /** Every expected diagnostic, in order (`[]` for none). */
  readonly diagnostics: readonly string[];
}

/** One node:test per row: parses `xml` with `definition` (plus `extra` definitions) and compares. */
export function parseTable<C>(definition: PolicyDefinition<C>, cases: readonly ParseCase<C>[], extra: readonly PolicyDefinition<unknown>[] = []): void {
  for (const c of cases) {
    test(`parse <${definition.name}>: ${c.name}`, () => {
      const options: { section?: SectionName; scope?: ScopeKind } = {};
      if (c.section !== undefined) options.section = c.section;
      if (c.scope !== undefined) options.scope = c.scope;
      // parseForTest wraps the snippet in `<test-root>` on its first line, which shifts line-1
      // columns; starting the snippet on a new line keeps every column as the table writes it.
      const result = parseForTest<C>(`\n${c.xml}`, [definition as PolicyDefinition<unknown>, ...extra], options);
      assert.deepEqual(result.diagnostics.map((d) => formatForTable(d, 1)), c.diagnostics);
      if ('config' in c) assert.deepEqual(result.config, c.config);
    });
  }
}
