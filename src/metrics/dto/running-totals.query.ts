import { IsIn, IsOptional, IsString, MaxLength } from 'class-validator';

export class RunningTotalsQuery {
  @IsOptional() @IsString() @MaxLength(256)
  provider?: string;

  @IsOptional() @IsString() @MaxLength(256)
  model?: string;

  @IsOptional() @IsString() @MaxLength(256)
  client?: string;

  @IsOptional() @IsIn(['true', 'false'], { message: 'include_active must be true or false' })
  include_active?: 'true' | 'false';

  @IsOptional() @IsIn(['yaml', 'json'], { message: 'format must be yaml or json' })
  format?: 'yaml' | 'json';
}
