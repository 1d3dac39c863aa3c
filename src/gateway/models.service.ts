import { HttpException, Injectable } from '@nestjs/common';
import { ProviderRegistry } from './provider-registry.service';

export interface ModelEntry {
  id: string;
  object: 'model';
  created: number;
  owned_by: string;
  /** The upstream model an alias resolves to. */
  resolves_to?: string;
  formats: string[];
}

export interface ModelList {
  object: 'list';
  data: ModelEntry[];
  default_provider: string;
}

/** GET /v1/models: configured providers' aliases, addressable as `provider:alias` or a bare alias. */
@Injectable()
export class ModelsService {
  constructor(private readonly registry: ProviderRegistry) {}

  list(): ModelList {
    const data: ModelEntry[] = [];
    for (const p of this.registry.all()) {
      const formats = Object.keys(p.baseUrls);
      for (const [alias, model] of p.aliases) {
        data.push({ id: `${p.name}:${alias}`, object: 'model', created: 0, owned_by: p.name, resolves_to: model, formats });
      }
      data.push({ id: `${p.name}:*`, object: 'model', created: 0, owned_by: p.name, formats });
    }
    return { object: 'list', data, default_provider: this.registry.defaultProvider };
  }

  /** A listed id, or any model the router can route (`provider:model`, an alias, a bare name for the default provider). */
  one(id: string): ModelEntry {
    const listed = this.list().data.find((entry) => entry.id.toLowerCase() === id.toLowerCase());
    if (listed) return listed;
    const result = this.registry.route(id);
    if (!result.ok) throw new HttpException(result.message, result.status);
    const { provider, model } = result.route;
    return { id, object: 'model', created: 0, owned_by: provider.name, resolves_to: model, formats: Object.keys(provider.baseUrls) };
  }
}
