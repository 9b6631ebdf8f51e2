/**
 * Test helpers for policy definitions: parse an XML snippet with the real reader and the real
 * ParseContext, compile it with a stub environment. Used by every policy's own tests.
 */
import { DiagnosticBag, type Diagnostic } from './diagnostics.ts';
import type { CompileEnv, CompatSettings } from './compile-env.ts';
import { DEFAULT_COMPAT } from './compile-env.ts';
import type { ParsedStatement, PolicyDefinition, ScopeKind, SectionName } from './define-policy.ts';
import { parseStatementList } from './parse-context.ts';
import { PolicyRegistry } from './registry.ts';
import { readPolicyXml } from './xml.ts';
import type { BackendForwarder, PolicyHandler } from '../pipeline/handler.ts';

export interface ParseForTestResult<C> {
  readonly config: C | undefined;
  readonly statements: readonly ParsedStatement[];
  readonly diagnostics: readonly Diagnostic[];
}

/**
 * Parses `xml` (one policy element, or several) as the children of a `<section>` at `scope`,
 * with `definitions` registered. `file` defaults to 'test.xml'; line 1 is the first line of `xml`.
 */
export function parseForTest<C>(
  xml: string,
  definitions: PolicyDefinition<C> | readonly PolicyDefinition<unknown>[],
  options: { section?: SectionName; scope?: ScopeKind; file?: string } = {},
): ParseForTestResult<C> {
  const diagnostics = new DiagnosticBag();
  const registry = new PolicyRegistry();
  const list = Array.isArray(definitions) ? definitions : [definitions];
  for (const d of list) registry.register(d as PolicyDefinition<unknown>);
  const section = options.section ?? (list[0] as PolicyDefinition<unknown>).sections[0] ?? 'inbound';
  // Wrap so the snippet keeps its own line numbers: the wrapper sits on line 1 before the snippet.
  const root = readPolicyXml(`<test-root>${xml}</test-root>`, options.file ?? 'test.xml', diagnostics);
  const statements = root
    ? parseStatementList(root.children, section, options.scope ?? 'api', options.scope ?? 'api', { registry, diagnostics, skipUnimplemented: false })
    : [];
  return { config: statements[0]?.config as C | undefined, statements, diagnostics: diagnostics.items };
}

/** A forwarder that fails the test if anything tries to reach a backend. */
export const NO_BACKEND: BackendForwarder = {
  forward() {
    return Promise.reject(new Error('no backend in this test'));
  },
};

export function compileEnvForTest(overrides: { compat?: Partial<CompatSettings>; forwarder?: BackendForwarder; backends?: CompileEnv['backends'] } = {}): CompileEnv {
  const env: CompileEnv = {
    backends: overrides.backends ?? new Map(),
    forwarder: overrides.forwarder ?? NO_BACKEND,
    compat: { ...DEFAULT_COMPAT, ...overrides.compat },
    compileStatements: (statements) => statements.map((s) => s.definition.compile(s.config, env, s)),
  };
  return env;
}

/** Parses and compiles; throws if parsing reported an error (tests of runtime behaviour want a clean config). */
export function compileForTest(
  xml: string,
  definitions: PolicyDefinition<unknown> | readonly PolicyDefinition<unknown>[],
  options: { section?: SectionName; scope?: ScopeKind; env?: CompileEnv } = {},
): PolicyHandler[] {
  const parsed = parseForTest(xml, definitions, options);
  const errors = parsed.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length > 0) throw new Error(`unexpected diagnostics: ${errors.map((e) => `${e.code} ${e.message}`).join('; ')}`);
  const env = options.env ?? compileEnvForTest();
  return parsed.statements.map((s) => s.definition.compile(s.config, env, s));
}
