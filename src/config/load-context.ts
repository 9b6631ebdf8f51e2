import type { DiagnosticBag, SourceLocation } from '../policy/diagnostics.ts';
import type { ConfigReader, Props } from './artifact.ts';
import type { OverlayLoad } from './overlay.ts';

/** Which APIOps generation a file or folder belongs to (APIOPS v7 layout is the default). */
export type LayoutMarker = 'v5' | 'v6';

/** A name one artifact uses for another, checked once everything is read. */
export interface Reference {
  readonly kind: 'version set' | 'api' | 'product';
  readonly name: string;
  /** Who refers, for the message: 'apis/echo/apiInformation.json'. */
  readonly from: string;
  readonly at: SourceLocation | undefined;
  readonly severity: 'error' | 'warning';
}

/** State shared by the loader parts while one folder is read. */
export interface LoadContext {
  readonly reader: ConfigReader;
  readonly diagnostics: DiagnosticBag;
  readonly overlay: OverlayLoad;
  readonly skipped: SkipTracker;
  readonly markers: Set<LayoutMarker>;
  readonly references: Reference[];
}

/**
 * Unused artifacts are reported once per kind ('loggers', 'apis/*\/diagnostics'), not once per
 * file: an extract can hold hundreds of them and the user needs to know the kind, not each file.
 */
export class SkipTracker {
  readonly #kinds = new Map<string, { first: string; count: number; reason: string }>();

  note(kind: string, path: string, reason = 'gatehouse does not use this kind of artifact'): void {
    const seen = this.#kinds.get(kind);
    if (seen) seen.count++;
    else this.#kinds.set(kind, { first: path, count: 1, reason });
  }

  /** Emits one GH_CONFIG_ARTIFACT_SKIPPED info per kind, in the order kinds were first seen. */
  flush(diagnostics: DiagnosticBag): void {
    for (const [kind, { first, count, reason }] of this.#kinds) {
      const items = count === 1 ? `'${first}'` : `${count} items, first '${first}'`;
      diagnostics.report('GH_CONFIG_ARTIFACT_SKIPPED', undefined, `skipped ${kind} (${items}): ${reason}`, 'info');
    }
    this.#kinds.clear();
  }
}

/** Reads `<rel>/<file>` and its `properties`; reports a missing file. */
export async function requiredInfo(ctx: LoadContext, rel: string, file: string): Promise<Props | null> {
  const info = await ctx.reader.readJson(`${rel}/${file}`);
  if (info === null) {
    const exists = ((await ctx.reader.list(rel)) ?? []).some((e) => e.name === file);
    if (!exists) ctx.diagnostics.report('GH_CONFIG_NOT_FOUND', undefined, `${rel}/ has no ${file}; it is skipped`);
    return null;
  }
  return info.properties();
}

/**
 * An overlay entry for a folder name: exact key first, then ignoring case (APIM resource and
 * display names are case-insensitive). Load time only; the dictionaries are small.
 */
export function overlayEntry<T>(dict: Readonly<Record<string, T>>, name: string): T | undefined {
  const exact = dict[name];
  if (exact !== undefined) return exact;
  const lower = name.toLowerCase();
  for (const key of Object.keys(dict)) if (key.toLowerCase() === lower) return dict[key];
  return undefined;
}
