import { foldAscii, type Glob } from '../../core/glob';

/** What the index needs of a prices-file entry: its position (first match wins) and its two globs. */
export interface IndexedEntry {
  /** Position in the file. */
  entry: number;
  provider: Glob;
  model: Glob;
}

/**
 * A prices file's entries for lookup by provider and model. Entries naming one provider and one
 * model (no `*` or `?`) are found through a map, by the names as the glob compares them (A-Z
 * folded); only the entries with a wildcard are tried one by one. A file of 100,000 exact names
 * so costs a map lookup per new model, not 100,000 glob matches.
 */
export class OverrideIndex<T extends IndexedEntry> {
  private readonly exact = new Map<string, Map<string, T[]>>();
  private readonly globbed: T[] = [];

  constructor(entries: readonly T[]) {
    for (const e of entries) {
      if (!(e.provider.literal && e.model.literal)) {
        this.globbed.push(e);
        continue;
      }
      const provider = foldAscii(e.provider.pattern);
      let models = this.exact.get(provider);
      if (models === undefined) {
        models = new Map();
        this.exact.set(provider, models);
      }
      const model = foldAscii(e.model.pattern);
      const list = models.get(model);
      if (list === undefined) models.set(model, [e]);
      else list.push(e);
    }
  }

  /** The first entry in file order that matches the provider and model and that `accept` takes. */
  first(provider: string, model: string, accept: (e: T) => boolean = () => true): T | undefined {
    const found = this.exactFor(provider, model).find(accept);
    for (const e of this.globbed) {
      if (found !== undefined && e.entry > found.entry) break;
      if (accept(e) && e.provider.test(provider) && e.model.test(model)) return e;
    }
    return found;
  }

  /** Every entry that matches the provider and model and that `accept` takes, in file order. */
  all(provider: string, model: string, accept: (e: T) => boolean = () => true): T[] {
    const exact = this.exactFor(provider, model).filter(accept);
    const globbed = this.globbed.filter((e) => accept(e) && e.provider.test(provider) && e.model.test(model));
    return globbed.length === 0 ? exact : [...exact, ...globbed].sort((a, b) => a.entry - b.entry);
  }

  private exactFor(provider: string, model: string): readonly T[] {
    return this.exact.get(foldAscii(provider))?.get(foldAscii(model)) ?? [];
  }
}
