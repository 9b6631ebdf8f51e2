import type { DiagnosticBag } from './diagnostics.ts';
import { SECTION_NAMES, type ParsedStatement, type ScopeKind, type SectionName } from './define-policy.ts';
import type { PolicyDocument } from './document.ts';
import { parseStatementList, type ParseEnv } from './parse-context.ts';
import type { PolicyRegistry } from './registry.ts';

/** Marks where `<base/>` stood in a parsed section. */
export const BASE = Symbol('base');
export type SectionItem = ParsedStatement | typeof BASE;

/** A document whose sections are parsed into statements; parsed once, shared by every operation. */
export interface ParsedDocument {
  readonly file: string;
  readonly kind: ScopeKind;
  /** 'global', 'product:starter', 'api:echo', 'operation:get-user' */
  readonly label: string;
  /** Only the sections the file has; an omitted section inherits (see compose). */
  readonly sections: ReadonlyMap<SectionName, readonly SectionItem[]>;
}

/** Parses each section of a document with the registry, keeping `<base/>` positions. */
export function parseDocument(
  document: PolicyDocument,
  label: string,
  env: { registry: PolicyRegistry; diagnostics: DiagnosticBag; skipUnimplemented: boolean; scopePath: readonly string[] },
): ParsedDocument {
  const sections = new Map<SectionName, SectionItem[]>();
  const parseEnv: ParseEnv = env;
  for (const [name, block] of document.sections) {
    const items: SectionItem[] = [];
    // Parse the runs between <base/> markers as lists, so once-per-section checks see the whole section.
    const withoutBase = block.statements.filter((s) => s.name !== 'base');
    const parsed = parseStatementList(withoutBase, name, document.scope, label, parseEnv);
    const byElement = new Map(parsed.map((p) => [p.element, p]));
    for (const element of block.statements) {
      if (element.name === 'base') items.push(BASE);
      else {
        const statement = byElement.get(element);
        if (statement) items.push(statement);
      }
    }
    sections.set(name, items);
  }
  return { file: document.file, kind: document.scope, label, sections };
}

/**
 * One request context's scope chain, broadest first: global, [product], api, [operation].
 * `null` documents mean "no policy file at this scope": everything is inherited, as for a new API in APIM.
 */
export interface ScopeChain {
  readonly global: ParsedDocument;
  readonly levels: readonly (ParsedDocument | null)[];
}

export type EffectiveSections = Readonly<Record<SectionName, readonly ParsedStatement[]>>;

/**
 * The effective policy: each `<base/>` replaced, recursively, by the parent scope's effective
 * section (apim-semantics.md §4.3). An omitted section, or a missing file, inherits the parent's
 * section whole. At global scope an omitted section is the default global policy's section.
 */
export function compose(chain: ScopeChain, defaultGlobal: ParsedDocument): EffectiveSections {
  const result = {} as Record<SectionName, readonly ParsedStatement[]>;
  for (const section of SECTION_NAMES) result[section] = effectiveSection(chain, defaultGlobal, section, chain.levels.length - 1);
  return result;
}

function effectiveSection(chain: ScopeChain, defaultGlobal: ParsedDocument, section: SectionName, index: number): readonly ParsedStatement[] {
  if (index < 0) {
    const items = chain.global.sections.get(section) ?? defaultGlobal.sections.get(section) ?? [];
    return items.filter((i): i is ParsedStatement => i !== BASE);
  }
  const document = chain.levels[index];
  const items = document?.sections.get(section);
  if (items === undefined) return effectiveSection(chain, defaultGlobal, section, index - 1);
  const out: ParsedStatement[] = [];
  for (const item of items) {
    if (item === BASE) out.push(...effectiveSection(chain, defaultGlobal, section, index - 1));
    else out.push(item);
  }
  return out;
}
