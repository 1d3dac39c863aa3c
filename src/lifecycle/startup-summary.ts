import type { AppConfig } from '../config/app-config';
import { keyDigest } from '../core/client-key';
import { CATALOG_NAME, CATALOG_VERSION } from '../metrics/pricing/catalog';

export interface SummaryLine {
  level: 'info' | 'warn';
  msg: string;
}

/** A URL without its password, for a log line. */
function withoutPassword(url: string): string {
  try {
    const parsed = new URL(url);
    if (!parsed.password) return url;
    parsed.password = '***';
    return parsed.toString();
  } catch {
    return url;
  }
}

function authentication(config: AppConfig, reach: string): SummaryLine {
  const keys = config.clientKeys.length;
  if (config.proxyApiKey === undefined && keys === 0) {
    return {
      level: 'warn',
      msg:
        `Open mode: no PROXY_API_KEY and no VDM_CLIENT_KEYS_FILE, so anyone who can reach ${reach} can use the providers' keys ` +
        'and read all usage; set PROXY_API_KEY to require a key',
    };
  }
  const byRole = (['admin', 'client', 'scrape'] as const)
    .map((role) => [role, config.clientKeys.filter((c) => c.role === role).length] as const)
    .filter(([, n]) => n > 0)
    .map(([role, n]) => `${n} ${role}`);
  const parts = [
    ...(config.proxyApiKey === undefined ? [] : ['PROXY_API_KEY (admin)']),
    ...(keys === 0 ? [] : [`${keys} client ${keys === 1 ? 'key' : 'keys'} from VDM_CLIENT_KEYS_FILE${config.clientKeys.some((c) => c.role !== 'client') ? ` (${byRole.join(', ')})` : ''}`]),
    ...(separateScrapeKey(config) ? ['VDM_SCRAPE_KEY (scrape)'] : []),
  ];
  const metrics = config.metricsPublic ? '; /metrics is public (VDM_METRICS_PUBLIC)' : '';
  return { level: 'info', msg: `Authentication on: ${parts.join(' and ')}${metrics}` };
}

/** VDM_SCRAPE_KEY is a key of its own (none of PROXY_API_KEY and the keys file's), so it adds a scrape key. */
function separateScrapeKey(config: AppConfig): boolean {
  if (config.scrapeKey === undefined) return false;
  if (config.proxyApiKey !== undefined && config.proxyApiKey === config.scrapeKey) return false;
  return config.clientKeys.every((c) => !keyDigest(config.scrapeKey!).equals(c.sha256));
}

/** VDM_SCRAPE_KEY (what docker compose's scrapers send) that is a client key's: its role may not scrape, so the scrapes get 403. */
function scrapeKey(config: AppConfig): SummaryLine[] {
  if (config.scrapeKey === undefined || (config.proxyApiKey !== undefined && config.proxyApiKey === config.scrapeKey)) return [];
  const digest = keyDigest(config.scrapeKey);
  const entry = config.clientKeys.find((c) => digest.equals(c.sha256));
  if (entry === undefined || entry.role !== 'client') return [];
  return [{
    level: 'warn',
    msg:
      `VDM_SCRAPE_KEY is the key of client ${entry.name}, whose role (client) may not read /metrics: Prometheus and json_exporter get 403; ` +
      'give that entry `role: scrape` in VDM_CLIENT_KEYS_FILE, or set VDM_SCRAPE_KEY to a key of its own',
  }];
}

function providers(config: AppConfig): string {
  const { providers: all, defaultProvider, usesDemo } = config.providers;
  if (usesDemo) return 'Providers: demo (built in; anthropic and openai)';
  const list = [...all.values()]
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((p) => Object.entries(p.baseUrls).map(([format, url]) => `${p.name} (${format}, ${withoutPassword(url)})`).join(', '));
  return `Providers: ${list.join(', ')}; default ${defaultProvider}`;
}

function prices(config: AppConfig): string {
  const catalog = `the bundled catalog ${CATALOG_NAME} ${CATALOG_VERSION}`;
  if (config.prices === undefined) return `Prices: ${catalog}`;
  const n = config.prices.overrides.length;
  return `Prices: ${config.prices.path} (${n} ${n === 1 ? 'entry' : 'entries'}, VDM_PRICES_FILE), then ${catalog}`;
}

function store(config: AppConfig): string {
  const { kind, location, instanceId } = config.store;
  if (!config.metricsEnabled) return 'Usage store: none (LOG_REQUEST_METRICS=false)';
  if (kind === 'none') return 'Usage store: none (VDM_STORE=none): usage is kept in memory and lost at restart';
  const where = kind === 'sqlite' ? `SQLite ${location}` : `PostgreSQL ${withoutPassword(location)}`;
  return `Usage store: ${where}, instance ${instanceId}`;
}

const EVERY_INTERFACE = new Set(['0.0.0.0', '::', '']);

/**
 * What the gateway runs with, in a few lines logged once it listens on `host` and `port`:
 * authentication (a warning in open mode), providers and their formats, where prices come from,
 * the usage store, the dashboard.
 */
export function startupSummary(config: AppConfig, host: string, port: number): SummaryLine[] {
  const everywhere = EVERY_INTERFACE.has(host);
  const shown = everywhere ? 'localhost' : host.includes(':') ? `[${host}]` : host;
  const origin = `http://${shown}:${port}`;
  return [
    authentication(config, everywhere ? `port ${port} of this machine` : `${shown}:${port}`),
    ...scrapeKey(config),
    { level: 'info', msg: providers(config) },
    { level: 'info', msg: prices(config) },
    { level: 'info', msg: store(config) },
    { level: 'info', msg: `Dashboard: ${origin}/dashboard` },
  ];
}
