import { Inject, Injectable, Optional, type OnModuleDestroy } from '@nestjs/common';
import { Agent, request, type Dispatcher } from 'undici';
import { APP_CONFIG, type AppConfig } from '../../config/app-config';

export interface UpstreamCall {
  url: string;
  headers: Record<string, string>;
  body: string;
  signal: AbortSignal;
  /** Longest wait for the response headers. */
  headersTimeoutMs: number;
  /** Longest idle gap between body chunks. */
  bodyTimeoutMs: number;
}

/** Where upstream calls go instead of the gateway's own pool when provided (undici's MockAgent in unit specs). */
export const UPSTREAM_DISPATCHER = Symbol('UPSTREAM_DISPATCHER');

/** Upstream HTTP through one keep-alive undici pool per origin. */
@Injectable()
export class UpstreamClient implements OnModuleDestroy {
  private readonly agent: Dispatcher;
  /** The pool is the client's own to close; a provided dispatcher belongs to whoever provided it. */
  private readonly owned?: Agent;

  constructor(@Inject(APP_CONFIG) config: AppConfig, @Optional() @Inject(UPSTREAM_DISPATCHER) dispatcher?: Dispatcher) {
    if (dispatcher !== undefined) {
      this.agent = dispatcher;
      return;
    }
    this.owned = new Agent({
      keepAliveTimeout: 30_000,
      keepAliveMaxTimeout: 600_000,
      connect: { timeout: config.streamingConnectTimeoutMs },
    });
    this.agent = this.owned;
  }

  send(call: UpstreamCall): Promise<Dispatcher.ResponseData> {
    return request(call.url, {
      method: 'POST',
      headers: call.headers,
      body: call.body,
      signal: call.signal,
      headersTimeout: call.headersTimeoutMs,
      bodyTimeout: call.bodyTimeoutMs,
      dispatcher: this.agent,
    });
  }

  async onModuleDestroy(): Promise<void> {
    await this.owned?.destroy();
  }
}
