import { SECTION_NAMES, type ParsedStatement, type SectionName } from './define-policy.ts';
import type { PolicyElement } from './element.ts';

/**
 * Prints an effective policy as APIM's "Calculate effective policy" composes it: one
 * `<policies>` document with every `<base/>` replaced and fragments expanded, each top-level
 * statement preceded by a comment naming the scope and file:line it came from.
 */
export function printEffectivePolicy(effective: Readonly<Record<SectionName, readonly ParsedStatement[]>>): string {
  const lines: string[] = ['<policies>'];
  for (const section of SECTION_NAMES) {
    const statements = effective[section];
    if (statements.length === 0) {
      lines.push(`  <${section} />`);
      continue;
    }
    lines.push(`  <${section}>`);
    for (const statement of statements) {
      const { file, line } = statement.element.location;
      lines.push(`    <!-- ${statement.scope} · ${file}:${line} -->`);
      printElement(statement.element, 4, lines);
    }
    lines.push(`  </${section}>`);
  }
  lines.push('</policies>');
  return lines.join('\n') + '\n';
}

function printElement(element: PolicyElement, indent: number, lines: string[]): void {
  const pad = ' '.repeat(indent);
  const attributes = element.attributes.map((a) => ` ${a.name}="${escapeAttribute(a.value)}"`).join('');
  const text = element.text.trim();
  if (element.children.length === 0 && text === '') {
    lines.push(`${pad}<${element.name}${attributes} />`);
    return;
  }
  if (element.children.length === 0) {
    lines.push(`${pad}<${element.name}${attributes}>${escapeText(text)}</${element.name}>`);
    return;
  }
  lines.push(`${pad}<${element.name}${attributes}>`);
  if (text !== '') lines.push(`${pad}  ${escapeText(text)}`);
  for (const child of element.children) printElement(child, indent + 2, lines);
  lines.push(`${pad}</${element.name}>`);
}

function escapeAttribute(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/"/g, '&quot;');
}

function escapeText(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
