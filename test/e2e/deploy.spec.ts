import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { posix, resolve } from 'node:path';
import * as semver from 'semver';
import { loadClientKeys } from '../../src/config/client-keys';
import { loadPricesFile } from '../../src/config/prices-file';
import { load } from 'js-yaml';
import { describe, expect, it } from 'vitest';

/** No Docker engine runs here: these check what each service is configured to do, natively. */
const ROOT = resolve(__dirname, '../..');
const read = (path: string): string => readFileSync(resolve(ROOT, path), 'utf8');
const compose = load(read('docker-compose.yml')) as any;
const prometheus = load(read('deploy/prometheus/prometheus.yml')) as any;

/** Compose's `${VAR:-default}` interpolation with nothing set in `.env`. */
const interpolate = (value: string): string => value.replace(/\$\{\w+:-([^}]*)\}/g, '$1');

function mounts(service: string): Map<string, string> {
  return new Map(compose.services[service].volumes.filter((v: string) => v.startsWith('./')).map((v: string) => {
    const [host, container] = v.split(':');
    return [container, host];
  }));
}

/** The runtime stage's working directory, against which the gateway resolves relative paths. */
const workdir = (): string => {
  const dockerfile = read('Dockerfile');
  return [...dockerfile.slice(dockerfile.lastIndexOf('FROM ')).matchAll(/^WORKDIR (\S+)$/gm)].at(-1)![1];
};

/** Every `VDM_PRICES_FILE=...` and `VDM_CLIENT_KEYS_FILE=...` a file shows, commented or not. */
const documentedFiles = (path: string): { variable: string; value: string }[] =>
  [...read(path).matchAll(/\b(VDM_PRICES_FILE|VDM_CLIENT_KEYS_FILE)=([^\s`'",;)]+)/g)].map((m) => ({ variable: m[1], value: m[2] }));

describe('docker-compose.yml', () => {
  it('runs the gateway, json_exporter, Prometheus and Grafana on the documented ports, on loopback unless told otherwise', () => {
    const ports = Object.fromEntries(Object.entries(compose.services).map(([name, s]: [string, any]) => [name, s.ports.map(interpolate)]));
    expect(ports).toEqual({
      gateway: ['127.0.0.1:8082:8082'], 'json-exporter': ['127.0.0.1:7979:7979'], prometheus: ['127.0.0.1:9090:9090'], grafana: ['127.0.0.1:3000:3000'],
    });
    // json_exporter sends the key to whatever target a probe names: it never gets a wider address.
    expect(compose.services['json-exporter'].ports).toEqual(['127.0.0.1:7979:7979']);
    const readme = read('README.md');
    for (const port of ['8082', '7979', '9090', '3000']) expect(readme).toContain(port);
    expect(compose.services.gateway.build).toBe('.');
  });

  it('mounts files that exist, where each program reads them', () => {
    for (const service of ['json-exporter', 'prometheus', 'grafana']) {
      for (const host of mounts(service).values()) expect(existsSync(resolve(ROOT, host)), host).toBe(true);
    }
    expect(compose.services['json-exporter'].command).toContain(`--config.file=${[...mounts('json-exporter').keys()][0]}`);
    expect(compose.services.prometheus.command).toContain('--config.file=/etc/prometheus/prometheus.yml');
    expect(mounts('prometheus').get('/etc/prometheus/prometheus.yml')).toBe('./deploy/prometheus/prometheus.yml');
    expect(mounts('grafana').get('/etc/grafana/provisioning')).toBe('./deploy/grafana/provisioning');
    const provider = (load(read('deploy/grafana/provisioning/dashboards/vandamme.yml')) as any).providers[0];
    expect(mounts('grafana').get(provider.options.path)).toBe('./deploy/grafana/dashboards');
    expect(compose.services.gateway.stop_grace_period).toBe('15s');
  });

  it('keeps /metrics behind a key: the scrapers present VDM_SCRAPE_KEY (else PROXY_API_KEY) from a mounted file, the scrape key the gateway takes from .env', () => {
    expect(compose.services.gateway.environment?.VDM_METRICS_PUBLIC).toBeUndefined();
    const { content } = compose.configs.scrape_key;
    expect(content).toMatch(/^\$\{VDM_SCRAPE_KEY:-\$\{PROXY_API_KEY:-[^}]+\}\}$/);
    // VDM_SCRAPE_KEY reaches the gateway from .env only: a placeholder passed here would become a scrape key anyone knows.
    expect(compose.services.gateway.environment.VDM_SCRAPE_KEY).toBeUndefined();
    expect(compose.services.gateway.env_file).toContainEqual({ path: '.env', required: false });
    const mountedAt = (service: string): string[] =>
      (compose.services[service].configs ?? []).filter((c: any) => c.source === 'scrape_key').map((c: any) => c.target);

    const job = prometheus.scrape_configs.find((j: any) => j.job_name === 'vandamme-gateway');
    expect(job.authorization.type ?? 'Bearer').toBe('Bearer');
    expect(mountedAt('prometheus')).toEqual([job.authorization.credentials_file]);

    const exporter = (load(read('deploy/json-exporter/config.yml')) as any).modules.running_totals.http_client_config;
    expect(exporter.authorization.type ?? 'Bearer').toBe('Bearer');
    expect(mountedAt('json-exporter')).toEqual([exporter.authorization.credentials_file]);
    expect(mountedAt('gateway')).toEqual([]);
  });

  it('needs the Compose version the README names', () => {
    // `env_file` entries with `required` came in Compose 2.24.0.
    const optional = compose.services.gateway.env_file.some((e: any) => typeof e === 'object' && e.required === false);
    expect(optional).toBe(true);
    const named = [...read('README.md').matchAll(/Compose (\d+\.\d+\.\d+) or later/g)].map((m) => m[1]);
    expect(named.length).toBeGreaterThan(0);
    for (const version of named) expect(semver.gte(version, '2.24.0'), version).toBe(true);
  });
  it('has Prometheus scrape the native endpoint and json_exporter at their compose addresses', () => {
    const jobs = Object.fromEntries(prometheus.scrape_configs.map((j: any) => [j.job_name, j]));
    expect(jobs['vandamme-gateway']).toMatchObject({ metrics_path: '/metrics', static_configs: [{ targets: ['gateway:8082'] }] });
    const json = jobs['vandamme-json'];
    expect(json.metrics_path).toBe('/probe');
    expect(json.params.module).toEqual([Object.keys((load(read('deploy/json-exporter/config.yml')) as any).modules)[0]]);
    expect(json.static_configs[0].targets[0]).toMatch(/^http:\/\/gateway:8082\/metrics\/running-totals\?format=json/);
    expect(json.relabel_configs.at(-1)).toEqual({ target_label: '__address__', replacement: 'json-exporter:7979' });
    // The usage store's state from the public /health, through json_exporter's module without credentials.
    const health = jobs['vandamme-health'];
    expect(health).toMatchObject({ metrics_path: '/probe', params: { module: ['health'] }, static_configs: [{ targets: ['http://gateway:8082/health'] }] });
    expect(health.relabel_configs).toEqual(json.relabel_configs);
    expect((load(read('deploy/json-exporter/config.yml')) as any).modules.health.http_client_config).toBeUndefined();
  });
});

describe('the config folder (prices and client keys)', () => {
  it('is mounted read-only into the gateway, and ships examples the gateway accepts', () => {
    expect(compose.services.gateway.volumes).toContain(`./config:${posix.join(workdir(), 'config')}:ro`);
    expect(loadPricesFile(resolve(ROOT, 'config/prices.example.yaml')).overrides.length).toBeGreaterThan(0);
    expect(loadClientKeys(resolve(ROOT, 'config/clients.example.yaml')).length).toBeGreaterThan(0);
  });

  it.each(['.env.example', 'README.md', 'docker-compose.yml', 'config/prices.example.yaml', 'config/clients.example.yaml'])(
    '%s points VDM_PRICES_FILE and VDM_CLIENT_KEYS_FILE into a folder compose mounts, where an example exists',
    (file) => {
      const documented = documentedFiles(file);
      if (file === '.env.example' || file === 'docker-compose.yml') expect(documented.map((d) => d.variable).sort()).toEqual(['VDM_CLIENT_KEYS_FILE', 'VDM_PRICES_FILE']);
      const mounted = mounts('gateway');
      for (const { variable, value } of documented) {
        const inContainer = posix.resolve(workdir(), value);
        const mount = [...mounted.keys()].find((container) => inContainer.startsWith(`${container}/`));
        expect(mount, `${variable}=${value} in ${file}`).toBeDefined();
        const onHost = posix.join(mounted.get(mount!)!, posix.relative(mount!, inContainer));
        expect(existsSync(resolve(ROOT, onHost.replace(/\.yaml$/, '.example.yaml'))), `${onHost} (an example beside it)`).toBe(true);
      }
    },
  );

  it('keeps the real files (keys) out of git, the examples in', () => {
    const ignored = (path: string): boolean => {
      try {
        execFileSync('git', ['check-ignore', '-q', path], { cwd: ROOT });
        return true;
      } catch {
        return false;
      }
    };
    expect([ignored('config/clients.yaml'), ignored('config/prices.yaml'), ignored('.env')]).toEqual([true, true, true]);
    expect([ignored('config/clients.example.yaml'), ignored('config/prices.example.yaml'), ignored('.env.example')]).toEqual([false, false, false]);
  });
});

describe('Dockerfile', () => {
  const dockerfile = read('Dockerfile');
  const stages = dockerfile.split('\n').filter((l) => l.startsWith('FROM '));

  it('is multi-stage and ships production dependencies only', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(dockerfile).toMatch(/npm ci --omit=dev/);
    const runtime = dockerfile.slice(dockerfile.lastIndexOf('FROM '));
    expect(runtime).not.toMatch(/npm ci(?! --omit=dev)/);
    expect(runtime).toContain('COPY --from=deps');
  });

  it('runs as a non-root user, checks /health, and lets node receive SIGTERM', () => {
    const runtime = dockerfile.slice(dockerfile.lastIndexOf('FROM '));
    expect(runtime).toMatch(/^USER (node|\d{3,})$/m);
    expect(runtime).toMatch(/^HEALTHCHECK .*\n?.*\/health/m);
    expect(runtime).toMatch(/^CMD \["node", "dist\/main.js"\]$/m);
    expect(runtime).toMatch(/^STOPSIGNAL SIGTERM$/m);
  });

  it('builds what the build script produces and starts what start:prod runs', () => {
    const pkg = JSON.parse(read('package.json'));
    expect(pkg.scripts['start:prod']).toBe('node dist/main.js');
    expect(dockerfile).toContain('RUN npm run build');
    expect(read('.dockerignore')).toMatch(/^node_modules$/m);
  });

  it('keeps .env and the config folder (keys) out of the build context', () => {
    const ignored = read('.dockerignore').split('\n').map((l) => l.trim());
    expect(ignored).toEqual(expect.arrayContaining(['.env', '.env.*', 'config']));
  });
});
