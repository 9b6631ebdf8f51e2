/**
 * Load-time warnings about where `<cors>` ends up in an effective inbound section — the two ways a
 * correct-looking cors policy silently loses (apim-semantics.md §1.9, §9.2):
 * - GH_CORS_NOT_FIRST: other policies run before it on actual requests. If one of them answers or
 *   fails (validate-jwt, ip-filter, rate-limit, return-response …), cors never ran and the browser
 *   sees no CORS headers. APIM: "You may experience unexpected behavior if the cors policy is not
 *   the first policy in the inbound section."
 * - GH_CORS_SHADOWED: a later top-level cors in the same effective inbound. Only the first decides
 *   ("Generally, only the first cors policy is applied"); a later one is consulted only for an
 *   unmatched preflight when the first has terminate-unmatched-request="false".
 * Each `<cors>` is reported once, whatever number of operations inherit it.
 */
import type { ParsedStatement } from '../../policy/define-policy.ts';
import type { DiagnosticBag } from '../../policy/diagnostics.ts';

export class CorsPlacementLint {
  readonly #reported = new Set<string>();
  readonly #diagnostics: DiagnosticBag;

  constructor(diagnostics: DiagnosticBag) {
    this.#diagnostics = diagnostics;
  }

  /** Checks one effective inbound section; `context` names it in messages ('api:echo › operation:get'). */
  check(inbound: readonly ParsedStatement[], context: string): void {
    const first = inbound.findIndex((s) => s.definition.name === 'cors');
    if (first < 0) return;
    const cors = inbound[first] as ParsedStatement;
    if (first > 0) {
      const before = inbound.slice(0, first).map((s) => `<${s.definition.name}> (${s.scope}, ${where(s)})`);
      this.#once('GH_CORS_NOT_FIRST', cors, `<cors> is not first in the effective inbound of ${context}: ${before.join(', ')} run${before.length === 1 ? 's' : ''} before it on actual requests; if one answers or fails, the response has no CORS headers and the browser hides it. Move <cors> (or <base/>) so it runs first`);
    }
    for (const later of inbound.slice(first + 1)) {
      if (later.definition.name !== 'cors') continue;
      this.#once('GH_CORS_SHADOWED', later, `this <cors> follows the <cors> at ${where(cors)} (${cors.scope}) in the effective inbound of ${context}: only the first decides; this one is consulted only for preflights the first does not match when it has terminate-unmatched-request="false"`);
    }
  }

  #once(code: 'GH_CORS_NOT_FIRST' | 'GH_CORS_SHADOWED', statement: ParsedStatement, message: string): void {
    const key = `${code}@${where(statement)}:${statement.element.location.column}`;
    if (this.#reported.has(key)) return;
    this.#reported.add(key);
    this.#diagnostics.report(code, statement.element, message, 'warning');
  }
}

function where(statement: ParsedStatement): string {
  return `${statement.element.location.file}:${statement.element.location.line}`;
}
