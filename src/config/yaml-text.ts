import { LineCounter, parseDocument } from 'yaml';
import type { Document } from 'yaml';
import type { SourceLocation } from '../policy/diagnostics.ts';

/** A YAML file parsed with positions. */
export interface YamlText {
  readonly document: Document.Parsed;
  readonly lineCounter: LineCounter;
  /** Syntax errors with their positions; messages carry no source excerpt (it could hold a secret). */
  readonly errors: readonly { readonly message: string; readonly location: SourceLocation }[];
  locate(offset: number): SourceLocation;
}

/**
 * Parses YAML 1.2 (core schema, so JSON is accepted too) keeping node ranges for diagnostics.
 * The yaml package's alias limit (maxAliasCount 100) stays on: it stops "billion laughs" files.
 */
export function parseYamlText(file: string, text: string): YamlText {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  const locate = (offset: number): SourceLocation => {
    const { line, col } = lineCounter.linePos(offset);
    return { file, line, column: col };
  };
  const errors = document.errors.map((e) => ({ message: cleanMessage(e.message), location: locate(e.pos[0]) }));
  return { document, lineCounter, errors, locate };
}

/** First line of a yaml error, without the " at line X, column Y" tail (the location says that). */
function cleanMessage(message: string): string {
  const first = message.split('\n', 1)[0] ?? message;
  return first.replace(/ at line \d+, column \d+:?$/, '');
}
