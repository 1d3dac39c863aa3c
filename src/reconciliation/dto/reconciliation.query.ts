import { IsOptional, IsString } from 'class-validator';

/** The keys of GET /metrics/reconciliation, read like those of /metrics/usage (times, globs, format). */
export class ReconciliationQuery {
  @IsOptional() @IsString() from?: string;
  @IsOptional() @IsString() to?: string;
  @IsOptional() @IsString() provider?: string;
  @IsOptional() @IsString() model?: string;
  @IsOptional() @IsString() format?: string;
}
