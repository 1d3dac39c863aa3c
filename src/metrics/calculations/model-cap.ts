/** The model that takes every model beyond a provider's cap (contract section 2). */
export const OTHER_MODEL = 'other';

/** What the formats need to know of the cap: where an in-flight request will be counted, and how many folded. */
export interface ModelCapView {
  peek(provider: string, model: string): string;
  readonly foldedRequests: ReadonlyMap<string, number>;
}

/**
 * At most `cap` named models per provider, first come first served: a model admitted keeps its
 * name for the life of the process, so its counts never move; later models fold into `other`,
 * so invented model names cannot grow memory without bound.
 */
export class ModelCap implements ModelCapView {
  private readonly admitted = new Map<string, Set<string>>();
  private readonly folded = new Map<string, number>();

  constructor(private readonly cap: number) {}

  /** Finished requests counted under `other`, per provider (0 for a provider with none). */
  get foldedRequests(): ReadonlyMap<string, number> {
    return this.folded;
  }

  /** The model a finished request is counted under; a folded one is counted. */
  admit(provider: string, model: string): string {
    let models = this.admitted.get(provider);
    if (!models) {
      models = new Set();
      this.admitted.set(provider, models);
      this.folded.set(provider, 0);
    }
    if (models.has(model)) return model;
    if (models.size < this.cap) {
      models.add(model);
      return model;
    }
    this.folded.set(provider, (this.folded.get(provider) ?? 0) + 1);
    return OTHER_MODEL;
  }

  /** The model an in-flight request is shown under in rollups, without claiming a place for it. */
  peek(provider: string, model: string): string {
    const models = this.admitted.get(provider);
    return !models || models.has(model) || models.size < this.cap ? model : OTHER_MODEL;
  }
}
