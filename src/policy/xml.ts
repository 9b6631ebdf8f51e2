import { SaxesParser } from 'saxes';
import type { DiagnosticBag, SourceLocation } from './diagnostics.ts';
import type { PolicyAttribute, PolicyElement } from './element.ts';

/**
 * Reads a policy file the way APIM does, not as strict XML.
 *
 * About a quarter of real policy files put raw `"`, `&&`, `&`, `<` or `>` inside `@(…)` / `@{…}`
 * expressions, and APIM accepts them (fixtures/real-policies/README.md). So before the XML parser
 * (saxes) sees the text, every expression span is found with a small C# lexer and its XML-special
 * characters are swapped for private-use characters of the same length. Lengths never change, so
 * every line and column the parser reports is the author's; the swap is undone in attribute values
 * and text after parsing.
 *
 * Positions of start tags, attributes and text come from the same pre-scan (saxes reports where
 * it *is*, not where a tag began); saxes provides well-formedness, entity decoding and errors.
 */
export function readPolicyXml(source: string, file: string, diagnostics: DiagnosticBag): PolicyElement | undefined {
  const text = source.charCodeAt(0) === 0xfeff ? source.slice(1) : source;
  const lines = lineStarts(text);
  const at = (offset: number): SourceLocation => toLocation(file, lines, offset);

  reportTemplatePlaceholders(text, at, diagnostics);

  const scan = scanDocument(text, at, diagnostics);
  if (scan === undefined) return undefined;
  return parseProtected(scan, file, at, diagnostics);
}

// ── Private-use stand-ins for characters XML would misread inside expressions ──────────────
const PROTECT: Record<string, string> = { '<': '\uE000', '>': '\uE001', '&': '\uE002', '"': '\uE003', "'": '\uE004' };
const RESTORE_RE = /[\uE000-\uE004]/g;
const RESTORE: Record<string, string> = { '\uE000': '<', '\uE001': '>', '\uE002': '&', '\uE003': '"', '\uE004': "'" };

function restore(value: string): string {
  return value.replace(RESTORE_RE, (c) => RESTORE[c] ?? c);
}

const ENTITY_RE = /^&(?:amp|lt|gt|quot|apos|#[0-9]+|#x[0-9a-fA-F]+);/;

/**
 * Deepest element nesting accepted. Every later step (named values, fragments, parse, compile,
 * effective-policy printing) walks the tree recursively; a few thousand levels overflow the stack.
 * Real policy documents nest fewer than 20 levels.
 */
export const MAX_ELEMENT_DEPTH = 256;
/** Deepest nesting of interpolated strings inside an expression (`$"{$"{…}"}"`); the scan recurses per level. */
export const MAX_INTERPOLATION_DEPTH = 32;
/** findExpressionEnd's answer when interpolated strings nest deeper than MAX_INTERPOLATION_DEPTH. */
export const EXPRESSION_TOO_DEEP = -2;

// ── Line/column bookkeeping ──────────────────────────────────────────────────────────────
function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) starts.push(i + 1);
  return starts;
}

function toLocation(file: string, starts: readonly number[], offset: number): SourceLocation {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if ((starts[mid] ?? 0) <= offset) lo = mid;
    else hi = mid - 1;
  }
  return { file, line: lo + 1, column: offset - (starts[lo] ?? 0) + 1 };
}

// ── Things refused before any parsing ─────────────────────────────────────────────────────
const TEMPLATE_RE = /\$\{[^}\n]*\}?|%\{[^}\n]*\}?/g;
/** A DTD or entity declaration after `<!` (outside comments, CDATA and expressions). */
const DTD_RE = /^(DOCTYPE|ENTITY)/i;

/**
 * Unrendered templates are reported, and the read goes on so other problems in the file surface
 * too. (DTDs and entity declarations are refused by the pre-scan, which knows what is markup: an
 * HTML page in a CDATA body, `<![CDATA[<!DOCTYPE html>…]]>`, is text and stays allowed.)
 */
function reportTemplatePlaceholders(text: string, at: (o: number) => SourceLocation, diagnostics: DiagnosticBag): void {
  let found = 0;
  for (const m of text.matchAll(TEMPLATE_RE)) {
    if (found++ >= 10) break;
    diagnostics.report(
      'GH_POLICY_TEMPLATE_PLACEHOLDER',
      at(m.index),
      `template placeholder '${m[0].slice(0, 60)}' was never rendered (Terraform/deploy-time templating); render the template before loading it`,
    );
  }
  // Keep reading after placeholders: rendered or not, the rest of the file may hold other problems.
}

// ── The pre-scan: expression protection + positions ──────────────────────────────────────

interface TagInfo {
  readonly offset: number;
  /** Attribute name → [name offset, value offset]. */
  readonly attributes: Map<string, [number, number]>;
  /** Offset of the first non-whitespace direct text, or -1. */
  textOffset: number;
}

interface ScanResult {
  readonly protectedText: string;
  /** Start tags in document order (the order saxes reports them). */
  readonly tags: TagInfo[];
}

const enum Ch {
  Lt = 60, Gt = 62, Slash = 47, Quote = 34, Apos = 39, At = 64, LParen = 40, RParen = 41,
  LBrace = 123, RBrace = 125, Bang = 33, Question = 63, Backslash = 92, Dollar = 36, Amp = 38,
}

function scanDocument(text: string, at: (o: number) => SourceLocation, diagnostics: DiagnosticBag): ScanResult | undefined {
  const out = text.split('');
  const tags: TagInfo[] = [];
  const open: TagInfo[] = [];
  let ok = true;
  let i = 0;
  const n = text.length;

  const protectSpan = (start: number): number => {
    const end = findExpressionEnd(text, start);
    if (end === EXPRESSION_TOO_DEEP) {
      diagnostics.report('GH_XML_TOO_DEEP', at(start), `policy expression nests interpolated strings more than ${MAX_INTERPOLATION_DEPTH} levels deep`);
      ok = false;
      return n;
    }
    if (end < 0) {
      diagnostics.report('GH_POLICY_EXPRESSION_UNTERMINATED', at(start), `policy expression '${text.slice(start, start + 30).split('\n')[0]}…' never closes its ${text[start + 1] === '(' ? "'('" : "'{'"}`);
      ok = false;
      return n;
    }
    for (let k = start; k < end; k++) {
      const c = text[k] as string;
      if (c === '&' && ENTITY_RE.test(text.slice(k, k + 10))) continue;
      const p = PROTECT[c];
      if (p !== undefined) out[k] = p;
    }
    return end;
  };

  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === Ch.Lt) {
      if (text.startsWith('<!--', i)) {
        const end = text.indexOf('-->', i + 4);
        i = end < 0 ? n : end + 3;
        continue;
      }
      if (text.startsWith('<![CDATA[', i)) {
        const top = open[open.length - 1];
        if (top && top.textOffset < 0) top.textOffset = i + 9;
        const end = text.indexOf(']]>', i + 9);
        i = end < 0 ? n : end + 3;
        continue;
      }
      if (text.charCodeAt(i + 1) === Ch.Bang) {
        // DTDs and entity declarations are refused (XXE, billion laughs); reading stops here.
        const dtd = DTD_RE.exec(text.slice(i + 2, i + 9));
        if (dtd) {
          diagnostics.report('GH_XML_DTD_FORBIDDEN', at(i), `<!${dtd[1]}> is not allowed in a policy document: DTDs and entity declarations are refused`);
          return undefined;
        }
      }
      if (text.charCodeAt(i + 1) === Ch.Question || text.charCodeAt(i + 1) === Ch.Bang) {
        const end = text.indexOf('>', i + 2);
        i = end < 0 ? n : end + 1;
        continue;
      }
      if (text.charCodeAt(i + 1) === Ch.Slash) {
        open.pop();
        const end = text.indexOf('>', i + 2);
        i = end < 0 ? n : end + 1;
        continue;
      }
      // A start tag: read name, attributes (protecting expressions in values), '>' or '/>'.
      const tag: TagInfo = { offset: i, attributes: new Map(), textOffset: -1 };
      tags.push(tag);
      let j = i + 1;
      while (j < n && !isSpace(text.charCodeAt(j)) && text.charCodeAt(j) !== Ch.Gt && text.charCodeAt(j) !== Ch.Slash) j++;
      let selfClosing = false;
      while (j < n) {
        const d = text.charCodeAt(j);
        if (d === Ch.Gt) { j++; break; }
        if (d === Ch.Slash && text.charCodeAt(j + 1) === Ch.Gt) { selfClosing = true; j += 2; break; }
        if (isSpace(d)) { j++; continue; }
        // attribute name
        const nameStart = j;
        while (j < n && !isSpace(text.charCodeAt(j)) && text.charCodeAt(j) !== 61 /* = */ && text.charCodeAt(j) !== Ch.Gt && text.charCodeAt(j) !== Ch.Slash) j++;
        const name = text.slice(nameStart, j);
        while (j < n && isSpace(text.charCodeAt(j))) j++;
        if (text.charCodeAt(j) !== 61) { if (name.length === 0) j++; continue; } // malformed: saxes will say so
        j++;
        while (j < n && isSpace(text.charCodeAt(j))) j++;
        const quote = text.charCodeAt(j);
        if (quote !== Ch.Quote && quote !== Ch.Apos) continue;
        const valueStart = j + 1;
        tag.attributes.set(name, [nameStart, valueStart]);
        j = valueStart;
        while (j < n && text.charCodeAt(j) !== quote) {
          if (text.charCodeAt(j) === Ch.At && isExpressionOpener(text.charCodeAt(j + 1))) {
            j = protectSpan(j);
            continue;
          }
          if (text.charCodeAt(j) === Ch.Lt) break; // an unclosed quote; stop before the next tag
          j++;
        }
        if (text.charCodeAt(j) === quote) j++;
      }
      if (!selfClosing) open.push(tag);
      i = j;
      continue;
    }
    if (c === Ch.At && isExpressionOpener(text.charCodeAt(i + 1))) {
      const top = open[open.length - 1];
      if (top && top.textOffset < 0) top.textOffset = i;
      i = protectSpan(i);
      continue;
    }
    if (!isSpace(c)) {
      const top = open[open.length - 1];
      if (top && top.textOffset < 0) top.textOffset = i;
    }
    i++;
  }
  if (!ok) return undefined;
  return { protectedText: out.join(''), tags };
}

function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13;
}

function isExpressionOpener(c: number): boolean {
  return c === Ch.LParen || c === Ch.LBrace;
}

/**
 * Given the offset of '@' in `@(` or `@{`, returns the offset just past the matching close,
 * skipping C# strings (regular, verbatim, interpolated), char literals and comments.
 * XML-escaped quotes (`&quot;`, `&apos;`) count as quotes: some files write them that way.
 * Returns -1 when it never closes, EXPRESSION_TOO_DEEP when interpolated strings nest too deeply.
 */
export function findExpressionEnd(text: string, atOffset: number): number {
  const openCh = text.charCodeAt(atOffset + 1);
  const closeCh = openCh === Ch.LParen ? Ch.RParen : Ch.RBrace;
  let depth = 0;
  let i = atOffset + 1;
  const n = text.length;
  while (i < n) {
    const c = text.charCodeAt(i);
    const q = quoteAt(text, i);
    if (q !== null) {
      const prefix = stringPrefix(text, i);
      const end = skipString(text, i, q, prefix.verbatim, prefix.interpolated, 0);
      if (end < 0) return end;
      i = end;
      continue;
    }
    if (c === Ch.Slash && text.charCodeAt(i + 1) === Ch.Slash) {
      const end = text.indexOf('\n', i);
      if (end < 0) return -1;
      i = end + 1;
      continue;
    }
    if (c === Ch.Slash && text.charCodeAt(i + 1) === 42 /* * */) {
      const end = text.indexOf('*/', i + 2);
      if (end < 0) return -1;
      i = end + 2;
      continue;
    }
    if (c === openCh) depth++;
    else if (c === closeCh) {
      depth--;
      if (depth === 0) return i + 1;
    }
    i++;
  }
  return -1;
}

interface Quote {
  /** '"' or "'" */
  readonly char: string;
  /** How many source characters the opening quote takes (1, or 6 for &quot;). */
  readonly width: number;
}

function quoteAt(text: string, i: number): Quote | null {
  const c = text.charCodeAt(i);
  if (c === Ch.Quote) return { char: '"', width: 1 };
  if (c === Ch.Apos) return { char: "'", width: 1 };
  if (c === Ch.Amp) {
    if (text.startsWith('&quot;', i)) return { char: '"', width: 6 };
    if (text.startsWith('&apos;', i)) return { char: "'", width: 6 };
  }
  return null;
}

function stringPrefix(text: string, quoteOffset: number): { verbatim: boolean; interpolated: boolean } {
  let verbatim = false;
  let interpolated = false;
  for (let k = quoteOffset - 1; k >= 0 && k >= quoteOffset - 2; k--) {
    const c = text.charCodeAt(k);
    if (c === Ch.At && !verbatim) verbatim = true;
    else if (c === Ch.Dollar && !interpolated) interpolated = true;
    else break;
  }
  return { verbatim, interpolated };
}

/**
 * Returns the offset just past the closing quote, -1 when the string never closes, or
 * EXPRESSION_TOO_DEEP. `depth` counts the interpolation holes this string sits in.
 */
function skipString(text: string, start: number, quote: Quote, verbatim: boolean, interpolated: boolean, depth: number): number {
  const n = text.length;
  let i = start + quote.width;
  if (quote.char === "'") {
    // A C# char literal: 'x', '\n', '\''. Bounded so a stray apostrophe cannot swallow the file.
    const limit = Math.min(n, i + 12);
    while (i < limit) {
      if (text.charCodeAt(i) === Ch.Backslash) { i += 2; continue; }
      const q = quoteAt(text, i);
      if (q && q.char === "'") return i + q.width;
      i++;
    }
    return start + quote.width; // not a char literal after all; treat the quote as plain text
  }
  while (i < n) {
    const c = text.charCodeAt(i);
    if (!verbatim && c === Ch.Backslash) { i += 2; continue; }
    const q = quoteAt(text, i);
    if (q && q.char === '"') {
      if (verbatim) {
        const next = quoteAt(text, i + q.width);
        if (next && next.char === '"') { i += q.width + next.width; continue; } // "" escape
      }
      return i + q.width;
    }
    if (interpolated && c === Ch.LBrace) {
      if (text.charCodeAt(i + 1) === Ch.LBrace) { i += 2; continue; }
      if (depth >= MAX_INTERPOLATION_DEPTH) return EXPRESSION_TOO_DEEP;
      const end = skipInterpolationHole(text, i, depth + 1);
      if (end < 0) return end;
      i = end;
      continue;
    }
    if (!verbatim && c === 10) return -1; // regular strings cannot span lines
    i++;
  }
  return -1;
}

/** `holes` is how many interpolation holes deep this one is (bounded by MAX_INTERPOLATION_DEPTH). */
function skipInterpolationHole(text: string, start: number, holes: number): number {
  let depth = 0;
  let i = start;
  while (i < text.length) {
    const q = quoteAt(text, i);
    if (q !== null) {
      const prefix = stringPrefix(text, i);
      const end = skipString(text, i, q, prefix.verbatim, prefix.interpolated, holes);
      if (end < 0) return end;
      i = end;
      continue;
    }
    const c = text.charCodeAt(i);
    if (c === Ch.LBrace) depth++;
    else if (c === Ch.RBrace) {
      depth--;
      if (depth === 0) return i + 1;
    }
    i++;
  }
  return -1;
}

// ── The XML parse proper ──────────────────────────────────────────────────────────────────

interface Building {
  name: string;
  attributes: PolicyAttribute[];
  children: PolicyElement[];
  text: string;
  textLocation: SourceLocation | undefined;
  location: SourceLocation;
}

function parseProtected(scan: ScanResult, file: string, at: (o: number) => SourceLocation, diagnostics: DiagnosticBag): PolicyElement | undefined {
  const parser = new SaxesParser({ xmlns: false, position: true });
  const stack: Building[] = [];
  let root: PolicyElement | undefined;
  let tagIndex = 0;
  let failed = false;

  parser.on('error', (err) => {
    if (failed) return;
    failed = true;
    const message = err.message.replace(/^(?:[^:\n]*:)?\d+:\d+: /, '');
    diagnostics.report('GH_XML_MALFORMED', { file, line: parser.line, column: parser.columnIndex + 1 }, `malformed XML: ${message}`);
  });
  parser.on('doctype', () => {
    // Unreachable after the pre-scan's refusal, kept as a second lock.
    if (!failed) diagnostics.report('GH_XML_DTD_FORBIDDEN', { file, line: parser.line, column: parser.columnIndex + 1 }, 'DTDs are not allowed');
    failed = true;
  });
  parser.on('opentag', (node) => {
    if (failed) return;
    const info = scan.tags[tagIndex++];
    const tagOffset = info?.offset ?? parser.position;
    if (stack.length >= MAX_ELEMENT_DEPTH) {
      failed = true;
      diagnostics.report('GH_XML_TOO_DEEP', at(tagOffset), `<${node.name}> is nested more than ${MAX_ELEMENT_DEPTH} elements deep`);
      return;
    }
    const attributes: PolicyAttribute[] = [];
    for (const [name, raw] of Object.entries(node.attributes)) {
      const pos = info?.attributes.get(name);
      const location = at(pos ? pos[0] : tagOffset);
      attributes.push({ name, value: restore(String(raw)), location, valueLocation: pos ? at(pos[1]) : location });
    }
    const building: Building = {
      name: node.name,
      attributes,
      children: [],
      text: '',
      textLocation: info && info.textOffset >= 0 ? at(info.textOffset) : undefined,
      location: at(tagOffset),
    };
    if (node.isSelfClosing) close(building);
    else stack.push(building);
  });
  parser.on('text', (t) => {
    const top = stack[stack.length - 1];
    if (top) top.text += restore(t);
  });
  parser.on('cdata', (t) => {
    const top = stack[stack.length - 1];
    if (top) top.text += t;
  });
  parser.on('closetag', (node) => {
    if (node.isSelfClosing) return; // already closed in 'opentag'
    const building = stack.pop();
    if (building) close(building);
  });

  function close(b: Building): void {
    const element: PolicyElement = Object.freeze({
      name: b.name,
      attributes: Object.freeze(b.attributes),
      children: Object.freeze(b.children),
      text: b.text,
      textLocation: b.textLocation,
      location: b.location,
    });
    const parent = stack[stack.length - 1];
    if (parent) parent.children.push(element);
    else root = element;
  }

  try {
    parser.write(scan.protectedText).close();
  } catch {
    // saxes reports through 'error' first; a throw after that is the same problem.
  }
  if (failed) return undefined;
  if (root === undefined) {
    diagnostics.report('GH_XML_MALFORMED', { file, line: 1, column: 1 }, 'malformed XML: the document has no root element');
  }
  return root;
}
