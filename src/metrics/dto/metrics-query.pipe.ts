import { ValidationPipe, type ArgumentMetadata, type Type } from '@nestjs/common';
import { getMetadataStorage } from 'class-validator';
import { GatewayErrors } from '../../core/errors';
import { isRecord } from '../../core/json';

const keysOf = new WeakMap<Type<unknown>, readonly string[]>();

/** The query keys a DTO declares: every property with a validation decorator. */
function declaredKeys(dto: Type<unknown>): readonly string[] {
  let keys = keysOf.get(dto);
  if (keys === undefined) {
    keys = [...new Set(getMetadataStorage().getTargetValidationMetadatas(dto, '', true, false).map((m) => m.propertyName))];
    keysOf.set(dto, keys);
  }
  return keys;
}

/**
 * How every /metrics/* query is read (contract section 11): a key the endpoint's DTO does not declare
 * is refused, each key may be given once, and an empty value is the same as the key left out.
 * The rest is the DTO's class-validator rules, unknown properties forbidden there too.
 */
export class MetricsQueryPipe extends ValidationPipe {
  constructor() {
    super({ whitelist: true, forbidNonWhitelisted: true, transform: true });
  }

  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (metadata.type !== 'query' || metadata.metatype === undefined || !isRecord(value)) return super.transform(value, metadata);
    const keys = declaredKeys(metadata.metatype);
    const given: Record<string, string> = {};
    for (const [key, v] of Object.entries(value)) {
      if (!keys.includes(key)) {
        const takes = keys.length === 0 ? 'this endpoint takes no query parameters' : `this endpoint takes ${keys.join(', ')}`;
        throw new GatewayErrors.VDM_QUERY_UNKNOWN_KEY(JSON.stringify(key), takes);
      }
      if (typeof v !== 'string') throw new GatewayErrors.VDM_QUERY_REPEATED_KEY(key);
      if (v !== '') given[key] = v;
    }
    // A DTO with no keys has nothing for class-validator to check (it would call the object unknown).
    return keys.length === 0 ? new metadata.metatype() : super.transform(given, metadata);
  }
}
