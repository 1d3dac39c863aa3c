/** Contract section 2: `{provider}:{model}` when both are known, else provider, else model, else `unknown`. */
export function bucketKey(provider: string | undefined, model: string | undefined): string {
  if (provider && model) return `${provider}:${model}`;
  return provider || model || 'unknown';
}
