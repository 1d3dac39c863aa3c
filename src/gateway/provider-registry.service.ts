import { Inject, Injectable, Logger, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '../config/app-config';
import { DemoUpstream } from './demo/demo-upstream';
import { Redactor } from '../core/redact';
import { demoProvider, DEMO_PROVIDER } from '../config/providers';
import { routeModel, type RouteResult } from './providers/model-router';
import type { Provider } from '../config/provider';

/** The configured providers, and the built-in demo upstream when none is configured. */
@Injectable()
export class ProviderRegistry implements OnModuleInit, OnModuleDestroy {
  private readonly logger = new Logger('Providers');
  private readonly providers: Map<string, Provider>;
  private demo?: DemoUpstream;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly redactor: Redactor,
  ) {
    this.providers = new Map(config.providers.providers);
  }

  get defaultProvider(): string {
    return this.config.providers.defaultProvider;
  }

  all(): Provider[] {
    return [...this.providers.values()];
  }

  route(model: string): RouteResult {
    return routeModel(model, this.providers, this.defaultProvider);
  }

  async onModuleInit(): Promise<void> {
    if (this.config.providers.usesDemo) {
      this.demo = await DemoUpstream.start(this.config.demoTokenDelayMs);
      this.providers.set(DEMO_PROVIDER, demoProvider(this.demo.origin));
      this.logger.warn(
        `No provider configured: using the built-in "${DEMO_PROVIDER}" provider (a simulated upstream at ${this.demo.origin}). ` +
          'Set {NAME}_API_KEY (and {NAME}_BASE_URL, {NAME}_API_FORMAT) to route to real providers.',
      );
    } else {
      for (const p of this.providers.values()) {
        // Base URLs may carry userinfo (`http://user:password@host`).
        this.logger.log(this.redactor.redact(`Provider "${p.name}": ${Object.entries(p.baseUrls).map(([f, u]) => `${f} at ${u}`).join(', ')}`));
      }
      this.logger.log(`Default provider: ${this.defaultProvider}`);
    }
  }

  async onModuleDestroy(): Promise<void> {
    await this.demo?.close();
  }
}
