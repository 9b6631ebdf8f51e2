/**
 * JSON for artifact files: `JSON.parse` for the value, plus a small strict scanner that runs only
 * when something must be located (a syntax error, or a property whose value has the wrong type).
 *
 * Why not V8's error message: it has no position for some errors and it quotes the input
 * (`"…" is not valid JSON`), which could copy a secret from a named value file into a log.
 */

export type JsonParseResult =
  | { readonly ok: true; readonly value: unknown }
  | { readonly ok: false; readonly offset: number; readonly message: string };

/** A JSON path: object keys and array indexes from the root. */
export type JsonPath = readonly (string | number)[];

/** Parses JSON text (a leading BOM is ignored). On failure, gives the offset and a message without input text. */
export function parseJson(text: string): JsonParseResult {
  const body = stripBom(text);
  try {
    return { ok: true, value: JSON.parse(body) as unknown };
  } catch {
    const scan = new JsonScanner(body, null);
    const failure = scan.run();
    // The scanner is stricter than or equal to JSON.parse; if it finds nothing, report the start.
    const offset = failure ? failure.offset + (body.length === text.length ? 0 : 1) : 0;
    return { ok: false, offset, message: failure?.message ?? 'not valid JSON' };
  }
}

/** Offset (in `text`) where the value at `path` starts, or undefined when the path is absent or the text is not JSON. */
export function locateJson(text: string, path: JsonPath): number | undefined {
  const body = stripBom(text);
  const scan = new JsonScanner(body, path);
  scan.run();
  if (scan.found === undefined) return undefined;
  return scan.found + (body.length === text.length ? 0 : 1);
}

/** 1-based line and column (UTF-16 code units) of an offset; '\r\n', '\n' and '\r' end lines. */
export function lineColumnAt(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  const end = Math.min(offset, text.length);
  for (let i = 0; i < end; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x0a || (c === 0x0d && text.charCodeAt(i + 1) !== 0x0a)) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: end - lineStart + 1 };
}

function stripBom(text: string): string {
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

interface ScanFailure {
  readonly offset: number;
  readonly message: string;
}

class ScanError extends Error {
  constructor(readonly offset: number, message: string) {
    super(message);
  }
}

/** Strict RFC 8259 recursive-descent scanner; records where `target` starts when given. */
class JsonScanner {
  #pos = 0;
  found: number | undefined;
  readonly #text: string;
  readonly #target: JsonPath | null;

  constructor(text: string, target: JsonPath | null) {
    this.#text = text;
    this.#target = target;
  }

  run(): ScanFailure | null {
    try {
      this.#ws();
      this.#value([]);
      this.#ws();
      if (this.#pos < this.#text.length) this.#fail('unexpected text after the JSON value');
      return null;
    } catch (e) {
      if (e instanceof ScanError) return { offset: e.offset, message: e.message };
      throw e;
    }
  }

  #fail(message: string, at = this.#pos): never {
    throw new ScanError(at, message);
  }

  #ws(): void {
    const t = this.#text;
    while (this.#pos < t.length) {
      const c = t.charCodeAt(this.#pos);
      if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) break;
      this.#pos++;
    }
  }

  #matches(path: JsonPath): boolean {
    const target = this.#target;
    if (target === null || target.length !== path.length) return false;
    return target.every((segment, i) => segment === path[i]);
  }

  #value(path: JsonPath): void {
    if (this.found === undefined && this.#matches(path)) this.found = this.#pos;
    const c = this.#text[this.#pos];
    if (c === '{') return this.#object(path);
    if (c === '[') return this.#array(path);
    if (c === '"') return void this.#string();
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return this.#number();
    for (const word of ['true', 'false', 'null']) {
      if (this.#text.startsWith(word, this.#pos)) {
        this.#pos += word.length;
        return;
      }
    }
    this.#fail(c === undefined ? 'unexpected end of input, expected a value' : 'expected a value');
  }

  #object(path: JsonPath): void {
    this.#pos++;
    this.#ws();
    if (this.#text[this.#pos] === '}') {
      this.#pos++;
      return;
    }
    for (;;) {
      this.#ws();
      if (this.#text[this.#pos] !== '"') this.#fail('expected a double-quoted property name');
      const key = this.#string();
      this.#ws();
      if (this.#text[this.#pos] !== ':') this.#fail("expected ':' after the property name");
      this.#pos++;
      this.#ws();
      this.#value([...path, key]);
      this.#ws();
      const c = this.#text[this.#pos];
      if (c === '}') {
        this.#pos++;
        return;
      }
      if (c !== ',') this.#fail(c === undefined ? "unexpected end of input, expected ',' or '}'" : "expected ',' or '}' after the property value");
      this.#pos++;
    }
  }

  #array(path: JsonPath): void {
    this.#pos++;
    this.#ws();
    if (this.#text[this.#pos] === ']') {
      this.#pos++;
      return;
    }
    for (let index = 0; ; index++) {
      this.#ws();
      this.#value([...path, index]);
      this.#ws();
      const c = this.#text[this.#pos];
      if (c === ']') {
        this.#pos++;
        return;
      }
      if (c !== ',') this.#fail(c === undefined ? "unexpected end of input, expected ',' or ']'" : "expected ',' or ']' after the array element");
      this.#pos++;
    }
  }

  /** Scans a string starting at the opening quote; returns its decoded value (needed for keys). */
  #string(): string {
    const t = this.#text;
    const start = this.#pos;
    this.#pos++;
    for (;;) {
      if (this.#pos >= t.length) this.#fail('unterminated string', start);
      const c = t.charCodeAt(this.#pos);
      if (c === 0x22) break;
      if (c < 0x20) this.#fail('control character in a string (escape it)');
      if (c === 0x5c) {
        const e = t[this.#pos + 1];
        if (e === 'u') {
          if (!/^[0-9a-fA-F]{4}$/.test(t.slice(this.#pos + 2, this.#pos + 6))) this.#fail('invalid \\u escape');
          this.#pos += 6;
          continue;
        }
        if (e === undefined || !'"\\/bfnrt'.includes(e)) this.#fail('invalid escape sequence');
        this.#pos += 2;
        continue;
      }
      this.#pos++;
    }
    this.#pos++;
    return JSON.parse(t.slice(start, this.#pos)) as string;
  }

  #number(): void {
    NUMBER.lastIndex = this.#pos;
    const match = NUMBER.exec(this.#text);
    if (!match) this.#fail('invalid number');
    this.#pos += match[0].length;
  }
}
