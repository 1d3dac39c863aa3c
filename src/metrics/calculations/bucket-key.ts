/** Contract section 2: `{provider}:{model}` when both are known, else provider, else model, else `unknown`. */
export function bucketKey(provider: string | undefined, model: string | undefined): string {
  if (provider && model) return `${provider}:${model}`;
  return provider || model || 'unknown';
}

/** Splits on the FIRST colon only: the model part may itself contain colons. */
export function splitBucketKey(key: string): { provider: string; model?: string } {
  const i = key.indexOf(':');
  return i < 0 ? { provider: key } : { provider: key.slice(0, i), model: key.slice(i + 1) };
}
