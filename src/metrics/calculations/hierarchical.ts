import type { RequestRecord } from '../model/request-record';
import type { Bucket, Split, Totals } from '../model/totals';
import { addRecordToSplit, addSplit, addTotals, newSplit, newTotals } from './accumulation';
import { bucketKey } from './bucket-key';
import type { ModelCapView } from './model-cap';
import { clientPredicate, matchesFilter, type RunningTotalsFilter } from './wildcard';

export const UNKNOWN = 'unknown';

export interface ModelNode {
  lastAccessed?: number;
  split: Split;
}

export interface ProviderNode {
  lastAccessed?: number;
  rollup: Split;
  models: Map<string, ModelNode>;
}

export interface ClientNode {
  lastAccessed?: number;
  rollup: Split;
}

export interface RunningTotalsTree {
  lastAccessed?: number;
  summary: Totals;
  activeRequests: number;
  providers: Map<string, ProviderNode>;
  clients: Map<string, ClientNode>;
}

/** Latest request start (unix s) overall, per provider, and per `provider:model` bucket key. */
export interface LastAccessed {
  top?: number;
  providers: Map<string, number>;
  models: Map<string, number>;
  clients: Map<string, number>;
}

/** The last-access rule: a time is kept when it is the first one known or later than the one kept. */
export function noteLatest<K>(times: Map<K, number>, key: K, t: number): void {
  const known = times.get(key);
  if (known === undefined || t > known) times.set(key, t);
}

/** A request start (unix s) as the latest access overall, of its provider and of its `provider:model` bucket key, each when known. */
export function noteAccess(la: LastAccessed, t: number, provider: string | undefined, modelKey: string | undefined): void {
  if (la.top === undefined || t > la.top) la.top = t;
  if (provider === undefined) return;
  noteLatest(la.providers, provider, t);
  if (modelKey !== undefined) noteLatest(la.models, modelKey, t);
}

export interface RunningTotalsInput {
  buckets: Iterable<Bucket>;
  active: Iterable<RequestRecord>;
  activeCount: number;
  includeActive: boolean;
  filter: RunningTotalsFilter;
  lastAccessed: LastAccessed;
  /** In-flight requests count under the model their bucket will have (`other` past the cap). */
  models: ModelCapView;
}

function providerNode(tree: RunningTotalsTree, name: string, la: LastAccessed): ProviderNode {
  let node = tree.providers.get(name);
  if (!node) {
    node = { lastAccessed: la.providers.get(name), rollup: newSplit(), models: new Map() };
    tree.providers.set(name, node);
  }
  return node;
}

function modelNode(provider: ProviderNode, providerName: string, model: string, la: LastAccessed): ModelNode {
  let node = provider.models.get(model);
  if (!node) {
    node = { lastAccessed: la.models.get(bucketKey(providerName, model)), split: newSplit() };
    provider.models.set(model, node);
  }
  return node;
}

function clientNode(tree: RunningTotalsTree, name: string, la: LastAccessed): ClientNode {
  let node = tree.clients.get(name);
  if (!node) {
    node = { lastAccessed: la.clients.get(name), rollup: newSplit() };
    tree.clients.set(name, node);
  }
  return node;
}

/**
 * Provider -> model rollup of completed buckets, plus in-flight requests when asked.
 * Cost is O(buckets + active requests). A provider's rollup is the sum of its models plus the
 * requests with no known model; the summary is the sum of the providers.
 */
export function buildRunningTotals(input: RunningTotalsInput): RunningTotalsTree {
  const byClient = clientPredicate(input.filter);
  const own = input.filter.ownClient;
  // A client's own view: last access times are its own requests' (providers and models start unknown).
  const la: LastAccessed = own === undefined ? input.lastAccessed : { providers: new Map(), models: new Map(), clients: input.lastAccessed.clients };
  const active = own === undefined ? input.active : [...input.active];
  const tree: RunningTotalsTree = {
    summary: newTotals(),
    // Scoped to its own client, a client key sees its own in-flight count only.
    activeRequests: own === undefined ? input.activeCount : countActive(active, byClient!),
    providers: new Map(),
    clients: new Map(),
  };

  for (const bucket of input.buckets) {
    const provider = bucket.provider ?? UNKNOWN;
    if (!matchesFilter(input.filter, provider, bucket.model)) continue;
    let split = bucket.split;
    if (byClient !== undefined) {
      // Only the matching clients' share of the bucket counts.
      split = newSplit();
      for (const [client, cell] of bucket.clients) if (byClient(client)) addSplit(split, cell.split);
      if (split.total.requests === 0) continue;
    }
    for (const [client, cell] of bucket.clients) {
      if (byClient === undefined || byClient(client)) addSplit(clientNode(tree, client, la).rollup, cell.split);
    }
    const pNode = providerNode(tree, provider, la);
    addSplit(pNode.rollup, split);
    const mNode = bucket.model === undefined ? undefined : modelNode(pNode, provider, bucket.model, la);
    if (mNode !== undefined) addSplit(mNode.split, split);
    const ownStart = own === undefined ? undefined : bucket.clients.get(own)?.lastStart;
    if (ownStart !== undefined) noteOwn(pNode, mNode, ownStart);
  }

  if (input.includeActive) {
    for (const r of active) {
      const provider = r.provider ?? UNKNOWN;
      const model = r.resolvedModel === undefined ? undefined : input.models.peek(provider, r.resolvedModel);
      if (!matchesFilter(input.filter, provider, model)) continue;
      if (byClient !== undefined && !byClient(r.client)) continue;
      addRecordToSplit(clientNode(tree, r.client, la).rollup, r);
      const pNode = providerNode(tree, provider, la);
      addRecordToSplit(pNode.rollup, r);
      const mNode = model === undefined ? undefined : modelNode(pNode, provider, model, la);
      if (mNode !== undefined) addRecordToSplit(mNode.split, r);
      if (own !== undefined) noteOwn(pNode, mNode, r.startTime);
    }
  }

  const filtered = input.filter.provider !== undefined || input.filter.model !== undefined || byClient !== undefined;
  for (const node of tree.providers.values()) {
    addTotals(tree.summary, node.rollup.total);
    if (filtered && byClient === undefined && node.lastAccessed !== undefined) {
      tree.lastAccessed = Math.max(tree.lastAccessed ?? 0, node.lastAccessed);
    }
  }
  if (byClient !== undefined) {
    for (const node of tree.clients.values()) {
      if (node.lastAccessed !== undefined) tree.lastAccessed = Math.max(tree.lastAccessed ?? 0, node.lastAccessed);
    }
  }
  if (!filtered) tree.lastAccessed = la.top;
  return tree;
}

function countActive(active: Iterable<RequestRecord>, keep: (client: string) => boolean): number {
  let n = 0;
  for (const r of active) if (keep(r.client)) n++;
  return n;
}

/** A client's own request start, as the last access of the provider and model it went to. */
function noteOwn(provider: ProviderNode, model: ModelNode | undefined, t: number): void {
  provider.lastAccessed = Math.max(provider.lastAccessed ?? t, t);
  if (model !== undefined) model.lastAccessed = Math.max(model.lastAccessed ?? t, t);
}
