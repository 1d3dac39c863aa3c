import { Global, Module, type DynamicModule } from '@nestjs/common';
import { Redactor } from '../core/redact';
import type { LoggingMode } from './logger';

export const LOGGING_MODE = Symbol('LOGGING_MODE');

/** Makes the logging mode the app was started with (for `/metrics/logs`) and its one Redactor injectable. */
@Global()
@Module({})
export class LoggingModule {
  static forRoot(mode: LoggingMode, redactor: Redactor): DynamicModule {
    return {
      module: LoggingModule,
      providers: [
        { provide: LOGGING_MODE, useValue: mode },
        { provide: Redactor, useValue: redactor },
      ],
      exports: [LOGGING_MODE, Redactor],
    };
  }
}
