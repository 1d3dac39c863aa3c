import { Inject, Injectable, type OnModuleDestroy } from '@nestjs/common';
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

/** Upstream HTTP through one keep-alive undici pool per origin. */
@Injectable()
export class UpstreamClient implements OnModuleDestroy {
  private readonly agent: Agent;

  constructor(@Inject(APP_CONFIG) config: AppConfig) {
    this.agent = new Agent({
      keepAliveTimeout: 30_000,
      keepAliveMaxTimeout: 600_000,
      connect: { timeout: config.streamingConnectTimeoutMs },
    });
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
    await this.agent.destroy();
  }
}
