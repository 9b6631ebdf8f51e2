import type { DiagnosticBag, Locatable } from './diagnostics.ts';
import { SECTION_NAMES, type ScopeKind, type SectionName } from './define-policy.ts';
import type { PolicyElement } from './element.ts';
import { substituteNamedValues, type NamedValueLookup } from './named-values.ts';
import { readPolicyXml } from './xml.ts';

/** A policy file's text and its path relative to the config root. */
export interface PolicyText {
  readonly file: string;
  readonly text: string;
}

/** One section of one document: its statements as written, `<base/>` markers included. */
export interface SectionBlock {
  readonly element: PolicyElement;
  readonly statements: readonly PolicyElement[];
}

/** A `<policies>` document, structurally checked; statements are not parsed yet. */
export interface PolicyDocument {
  readonly file: string;
  readonly scope: ScopeKind;
  readonly sections: ReadonlyMap<SectionName, SectionBlock>;
}

/** Resolves `<include-fragment fragment-id>`; undefined when there is no such fragment. */
export type FragmentLookup = (id: string) => readonly PolicyElement[] | undefined;

export interface ReadDocumentOptions {
  readonly namedValues: NamedValueLookup;
  readonly fragments: FragmentLookup;
  readonly scopePath?: readonly string[];
}

const SECTION_SET = new Set<string>(SECTION_NAMES);

/**
 * Reads a policy document: lenient XML, named values, fragments expanded in place, then the
 * structure APIM enforces on save (root, sections, `<base/>` placement). Everything wrong is
 * reported; the document is returned when it is usable at all.
 */
export function readPolicyDocument(source: PolicyText, scope: ScopeKind, diagnostics: DiagnosticBag, options: ReadDocumentOptions): PolicyDocument | undefined {
  const parsed = readPolicyXml(source.text, source.file, diagnostics);
  if (parsed === undefined) return undefined;
  const root = expandFragments(substituteNamedValues(parsed, options.namedValues, diagnostics), options.fragments, diagnostics, options.scopePath);
  const report = (code: Parameters<DiagnosticBag['report']>[0], at: Locatable, message: string, severity: 'error' | 'warning' | 'info' = 'error') =>
    diagnostics.report(code, at, message, severity, options.scopePath);

  if (root.name !== 'policies') {
    report('GH_POLICY_ROOT_INVALID', root, `the document root is <${root.name}>; a policy document starts with <policies>`);
    return undefined;
  }
  if (root.text.trim() !== '') report('GH_POLICY_TEXT_UNEXPECTED', root, 'text directly inside <policies> is ignored', 'warning');

  const sections = new Map<SectionName, SectionBlock>();
  for (const element of root.children) {
    if (!SECTION_SET.has(element.name)) {
      report('GH_POLICY_SECTION_UNKNOWN', element, `<${element.name}> is not a policy section; <policies> holds <inbound>, <backend>, <outbound> and <on-error>`);
      continue;
    }
    const name = element.name as SectionName;
    if (sections.has(name)) {
      report('GH_POLICY_SECTION_DUPLICATE', element, `<${name}> appears twice; APIM keeps one of each section`);
      continue;
    }
    if (element.text.trim() !== '') report('GH_POLICY_TEXT_UNEXPECTED', element.textLocation ?? element, `text directly inside <${name}> is ignored`, 'warning');
    sections.set(name, { element, statements: checkBase(element, scope, diagnostics, options.scopePath) });
  }
  if (scope !== 'global') {
    for (const name of SECTION_NAMES) {
      if (!sections.has(name)) {
        diagnostics.report(
          'GH_POLICY_SECTION_OMITTED',
          { file: source.file, line: root.location.line, column: root.location.column },
          `<${name}> is omitted; gatehouse treats it as <${name}><base/></${name}> (inherits the parent scope)`,
          'info',
          options.scopePath,
        );
      }
    }
  }
  return { file: source.file, scope, sections };
}

/** `<base/>` is legal once, at the top level of a section, below global scope. */
function checkBase(section: PolicyElement, scope: ScopeKind, diagnostics: DiagnosticBag, scopePath: readonly string[] | undefined): PolicyElement[] {
  const out: PolicyElement[] = [];
  let seen = false;
  for (const statement of section.children) {
    if (statement.name !== 'base') {
      out.push(statement);
      continue;
    }
    if (scope === 'global') {
      diagnostics.report('GH_SCOPE_BASE_AT_GLOBAL', statement, '<base/> at global scope has no parent to inherit from; APIM ignores it, and so does gatehouse', 'warning', scopePath);
      continue;
    }
    if (seen) {
      diagnostics.report('GH_SCOPE_BASE_DUPLICATE', statement, `<base/> appears more than once in <${section.name}>`, 'error', scopePath);
      continue;
    }
    seen = true;
    out.push(statement);
  }
  return out;
}

/**
 * Replaces every `<include-fragment fragment-id="x"/>` (at any depth) with the fragment's
 * statements, as APIM does ("inserted as-is in a policy definition"). Elements keep their own
 * file positions, so a problem inside a fragment points into the fragment file.
 */
function expandFragments(element: PolicyElement, fragments: FragmentLookup, diagnostics: DiagnosticBag, scopePath: readonly string[] | undefined): PolicyElement {
  if (!element.children.some(needsExpansion)) return element;
  const children: PolicyElement[] = [];
  for (const child of element.children) {
    if (child.name !== 'include-fragment') {
      children.push(expandFragments(child, fragments, diagnostics, scopePath));
      continue;
    }
    const idAttribute = child.attributes.find((a) => a.name === 'fragment-id');
    const id = idAttribute?.value.trim();
    if (!id) {
      diagnostics.report('GH_POLICY_ATTR_REQUIRED', child, "<include-fragment> needs the 'fragment-id' attribute", 'error', scopePath);
      continue;
    }
    const body = fragments(id);
    if (body === undefined) {
      diagnostics.report('GH_FRAGMENT_NOT_FOUND', idAttribute ?? child, `policy fragment '${id}' does not exist (expected 'policy fragments/${id}/policy.xml')`, 'error', scopePath);
      continue;
    }
    children.push(...body);
  }
  return { ...element, children };
}

function needsExpansion(element: PolicyElement): boolean {
  return element.name === 'include-fragment' || element.children.some(needsExpansion);
}

/**
 * Reads a fragment file (`<fragment>…</fragment>`) into its statements. Fragments cannot nest
 * other fragments or contain `<base/>` or section elements (APIM policy-fragments docs).
 */
export function readFragment(source: PolicyText, diagnostics: DiagnosticBag, namedValues: NamedValueLookup): PolicyElement[] | undefined {
  if (source.text.length > 512 * 1024) {
    diagnostics.report('GH_FRAGMENT_TOO_LARGE', { file: source.file, line: 1, column: 1 }, `the fragment is ${source.text.length} characters; APIM's limit is 512 KB`);
  }
  const parsed = readPolicyXml(source.text, source.file, diagnostics);
  if (parsed === undefined) return undefined;
  const root = substituteNamedValues(parsed, namedValues, diagnostics);
  if (root.name !== 'fragment') {
    diagnostics.report('GH_POLICY_ROOT_INVALID', root, `a policy fragment's root is <fragment>, not <${root.name}>`);
    return undefined;
  }
  let ok = true;
  const walk = (element: PolicyElement): void => {
    for (const child of element.children) {
      if (child.name === 'include-fragment') {
        diagnostics.report('GH_FRAGMENT_NESTED', child, 'a policy fragment cannot include another fragment (APIM: "a policy fragment can\'t nest another policy fragment")');
        ok = false;
      } else if (child.name === 'base' || SECTION_SET.has(child.name)) {
        diagnostics.report('GH_FRAGMENT_BASE', child, `a policy fragment cannot contain <${child.name}>`);
        ok = false;
      } else walk(child);
    }
  };
  walk(root);
  return ok ? [...root.children] : undefined;
}
