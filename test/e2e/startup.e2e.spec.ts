import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileGateway, spawnGatewayProcess, type GatewayProcess } from '../support/gateway-process';

/** The gateway as `npm start` runs it, in a process of its own, with the environment a developer machine may carry. */
let build: ReturnType<typeof compileGateway>;
let dir: string;
beforeAll(() => {
  build = compileGateway();
  dir = mkdtempSync(join(tmpdir(), 'vdm-startup-'));
});
afterAll(() => {
  build.remove();
  rmSync(dir, { recursive: true, force: true });
});

interface LogLine {
  level: number;
  msg: string;
  context?: string;
}
const WARN = 40;
const INFO = 30;

function logLines(output: string): LogLine[] {
  return output
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as LogLine);
}

async function stop(proc: GatewayProcess): Promise<void> {
  const exited = new Promise((r) => proc.child.once('exit', r));
  proc.child.kill('SIGTERM');
  await exited;
}

/** Starts the gateway, lets it log its start-up lines, stops it; its log lines. */
async function startLines(
  env: Record<string, string>,
  probe: (url: string) => Promise<void> = () => Promise.resolve(),
): Promise<{ lines: LogLine[]; demoAnswers: boolean }> {
  const proc = await spawnGatewayProcess(build.main, { LOG_LEVEL: 'info', VDM_STORE: 'none', ...env });
  try {
    // The summary is logged right after listen; /health answering means listen returned.
    await expect.poll(() => proc.output().includes('Dashboard: '), { timeout: 10_000 }).toBe(true);
    const res = await fetch(`${proc.url}/v1/models`, { headers: { 'x-api-key': env.PROXY_API_KEY ?? 'x' } });
    const models = (await res.json()) as { data?: { id: string }[] };
    await probe(proc.url);
    return { lines: logLines(proc.output()), demoAnswers: JSON.stringify(models).includes('demo') };
  } finally {
    await stop(proc);
  }
}

/** A gateway that must not start: its exit code and every line it wrote. */
async function failedStart(env: Record<string, string>): Promise<{ code: number | null; lines: string[] }> {
  const child = spawn(process.execPath, [build.main], {
    cwd: resolve(__dirname, '../..'),
    env: { PATH: process.env.PATH, HOST: '127.0.0.1', PORT: '0', VDM_STORE: 'none', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr.on('data', (d: Buffer) => (output += d.toString()));
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  return { code, lines: output.split('\n').filter((l) => l !== '') };
}

/** Warnings, but the demo provider's own (it says that no provider is configured). */
const warnings = (lines: LogLine[]): string[] => lines.filter((l) => l.level === WARN && l.context !== 'Providers').map((l) => l.msg);

describe('start-up on a machine with unrelated variables', () => {
  it('skips an *_API_KEY that makes no provider, with one warning line each saying what would configure it', async () => {
    const { lines, demoAnswers } = await startLines({ PINECONE_API_KEY: 'x', GROQ_API_KEY: 'gsk-1' });
    expect(demoAnswers).toBe(true);
    const skipped = warnings(lines).filter((m) => m.startsWith('Ignoring'));
    expect(skipped).toHaveLength(2);
    expect(skipped.find((m) => m.includes('PINECONE_API_KEY'))).toMatch(/PINECONE_BASE_URL.*PINECONE_API_FORMAT/);
    expect(skipped.find((m) => m.includes('GROQ_API_KEY'))).toMatch(/GROQ_BASE_URL.*GROQ_API_FORMAT/);
    // The value is never shown.
    expect(skipped.join('\n')).not.toContain('gsk-1');
  }, 30_000);

  it('still stops on a half-configured provider, with one line naming the missing variable', async () => {
    const { code, lines } = await failedStart({ PINECONE_API_KEY: 'x', PINECONE_API_FORMAT: 'openai', GROQ_API_KEY: 'y' });
    expect(code).toBe(1);
    expect(lines).toEqual(['Invalid configuration: PINECONE_BASE_URL must be set for provider "pinecone" (an http(s) URL)']);
  }, 30_000);

  it('names every unknown VDM_*, PROXY_* and REQUEST_* variable and the closest known one, and old names of renamed ones on one line', async () => {
    const { lines } = await startLines({
      PROXY_APIKEY: 'secret',
      VDM_PRICE_FILE: '/nowhere/prices.yaml',
      VDM_CLIENTS_KEYS_FILE: '/nowhere/keys.yaml',
      REQUEST_TIMEOUTS: '30',
      // Known: read by the gateway, by compose, or a provider's own.
      VDM_STORE_FLUSH_MS: '100',
      VDM_PUBLISH_ADDRESS: '0.0.0.0',
      HOME: '/root',
      // Old names of renamed variables: read, not unknown, named once on one deprecation line.
      REQUEST_TIMEOUT: '30',
      VDM_ACTIVE_REQUESTS_SSE_HEARTBEAT: '20',
      VDM_ACTIVE_REQUESTS_SSE_HEARTBEAT_SECONDS: '25',
    });
    const unknown = warnings(lines).filter((m) => m.startsWith('Unknown variable'));
    expect(unknown).toEqual([
      'Unknown variable PROXY_APIKEY is ignored; did you mean PROXY_API_KEY?',
      'Unknown variable REQUEST_TIMEOUTS is ignored; did you mean REQUEST_TIMEOUT_SECONDS?',
      'Unknown variable VDM_CLIENTS_KEYS_FILE is ignored; did you mean VDM_CLIENT_KEYS_FILE?',
      'Unknown variable VDM_PRICE_FILE is ignored; did you mean VDM_PRICES_FILE?',
    ]);
    expect(warnings(lines).filter((m) => m.startsWith('Deprecated'))).toEqual([
      'Deprecated variable names, read for now; rename them: REQUEST_TIMEOUT → REQUEST_TIMEOUT_SECONDS, VDM_ACTIVE_REQUESTS_SSE_HEARTBEAT → ' +
        'VDM_ACTIVE_REQUESTS_SSE_HEARTBEAT_SECONDS (both are set: VDM_ACTIVE_REQUESTS_SSE_HEARTBEAT_SECONDS wins, VDM_ACTIVE_REQUESTS_SSE_HEARTBEAT is ignored)',
    ]);
    // PROXY_APIKEY set no key: the gateway is open, and says so.
    expect(warnings(lines).filter((m) => m.startsWith('Open mode'))).toHaveLength(1);
  }, 30_000);
});

describe('the start-up summary', () => {
  it('in open mode: one warning line that anyone who can reach the port can use the providers\' keys', async () => {
    const { lines } = await startLines({});
    const open = warnings(lines);
    expect(open).toHaveLength(1);
    expect(open[0]).toMatch(/^Open mode: .*anyone who can reach 127\.0\.0\.1:\d+ can use the providers' keys/);
    const info = lines.filter((l) => l.level === INFO).map((l) => l.msg);
    expect(info).toContain('Providers: demo (built in; anthropic and openai)');
    expect(info).toContainEqual(expect.stringMatching(/^Prices: the bundled catalog @pydantic\/genai-prices \d/));
    expect(info).toContainEqual('Usage store: none (VDM_STORE=none): usage is kept in memory and lost at restart');
    expect(info).toContainEqual(expect.stringMatching(/^Dashboard: http:\/\/127\.0\.0\.1:\d+\/dashboard$/));
  }, 30_000);

  it('says how authentication, providers, prices and the store are set', async () => {
    const keys = join(dir, 'keys.yaml');
    writeFileSync(keys, 'clients:\n  - name: team-a\n    key: sk-team-a-key\n  - name: team-b\n    key: sk-team-b-key\n');
    const prices = join(dir, 'prices.yaml');
    writeFileSync(prices, 'prices:\n  - provider: ollama\n    model: "*"\n    input: 0\n    output: 0\n');
    const { lines } = await startLines({
      PROXY_API_KEY: 'gateway-key',
      VDM_CLIENT_KEYS_FILE: keys,
      VDM_PRICES_FILE: prices,
      OPENAI_API_KEY: 'sk-openai',
      OLLAMA_API_KEY: 'unused',
      OLLAMA_BASE_URL: 'http://127.0.0.1:11434/v1',
      ANTHROPIC_API_KEY: 'sk-ant',
      VDM_STORE: `sqlite:${join(dir, 'usage.db')}`,
      VDM_INSTANCE_ID: 'gw-1',
    });
    expect(warnings(lines)).toEqual([]);
    const info = lines.filter((l) => l.level === INFO).map((l) => l.msg);
    expect(info).toContain('Authentication on: PROXY_API_KEY (admin) and 2 client keys from VDM_CLIENT_KEYS_FILE');
    expect(info).toContain(
      'Providers: anthropic (anthropic, https://api.anthropic.com), ollama (openai, http://127.0.0.1:11434/v1), openai (openai, https://api.openai.com/v1); default openai',
    );
    expect(info).toContainEqual(expect.stringMatching(new RegExp(`^Prices: ${prices} \\(1 entry, VDM_PRICES_FILE\\), then the bundled catalog`)));
    expect(info).toContain(`Usage store: SQLite ${join(dir, 'usage.db')}, instance gw-1`);
  }, 30_000);
});

describe('the scrape key docker compose sends (VDM_SCRAPE_KEY)', () => {
  const keysFile = (): string => {
    const path = join(dir, 'scrape-keys.yaml');
    writeFileSync(path, 'clients:\n  - name: team-a\n    key: sk-team-a-key\n  - name: scraper\n    key: sk-scraper-key\n    role: scrape\n');
    return path;
  };
  const scrape = (url: string, key: string): Promise<number> =>
    fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${key}` } }).then((r) => r.status);

  it('is a scrape key of its own when it is none of the gateway\'s keys: /metrics and the json_exporter feed answer, /v1 and the rest do not', async () => {
    const statuses: Record<string, number> = {};
    const { lines } = await startLines({ VDM_CLIENT_KEYS_FILE: keysFile(), VDM_SCRAPE_KEY: 'sk-separate-scrape-key' }, async (url) => {
      const get = (path: string): Promise<number> => fetch(`${url}${path}`, { headers: { authorization: 'Bearer sk-separate-scrape-key' } }).then((r) => r.status);
      statuses.metrics = await get('/metrics');
      statuses.feed = await get('/metrics/running-totals?format=json');
      statuses.yaml = await get('/metrics/running-totals');
      statuses.logs = await get('/metrics/logs');
      statuses.models = await get('/v1/models');
    });
    expect(statuses).toEqual({ metrics: 200, feed: 200, yaml: 403, logs: 403, models: 403 });
    expect(warnings(lines)).toEqual([]);
    expect(lines.map((l) => l.msg)).toContain('Authentication on: 2 client keys from VDM_CLIENT_KEYS_FILE (1 client, 1 scrape) and VDM_SCRAPE_KEY (scrape)');
  }, 30_000);

  it('warns when it is a client key\'s, whose role may not scrape, as the scrapes get 403', async () => {
    let status = 0;
    const { lines } = await startLines({ VDM_CLIENT_KEYS_FILE: keysFile(), VDM_SCRAPE_KEY: 'sk-team-a-key' }, async (url) => {
      status = await scrape(url, 'sk-team-a-key');
    });
    expect(status).toBe(403);
    expect(warnings(lines)).toEqual([
      'VDM_SCRAPE_KEY is the key of client team-a, whose role (client) may not read /metrics: Prometheus and json_exporter get 403; give that entry `role: scrape` in VDM_CLIENT_KEYS_FILE, or set VDM_SCRAPE_KEY to a key of its own',
    ]);
  }, 30_000);

  it('says nothing when it is a scrape key of the keys file, and the scrape answers', async () => {
    let status = 0;
    const { lines } = await startLines({ VDM_CLIENT_KEYS_FILE: keysFile(), VDM_SCRAPE_KEY: 'sk-scraper-key' }, async (url) => {
      status = await scrape(url, 'sk-scraper-key');
    });
    expect(status).toBe(200);
    expect(warnings(lines)).toEqual([]);
    expect(lines.map((l) => JSON.stringify(l)).join('\n')).not.toContain('sk-scraper-key');
  }, 30_000);
});
