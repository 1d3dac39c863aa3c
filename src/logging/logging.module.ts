import { Global, Module, type DynamicModule } from '@nestjs/common';
import type { LoggingMode } from './logger';

export const LOGGING_MODE = Symbol('LOGGING_MODE');

/** Makes the logging mode the app was started with injectable (for `/metrics/logs`). */
@Global()
@Module({})
export class LoggingModule {
  static forRoot(mode: LoggingMode): DynamicModule {
    return { module: LoggingModule, providers: [{ provide: LOGGING_MODE, useValue: mode }], exports: [LOGGING_MODE] };
  }
}
