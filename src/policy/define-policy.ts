import type { ErrorCode } from '../errors.ts';
import type { Locatable, Severity, SourceLocation } from './diagnostics.ts';
import type { PolicyAttribute, PolicyElement } from './element.ts';
import type { PolicyHandler } from '../pipeline/handler.ts';
import type { CompileEnv } from './compile-env.ts';

export type SectionName = 'inbound' | 'backend' | 'outbound' | 'on-error';
export const SECTION_NAMES: readonly SectionName[] = ['inbound', 'backend', 'outbound', 'on-error'];

/** Scope kinds, broadest first. Workspace is accepted in tables but gatehouse loads no workspaces yet. */
export type ScopeKind = 'global' | 'workspace' | 'product' | 'api' | 'operation' | 'fragment';
export const ALL_SCOPES: readonly ScopeKind[] = ['global', 'workspace', 'product', 'api', 'operation'];

/**
 * What a policy's `parse` step gets besides its element. Everything it learns about the user's
 * mistakes goes through `report`; `parse` never throws for bad input.
 */
export interface ParseContext {
  readonly section: SectionName;
  readonly scope: ScopeKind;
  report(code: ErrorCode, at: Locatable, message: string, severity?: Severity): void;
  /**
   * A literal attribute value, trimmed. Reports GH_POLICY_ATTR_REQUIRED when `required` and
   * absent, and GH_POLICY_EXPRESSION_UNSUPPORTED (returning undefined) when it is an expression.
   */
  literalAttribute(element: PolicyElement, name: string, options?: { required?: boolean }): string | undefined;
  /** A literal element text, trimmed; same expression rule as literalAttribute. */
  literalText(element: PolicyElement): string | undefined;
  /** Reports GH_POLICY_ATTR_UNKNOWN (warning) for attributes not in `known` (`id` is always known). */
  checkAttributes(element: PolicyElement, known: readonly string[]): void;
  /**
   * Parses a nested policy block (the children of `<when>`, `<otherwise>`, `<retry>` …) with the
   * registry, in the same section and scope. Returns the parsed statements in order.
   */
  parseStatements(children: readonly PolicyElement[]): readonly ParsedStatement[];
}

/** A policy element after its definition's `parse` step. */
export interface ParsedStatement {
  readonly definition: PolicyDefinition<unknown>;
  readonly config: unknown;
  readonly element: PolicyElement;
  /** Which scope document it came from, e.g. 'api:echo'; used for traces and LastError.Scope. */
  readonly scope: string;
}

export interface PolicyDefinition<Config> {
  /** The XML element name, and the registry key. */
  readonly name: string;
  /** Sections APIM allows it in (apim-semantics.md §4.5). */
  readonly sections: readonly SectionName[];
  /** Scopes APIM allows it at. */
  readonly scopes: readonly ScopeKind[];
  /** "This policy can only be used once in a policy section." */
  readonly oncePerSection?: boolean;
  /** XML → plain config. Undefined when the element is too broken to use (problems already reported). */
  parse(element: PolicyElement, ctx: ParseContext): Config | undefined;
  /** Config → runtime handler. All precomputation happens here, once, at load. */
  compile(config: Config, env: CompileEnv, statement: ParsedStatement): PolicyHandler;
}

/** Identity helper that keeps `Config` typed between parse and compile. */
export function definePolicy<Config>(definition: PolicyDefinition<Config>): PolicyDefinition<Config> {
  return definition;
}

export type { PolicyAttribute, PolicyElement, SourceLocation };
