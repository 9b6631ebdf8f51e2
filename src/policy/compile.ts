import { GatehouseError } from '../errors.ts';
import type { PolicyHandler } from '../pipeline/handler.ts';
import type { CompiledPipeline } from '../pipeline/pipeline.ts';
import type { CompileEnv } from './compile-env.ts';
import type { ParsedStatement, SectionName } from './define-policy.ts';
import type { DiagnosticBag } from './diagnostics.ts';
import type { EffectiveSections } from './scopes.ts';

/**
 * Compiles effective sections into a pipeline. Handlers are cached per parsed statement, so a
 * global policy shared by 4,000 operations is compiled once and its handler shared (handlers are
 * immutable; per-request state lives on the context).
 */
export class PipelineCompiler {
  readonly #cache = new Map<ParsedStatement, PolicyHandler | null>();
  readonly #diagnostics: DiagnosticBag;
  readonly env: CompileEnv;

  constructor(env: Omit<CompileEnv, 'compileStatements'>, diagnostics: DiagnosticBag) {
    this.#diagnostics = diagnostics;
    this.env = { ...env, compileStatements: (statements) => this.#compileList(statements) };
  }

  compile(effective: EffectiveSections): CompiledPipeline {
    const inbound = this.#compileList(effective.inbound);
    return Object.freeze({
      inbound,
      backend: this.#compileList(effective.backend),
      outbound: this.#compileList(effective.outbound),
      onError: this.#compileList(effective['on-error']),
      // The top-level cors policies of the effective inbound, in order: what a preflight consults (§1.7, §1.9).
      corsHandlers: Object.freeze(inbound.filter((h) => h.name === 'cors')),
      effective,
    });
  }

  #compileList(statements: readonly ParsedStatement[]): readonly PolicyHandler[] {
    const out: PolicyHandler[] = [];
    for (const statement of statements) {
      const handler = this.#compileOne(statement);
      if (handler) out.push(handler);
    }
    return Object.freeze(out);
  }

  #compileOne(statement: ParsedStatement): PolicyHandler | null {
    const cached = this.#cache.get(statement);
    if (cached !== undefined) return cached;
    let handler: PolicyHandler | null = null;
    try {
      handler = statement.definition.compile(statement.config, this.env, statement);
    } catch (err) {
      // Definitions throw GatehouseError for problems only visible with the whole config (an unknown backend-id).
      if (err instanceof GatehouseError) this.#diagnostics.report(err.code, statement.element, err.message);
      else throw err;
    }
    this.#cache.set(statement, handler);
    return handler;
  }
}

export type { SectionName };
