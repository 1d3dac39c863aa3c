import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, type AppConfig } from './app-config';

function problemsOf(load: () => unknown): string[] {
  try {
    load();
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe(loadConfig.name, () => {
  it('applies the contract defaults to an empty environment', () => {
    const sut = loadConfig({});
    expect(sut).toMatchObject({
      host: '0.0.0.0',
      port: 8082,
      logLevel: 'info',
      metricsEnabled: true,
      summaryInterval: 100,
      sse: { enabled: true, intervalMs: 500, heartbeatMs: 30_000 },
      requestTimeoutMs: 90_000,
      streamingConnectTimeoutMs: 30_000,
      streamingReadTimeoutMs: 90_000,
      bodyLimitBytes: 32 * 1024 * 1024,
    });
    expect(sut.proxyApiKey).toBeUndefined();
  });

  it('reads booleans and numbers in their usual spellings', () => {
    const sut = loadConfig({
      LOG_REQUEST_METRICS: 'False',
      VDM_ACTIVE_REQUESTS_SSE_INTERVAL_SECONDS: '0.25',
      REQUEST_TIMEOUT_SECONDS: '12',
      PORT: '0',
    });
    expect(sut.metricsEnabled).toBe(false);
    expect(sut.sse.intervalMs).toBe(250);
    expect(sut.streamingReadTimeoutMs).toBe(12_000);
    expect(sut.port).toBe(0);
  });

  it.each([
    ['PORT', 'abc', 'port number'],
    ['PORT', '70000', 'port number'],
    ['LOG_REQUEST_METRICS', 'maybe', 'true or false'],
    ['VDM_ACTIVE_REQUESTS_SSE_INTERVAL_SECONDS', '-1', 'greater than 0'],
    ['VDM_ACTIVE_REQUESTS_SSE_HEARTBEAT_SECONDS', 'soon', 'seconds'],
    ['LOG_SUMMARY_INTERVAL_REQUESTS', '2.5', 'whole number'],
    // An old name is checked the same way, and the line names the variable as written.
    ['VDM_ACTIVE_REQUESTS_SSE_INTERVAL', '-1', 'greater than 0'],
    ['REQUEST_TIMEOUT', 'soon', 'seconds'],
    ['LOG_SUMMARY_INTERVAL', '2.5', 'whole number'],
    ['LOG_LEVEL', 'loud', 'one of'],
  ])('rejects %s=%s with one line naming it', (name, value, hint) => {
    let error: unknown;
    try {
      loadConfig({ [name]: value });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(`${name}=${JSON.stringify(value)}`);
    expect(problems[0]).toContain(hint);
  });

  const BOOLEANS: [string, (c: AppConfig) => boolean][] = [
    ['LOG_PRETTY', (c) => c.logPretty],
    ['LOG_REQUEST_METRICS', (c) => c.metricsEnabled],
    ['VDM_ACTIVE_REQUESTS_SSE_ENABLED', (c) => c.sse.enabled],
    ['VDM_METRICS_PUBLIC', (c) => c.metricsPublic],
  ];
  const SPELLINGS: [string, boolean][] = ['true', '1', 'yes', 'on', 'TRUE', 'Yes', 'ON']
    .map((v): [string, boolean] => [v, true])
    .concat(['false', '0', 'no', 'off', 'False', 'NO', 'Off'].map((v): [string, boolean] => [v, false]));

  it.each(BOOLEANS)('reads %s as true/false, 1/0, yes/no, on/off in any case', (name, read) => {
    for (const [value, expected] of SPELLINGS) expect(read(loadConfig({ [name]: value })), `${name}=${value}`).toBe(expected);
  });

  it.each(BOOLEANS.flatMap(([name]) => ['maybe', '', 'tru', '2', 'y'].map((value) => [name, value])))(
    'rejects %s=%j with one line saying what it accepts',
    (name, value) => {
      const problems = problemsOf(() => loadConfig({ [name]: value }));
      expect(problems).toEqual([`Invalid configuration: ${name}=${JSON.stringify(value)} must be true or false (also 1/0, yes/no, on/off)`]);
    },
  );

  it('rejects a VDM_DEFAULT_PROVIDER that is not configured, demo mode included, naming what it accepts', () => {
    expect(problemsOf(() => loadConfig({ VDM_DEFAULT_PROVIDER: 'nope' }))).toEqual([
      'Invalid configuration: VDM_DEFAULT_PROVIDER="nope" must name a configured provider (demo: no provider is configured)',
    ]);
    expect(loadConfig({ VDM_DEFAULT_PROVIDER: 'Demo' }).providers).toMatchObject({ usesDemo: true, defaultProvider: 'demo' });
  });

  it('refuses a PROXY_API_KEY longer than a client may present, without echoing it', () => {
    const key = `gw-${'k'.repeat(510)}`;
    expect(problemsOf(() => loadConfig({ PROXY_API_KEY: key }))).toEqual(['Invalid configuration: PROXY_API_KEY=(513 characters) must be at most 512 characters']);
    expect(loadConfig({ PROXY_API_KEY: key.slice(1) }).proxyApiKey).toBe(key.slice(1));
  });

  it('lists every bad variable at once', () => {
    expect(() => loadConfig({ PORT: 'x', REQUEST_TIMEOUT_SECONDS: 'y' })).toThrow(/PORT.*\n.*REQUEST_TIMEOUT_SECONDS|REQUEST_TIMEOUT_SECONDS.*\n.*PORT/);
  });
});

describe('variables renamed to carry their unit', () => {
  const RENAMED: [old: string, current: string, value: string, read: (c: AppConfig) => number, expected: number][] = [
    ['REQUEST_TIMEOUT', 'REQUEST_TIMEOUT_SECONDS', '12', (c) => c.requestTimeoutMs, 12_000],
    ['LOG_SUMMARY_INTERVAL', 'LOG_SUMMARY_INTERVAL_REQUESTS', '7', (c) => c.summaryInterval, 7],
    ['VDM_ACTIVE_REQUESTS_SSE_INTERVAL', 'VDM_ACTIVE_REQUESTS_SSE_INTERVAL_SECONDS', '0.25', (c) => c.sse.intervalMs, 250],
    ['VDM_ACTIVE_REQUESTS_SSE_HEARTBEAT', 'VDM_ACTIVE_REQUESTS_SSE_HEARTBEAT_SECONDS', '4', (c) => c.sse.heartbeatMs, 4_000],
    ['DEMO_TOKEN_DELAY', 'DEMO_TOKEN_DELAY_SECONDS', '0.002', (c) => c.demoTokenDelayMs, 2],
  ];

  it.each(RENAMED)('reads %s under its new name %s, with no warning', (_old, current, value, read, expected) => {
    const config = loadConfig({ [current]: value });
    expect(read(config)).toBe(expected);
    expect(config.warnings).toEqual([]);
  });

  it.each(RENAMED)('still reads the old name %s (the same unit), and warns once naming %s', (old, current, value, read, expected) => {
    const config = loadConfig({ [old]: value });
    expect(read(config)).toBe(expected);
    expect(config.warnings).toEqual([`Deprecated variable names, read for now; rename them: ${old} → ${current}`]);
  });

  it.each(RENAMED)('with both %s and %s set, the new name wins and the line says so', (old, current, value, read, expected) => {
    const config = loadConfig({ [old]: '999', [current]: value });
    expect(read(config)).toBe(expected);
    expect(config.warnings).toEqual([
      `Deprecated variable names, read for now; rename them: ${old} → ${current} (both are set: ${current} wins, ${old} is ignored)`,
    ]);
  });

  it('names every old name in use on one line', () => {
    const config = loadConfig({ REQUEST_TIMEOUT: '5', DEMO_TOKEN_DELAY: '0', DEMO_TOKEN_DELAY_SECONDS: '0.01' });
    expect(config.warnings).toEqual([
      'Deprecated variable names, read for now; rename them: REQUEST_TIMEOUT → REQUEST_TIMEOUT_SECONDS, ' +
        'DEMO_TOKEN_DELAY → DEMO_TOKEN_DELAY_SECONDS (both are set: DEMO_TOKEN_DELAY_SECONDS wins, DEMO_TOKEN_DELAY is ignored)',
    ]);
    expect(config.requestTimeoutMs).toBe(5_000);
    expect(config.streamingReadTimeoutMs).toBe(5_000);
    expect(config.demoTokenDelayMs).toBe(10);
  });

  it('never suggests an old name for a misspelling', () => {
    expect(loadConfig({ REQUEST_TIMEOUTS: '30' }).warnings).toEqual(['Unknown variable REQUEST_TIMEOUTS is ignored; did you mean REQUEST_TIMEOUT_SECONDS?']);
  });

  describe('reconciliation', () => {
    const admin = { OPENAI_API_KEY: 'sk-openai-1234', OPENAI_ADMIN_KEY: 'sk-admin-abcdef123456', VDM_STORE: 'sqlite:/tmp/x.db' };

    it('reads the admin key, the billing URL and the key id per provider, with the defaults of the contract', () => {
      const config = loadConfig({ ...admin, ANTHROPIC_API_KEY: 'sk-ant-1', ANTHROPIC_ADMIN_KEY: 'sk-ant-admin01-x', ANTHROPIC_BILLING_URL: 'http://127.0.0.1:9/', ANTHROPIC_API_KEY_ID: 'apikey_01Rj2N8S' });
      expect(config.providers.providers.get('openai')!.billing).toEqual({ format: 'openai', adminKey: 'sk-admin-abcdef123456', baseUrl: 'https://api.openai.com/v1', apiKeyId: undefined });
      expect(config.providers.providers.get('anthropic')!.billing).toEqual({ format: 'anthropic', adminKey: 'sk-ant-admin01-x', baseUrl: 'http://127.0.0.1:9', apiKeyId: 'apikey_01Rj2N8S' });
      expect(config.reconciliation).toEqual({ intervalMs: 3_600_000, days: 7, tolerance: 0.01 });
      expect(loadConfig({ ...admin, VDM_RECONCILE_INTERVAL: '30m', VDM_RECONCILE_DAYS: '31', VDM_RECONCILE_TOLERANCE: '0.05' }).reconciliation).toEqual({ intervalMs: 1_800_000, days: 31, tolerance: 0.05 });
      expect(loadConfig({ ...admin, VDM_RECONCILE_INTERVAL: '7200' }).reconciliation.intervalMs).toBe(7_200_000);
      expect(loadConfig({ OPENAI_API_KEY: 'k' }).providers.providers.get('openai')!.billing).toBeUndefined();
    });

    it('needs a usage store, and says so in one line', () => {
      expect(problemsOf(() => loadConfig({ ...admin, VDM_STORE: 'none' }))).toEqual([
        expect.stringMatching(/^Invalid configuration: OPENAI_ADMIN_KEY turns on reconciliation .* there is none \(VDM_STORE=none or LOG_REQUEST_METRICS=false\): set VDM_STORE=sqlite:<path> or postgres/),
      ]);
      expect(problemsOf(() => loadConfig({ ...admin, LOG_REQUEST_METRICS: 'false' }))).toHaveLength(1);
    });

    it('refuses bad values with one line each, never echoing the admin key', () => {
      const problems = problemsOf(() =>
        loadConfig({ ...admin, OPENAI_BILLING_URL: 'ftp://x', OPENAI_API_KEY_ID: 'key id!', VDM_RECONCILE_INTERVAL: '10s', VDM_RECONCILE_DAYS: '0', VDM_RECONCILE_TOLERANCE: '2' }),
      );
      expect(problems).toHaveLength(5);
      expect(problems.join('\n')).not.toContain('sk-admin-abcdef123456');
      expect(problemsOf(() => loadConfig({ OPENAI_API_KEY: 'k', OPENAI_BILLING_URL: 'http://x' }))).toEqual([
        "Invalid configuration: OPENAI_BILLING_URL is set but OPENAI_ADMIN_KEY is not; reconciliation needs the provider's admin key",
      ]);
    });

    it('warns about an admin key of no configured provider', () => {
      expect(loadConfig({ OPENAI_API_KEY: 'k', GROQ_ADMIN_KEY: 'x' }).warnings).toContain('Ignoring GROQ_ADMIN_KEY: no provider groq is configured (set GROQ_API_KEY to reconcile its billing)');
    });
  });
});
