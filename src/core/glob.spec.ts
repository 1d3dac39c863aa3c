import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kysely, PostgresDialect, sql } from 'kysely';
import { Client, Pool } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postgresBinary, startPostgres, type PostgresServer } from '../../test/support/postgres-server';
import { SqliteWorkerDialect } from '../store/sqlite-worker-dialect';
import { globMatch, type StoreEngine } from '../store/usage-history.service';
import { foldAscii, Glob, likePattern } from './glob';

const A48 = 'a'.repeat(48);

/** Glob, name, whether it matches: the one table the in-memory matcher and both stores answer. */
const CASES: [string, string, boolean][] = [
  ['gpt-*', 'GPT-4o', true],
  ['gpt-?o', 'gpt-4o', true],
  ['gpt-?o', 'gpt-40o', false],
  ['gpt*', 'gpt', true],
  ['*sonnet*', 'anthropic/claude-3-5-sonnet:context-flash', true],
  ['claude.3', 'claude-3', false],
  ['a+b', 'a+b', true],
  ['(a|b)', 'a', false],
  ['OpenAI', 'openai', true],
  ['openai', 'OPENAI', true],
  ['**', 'x', true],
  ['?*?', 'ab', true],
  ['?*?', 'a', false],
  // Non-ASCII: the exact stored spelling matches; ASCII letters fold, the others do not.
  ['Ünïcödé-модель', 'Ünïcödé-модель', true],
  ['UNÏCÖDÉ-модель', 'Ünïcödé-модель', false],
  ['ünïcödé-модель', 'Ünïcödé-модель', false],
  ['ÜNÏCÖDÉ-МОДЕЛЬ', 'Ünïcödé-модель', false],
  ['MODEL-ü', 'model-ü', true],
  ['Ü*', 'Ünïcödé-модель', true],
  ['?nïcödé*', 'Ünïcödé-модель', true],
  ['*-??????', 'Ünïcödé-модель', true],
  ['*-?????', 'Ünïcödé-модель', false],
  ['k', '\u212a', false],
  ['i', 'İ', false],
  ['?', '🦊', true],
  ['??', '🦊', false],
  ['fox-🦊*', 'fox-🦊-1', true],
  // The LIKE wildcards and its escape character are literal in a glob.
  ['100%', '100%', true],
  ['100%', '1000', false],
  ['%', 'anything', false],
  ['%', '%', true],
  ['a_b', 'a_b', true],
  ['a_b', 'axb', false],
  ['a\\b', 'a\\b', true],
  ['a\\b', 'ab', false],
  ['a\\', 'a\\', true],
  ['a\\*', 'a\\xyz', true],
  ['a\\*', 'axyz', false],
  ['\\%', '\\%', true],
  ['\\%', '\\x', false],
  ['*\\_*', 'x\\_y', true],
  ['*\\_*', 'x_y', false],
  // What a backtracking RegExp takes seconds over (2^n in the stars).
  ['*a*a*a*a*a*a*a*a*a*a*ab', A48, false],
  ['*a*a*a*a*a*a*a*a*a*a*a', A48, true],
];

const NAMES = [...new Set(CASES.map(([, name]) => name))];
const GLOBS = [...new Set(CASES.map(([glob]) => glob))];

describe('Glob', () => {
  it.each(CASES)('%s matches %s: %s', (glob, name, expected) => {
    expect(new Glob(glob).test(name)).toBe(expected);
  });

  it('knows a pattern without wildcards', () => {
    expect(new Glob('gpt-4o').literal).toBe(true);
    expect(new Glob('gpt-*').literal).toBe(false);
    expect(new Glob('gpt-?').literal).toBe(false);
  });

  it('folds A-Z only', () => {
    expect(foldAscii('GPT-Ünï-МОДЕЛЬ')).toBe('gpt-Ünï-МОДЕЛЬ');
  });

  it('escapes what LIKE would read as wildcards', () => {
    expect(likePattern('A%_\\*?')).toBe('a\\%\\_\\\\%_');
  });

  it('walks a pathological pattern in at most name × pattern steps (a RegExp takes 2^stars)', () => {
    // 30 stars over 4,000 characters: about 240,000 steps here, far beyond 2^30 for a backtracking RegExp.
    const pattern = `${'*a'.repeat(30)}b`;
    expect(new Glob(pattern).test('a'.repeat(4_000))).toBe(false);
  });
});

/** Which names each glob matches, by the store's SQL twin on a real database, in NAMES order. */
async function sqlMatches(db: Kysely<{ names: { id: number; name: string } }>, engine: StoreEngine): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (const glob of GLOBS) {
    const rows = await db
      .selectFrom('names')
      .select('name')
      .where((eb) => globMatch(engine, eb.ref('name'), glob))
      .orderBy('id')
      .execute();
    out.set(glob, rows.map((r) => r.name));
  }
  return out;
}

async function fill(db: Kysely<{ names: { id: number; name: string } }>): Promise<void> {
  await sql`create table names (id integer primary key, name text not null)`.execute(db);
  await db
    .insertInto('names')
    .values(NAMES.map((name, id) => ({ id, name })))
    .execute();
}

/** The twin must agree with the table, and with the in-memory matcher on every glob × name pair. */
function expectAgreement(matches: Map<string, string[]>): void {
  for (const [glob, name, expected] of CASES) expect({ glob, name, matched: matches.get(glob)!.includes(name) }).toEqual({ glob, name, matched: expected });
  for (const glob of GLOBS) {
    const g = new Glob(glob);
    expect({ glob, names: matches.get(glob) }).toEqual({ glob, names: NAMES.filter((n) => g.test(n)) });
  }
}

describe('the SQL twin on SQLite', () => {
  let dir: string;
  let db: Kysely<{ names: { id: number; name: string } }>;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'vdm-glob-'));
    db = new Kysely({ dialect: new SqliteWorkerDialect(join(dir, 'glob.db')) });
    await fill(db);
  });
  afterAll(async () => {
    await db?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers every glob as the in-memory matcher does', async () => {
    expectAgreement(await sqlMatches(db, 'sqlite'));
  });
});

const initdb = postgresBinary();

describe.skipIf(initdb === undefined)('the SQL twin on PostgreSQL', () => {
  let pg: PostgresServer | undefined;
  let db: Kysely<{ names: { id: number; name: string } }>;
  beforeAll(async () => {
    pg = await startPostgres(initdb!);
    // A UTF-8 database whose locale folds non-ASCII letters in lower(), as production ones do.
    const admin = new Client({ connectionString: pg.url });
    await admin.connect();
    await admin.query(`create database globs encoding 'UTF8' lc_collate 'C.UTF-8' lc_ctype 'C.UTF-8' template template0`);
    await admin.end();
    const pool = new Pool({ connectionString: pg.url.replace(/\/postgres$/, '/globs'), max: 1 });
    // The server is stopped after the pool: an idle client told so must not throw out of the test.
    pool.on('error', () => undefined);
    db = new Kysely({ dialect: new PostgresDialect({ pool }) });
    await fill(db);
  }, 60_000);
  afterAll(async () => {
    await db?.destroy();
    pg?.close();
  });

  it('runs where lower() folds more than ASCII', async () => {
    const { rows } = await sql<{ folded: string }>`select lower('Ü') as folded`.execute(db);
    expect(rows[0].folded).toBe('ü');
  });

  it('answers every glob as the in-memory matcher does', async () => {
    expectAgreement(await sqlMatches(db, 'postgres'));
  });
});
