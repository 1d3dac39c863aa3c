import { plainToInstance } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsBoolean,
  IsIn,
  IsInt,
  IsNumber,
  IsOptional,
  IsString,
  IsUrl,
  Matches,
  Max,
  MaxLength,
  Min,
  MinLength,
  validateSync,
  type ValidationError,
} from 'class-validator';
import { isRecord } from '../core/json';
import { readYamlFile } from './yaml-file';

export const PERIODS = ['hour', 'day', 'week', 'month'] as const;
export type Period = (typeof PERIODS)[number];

/** A USD budget over a UTC calendar window (contract section 15). Globs are the gateway's one glob (core/glob). */
export interface BudgetRule {
  /** Position in the file's `budgets` list. */
  entry: number;
  name: string;
  client?: string;
  /** Set: one budget per user of each matched client (a request naming no user is the user ""). */
  user?: string;
  provider?: string;
  model?: string;
  /** The limit per period, in nanodollars. */
  limitNano: number;
  period: Period;
  /** One budget for everything matched, instead of one per client (and user). */
  shared: boolean;
  /** Fractions of the limit, ascending, each fired once per window. */
  alertAt: number[];
}

/** Requests, tokens and concurrency per client (and per user when `user` is set). */
export interface RateLimitRule {
  entry: number;
  name: string;
  client?: string;
  user?: string;
  requestsPerMinute?: number;
  tokensPerMinute?: number;
  concurrent?: number;
}

export interface LimitsFile {
  path: string;
  budgets: BudgetRule[];
  limits: RateLimitRule[];
  webhook?: string;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const NAME_RULE = { message: 'must be 1-64 letters, digits, `.`, `_` or `-`, starting with a letter or digit' };
const GLOB = { message: 'must be a name or glob of 1-256 characters' };
const COUNT = { message: 'must be a whole number, 1 or more' };
/** Bounds a hostile or mistaken file: the rules are matched on every request. */
const MAX_RULES = 1000;

class BudgetEntry {
  @IsString(NAME_RULE) @Matches(NAME, NAME_RULE)
  name!: string;

  @IsOptional() @IsString(GLOB) @MinLength(1, GLOB) @MaxLength(256, GLOB)
  client?: string;

  @IsOptional() @IsString(GLOB) @MinLength(1, GLOB) @MaxLength(256, GLOB)
  user?: string;

  @IsOptional() @IsString(GLOB) @MinLength(1, GLOB) @MaxLength(256, GLOB)
  provider?: string;

  @IsOptional() @IsString(GLOB) @MinLength(1, GLOB) @MaxLength(256, GLOB)
  model?: string;

  @IsNumber({ allowNaN: false, allowInfinity: false }, { message: 'must be a number of US dollars greater than 0' })
  @Min(0.000001, { message: 'must be a number of US dollars greater than 0' })
  @Max(1e6, { message: 'must be at most 1000000 (US dollars)' })
  usd!: number;

  @IsIn(PERIODS, { message: `must be one of ${PERIODS.join(', ')}` })
  period!: Period;

  @IsOptional() @IsBoolean({ message: 'must be true or false' })
  shared?: boolean;

  @IsOptional() @IsArray({ message: 'must be a list of fractions of the limit, such as [0.5, 0.8, 1.0]' })
  @ArrayMaxSize(16, { message: 'must list at most 16 thresholds' })
  @IsNumber({ allowNaN: false, allowInfinity: false }, { each: true, message: 'must be a list of fractions of the limit greater than 0, such as [0.5, 0.8, 1.0]' })
  @Min(0.000001, { each: true, message: 'must be a list of fractions of the limit greater than 0, such as [0.5, 0.8, 1.0]' })
  @Max(100, { each: true, message: 'must list fractions of the limit of at most 100' })
  alert_at?: number[];
}

class LimitEntry {
  @IsOptional() @IsString(NAME_RULE) @Matches(NAME, NAME_RULE)
  name?: string;

  @IsOptional() @IsString(GLOB) @MinLength(1, GLOB) @MaxLength(256, GLOB)
  client?: string;

  @IsOptional() @IsString(GLOB) @MinLength(1, GLOB) @MaxLength(256, GLOB)
  user?: string;

  @IsOptional() @IsInt(COUNT) @Min(1, COUNT)
  requests_per_minute?: number;

  @IsOptional() @IsInt(COUNT) @Min(1, COUNT)
  tokens_per_minute?: number;

  @IsOptional() @IsInt(COUNT) @Min(1, COUNT)
  concurrent?: number;
}

class AlertsEntry {
  @IsOptional() @IsUrl({ protocols: ['http', 'https'], require_protocol: true, require_tld: false }, { message: 'must be an http(s) URL' })
  webhook?: string;
}

/** The first problem class-validator found, as `field message` (a nested list item as `field[i]`). */
function firstProblem(errors: ValidationError[]): { field: string; message: string } {
  const e = errors[0];
  const c = e.constraints ?? {};
  // The type's message before the range's: "must be a number" tells more about "5$" than "at most".
  const message = c.isNumber ?? c.isInt ?? c.isString ?? c.isArray ?? Object.values(c)[0] ?? 'is invalid';
  return { field: e.property, message: message.replace(/^property \S+ should not exist$/, 'is not a known field') };
}

/**
 * Reads and validates VDM_LIMITS_FILE (contract section 15); a ConfigError's one line names the
 * file, the entry and the field.
 */
export function loadLimitsFile(path: string): LimitsFile {
  const { doc: read, fail } = readYamlFile('VDM_LIMITS_FILE', path);
  // An empty file is no rules.
  const doc = read ?? {};
  if (!isRecord(doc)) return fail('the file', 'must be a map with `budgets`, `limits` and `alerts`');
  const unknown = Object.keys(doc).find((k) => !['budgets', 'limits', 'alerts'].includes(k));
  if (unknown !== undefined) return fail(unknown, 'is not a known section (budgets, limits, alerts)');

  const list = (section: 'budgets' | 'limits'): unknown[] => {
    const value = doc[section];
    if (value === undefined || value === null) return [];
    if (!Array.isArray(value)) return fail(section, 'must be a list');
    if (value.length > MAX_RULES) return fail(section, `must list at most ${MAX_RULES} entries`);
    return value as unknown[];
  };
  const check = <T extends object>(dto: new () => T, raw: unknown, at: string): T => {
    if (!isRecord(raw)) return fail(at, 'must be a map');
    const entry = plainToInstance(dto, raw);
    const errors = validateSync(entry, { whitelist: true, forbidNonWhitelisted: true, forbidUnknownValues: false });
    if (errors.length > 0) {
      const problem = firstProblem(errors);
      const named = typeof raw.name === 'string' && NAME.test(raw.name) ? ` (${raw.name})` : '';
      return fail(`${at}${named}.${problem.field}`, problem.message);
    }
    return entry;
  };

  const names = new Set<string>();
  const budgets = list('budgets').map((raw, i): BudgetRule => {
    const b = check(BudgetEntry, raw, `budgets[${i}]`);
    if (names.has(b.name)) fail(`budgets[${i}] (${b.name}).name`, 'is used by an earlier budget');
    names.add(b.name);
    return {
      entry: i,
      name: b.name,
      client: b.client,
      user: b.user,
      provider: b.provider,
      model: b.model,
      limitNano: Math.round(b.usd * 1e9),
      period: b.period,
      shared: b.shared ?? false,
      alertAt: [...new Set(b.alert_at ?? [])].sort((x, y) => x - y),
    };
  });
  const limitNames = new Set<string>();
  const limits = list('limits').map((raw, i): RateLimitRule => {
    const l = check(LimitEntry, raw, `limits[${i}]`);
    const at = `limits[${i}]${l.name === undefined ? '' : ` (${l.name})`}`;
    if (l.requests_per_minute === undefined && l.tokens_per_minute === undefined && l.concurrent === undefined) {
      fail(`${at}.requests_per_minute`, 'or tokens_per_minute or concurrent must be given');
    }
    const name = l.name ?? `limits[${i}]`;
    if (limitNames.has(name)) fail(`${at}.name`, 'is used by an earlier limit');
    limitNames.add(name);
    return {
      entry: i,
      name,
      client: l.client,
      user: l.user,
      requestsPerMinute: l.requests_per_minute,
      tokensPerMinute: l.tokens_per_minute,
      concurrent: l.concurrent,
    };
  });
  let webhook: string | undefined;
  if (doc.alerts !== undefined && doc.alerts !== null) webhook = check(AlertsEntry, doc.alerts, 'alerts').webhook;
  return { path, budgets, limits, webhook };
}
