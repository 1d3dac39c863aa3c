import { createHash, timingSafeEqual } from 'node:crypto';
import { Inject, Injectable, UnauthorizedException, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { APP_CONFIG, type AppConfig } from '../config/app-config';

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/** The key a client presented: `x-api-key`, or `Authorization: Bearer <key>`. */
export function presentedKey(headers: FastifyRequest['headers']): string | undefined {
  const x = headers['x-api-key'];
  if (typeof x === 'string' && x.length > 0) return x;
  const auth = headers.authorization;
  if (typeof auth === 'string') {
    const m = /^Bearer\s+(.+)$/i.exec(auth.trim());
    if (m) return m[1];
  }
  return undefined;
}

/** Hashing both sides first makes the comparison constant-time whatever the lengths. */
export function keysMatch(presented: string, expected: string): boolean {
  return timingSafeEqual(digest(presented), digest(expected));
}

/** When PROXY_API_KEY is set, every /v1 and /metrics endpoint needs it. */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  private readonly expected?: string;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {
    this.expected = config.proxyApiKey;
  }

  canActivate(context: ExecutionContext): boolean {
    if (this.expected === undefined || context.getType() !== 'http') return true;
    const req = context.switchToHttp().getRequest<FastifyRequest>();
    const path = req.url.split('?', 1)[0];
    if (!this.isGuarded(path)) return true;
    const key = presentedKey(req.headers);
    if (key !== undefined && keysMatch(key, this.expected)) return true;
    throw new UnauthorizedException(
      key === undefined
        ? 'Missing API key: send it as x-api-key or Authorization: Bearer'
        : 'Invalid API key',
    );
  }

  private isGuarded(path: string): boolean {
    if (path === '/metrics') return !this.config.metricsPublic;
    return path.startsWith('/v1/') || path.startsWith('/metrics/');
  }
}
