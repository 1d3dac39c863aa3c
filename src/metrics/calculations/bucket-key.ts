/** Contract section 2: `{provider}:{model}` when both are known, else provider, else model, else `unknown`. */
export function bucketKey(provider: string | undefined, model: string | undefined): string {
  if (provider && model) return `${provider}:${model}`;
  return provider || model || 'unknown';
}

/**
 * The same key string for the same provider and model, built once: per-request lookups then hash no
 * freshly joined string. Callers pass admitted models only (ModelCap), so the table stays bounded.
 */
export class BucketKeys {
  private readonly byProvider = new Map<string, Map<string, string>>();

  of(provider: string | undefined, model: string | undefined): string {
    if (!provider || !model) return bucketKey(provider, model);
    let models = this.byProvider.get(provider);
    if (models === undefined) {
      models = new Map();
      this.byProvider.set(provider, models);
    }
    let key = models.get(model);
    if (key === undefined) {
      key = bucketKey(provider, model);
      models.set(model, key);
    }
    return key;
  }
}
