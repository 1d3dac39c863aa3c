import { IsOptional, IsString, MaxLength } from 'class-validator';

export class PricesQuery {
  @IsOptional() @IsString() @MaxLength(256)
  provider?: string;

  @IsOptional() @IsString() @MaxLength(256)
  model?: string;
}
