import { IsOptional, IsString } from 'class-validator';

/**
 * The keys of GET /metrics/usage. Their values are read by the parsers in usage-query.ts
 * (times, group_by lists, globs, pages), which refuse a bad value with its own message.
 */
export class UsageQuery {
  @IsOptional() @IsString() from?: string;
  @IsOptional() @IsString() to?: string;
  @IsOptional() @IsString() group_by?: string;
  @IsOptional() @IsString() format?: string;
  @IsOptional() @IsString() provider?: string;
  @IsOptional() @IsString() model?: string;
  @IsOptional() @IsString() client?: string;
  @IsOptional() @IsString() user?: string;
  @IsOptional() @IsString() session?: string;
  @IsOptional() @IsString() limit?: string;
  @IsOptional() @IsString() offset?: string;
  @IsOptional() @IsString() order?: string;
}

/** The keys of GET /metrics/requests, read like those of /metrics/usage. */
export class RequestsQuery {
  @IsOptional() @IsString() from?: string;
  @IsOptional() @IsString() to?: string;
  @IsOptional() @IsString() provider?: string;
  @IsOptional() @IsString() model?: string;
  @IsOptional() @IsString() client?: string;
  @IsOptional() @IsString() user?: string;
  @IsOptional() @IsString() session?: string;
  @IsOptional() @IsString() status?: string;
  @IsOptional() @IsString() limit?: string;
  @IsOptional() @IsString() cursor?: string;
}
