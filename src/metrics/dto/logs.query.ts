import { Type } from 'class-transformer';
import { IsInt, IsOptional, Max, Min } from 'class-validator';

export class LogsQuery {
  @IsOptional() @Type(() => Number)
  @IsInt({ message: 'limit_errors must be an integer from 1 to 1000' })
  @Min(1, { message: 'limit_errors must be an integer from 1 to 1000' })
  @Max(1000, { message: 'limit_errors must be an integer from 1 to 1000' })
  limit_errors: number = 100;

  @IsOptional() @Type(() => Number)
  @IsInt({ message: 'limit_traces must be an integer from 1 to 2000' })
  @Min(1, { message: 'limit_traces must be an integer from 1 to 2000' })
  @Max(2000, { message: 'limit_traces must be an integer from 1 to 2000' })
  limit_traces: number = 200;
}
