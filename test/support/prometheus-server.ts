import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dump } from 'js-yaml';

/** A loopback port nobody listens on right now. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface PromVectorSample {
  metric: Record<string, string>;
  value: [number, string];
}

/** A real `prometheus` process (Debian's package) on loopback with a throwaway TSDB. */
export class PrometheusServer {
  private output = '';

  private constructor(
    readonly url: string,
    private readonly child: ChildProcess,
    private readonly dir: string,
  ) {
    child.stdout?.on('data', (d: Buffer) => (this.output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (this.output += d.toString()));
  }

  static async start(config: unknown, binary = 'prometheus'): Promise<PrometheusServer> {
    const dir = mkdtempSync(join(tmpdir(), 'vdm-prometheus-'));
    const configFile = join(dir, 'prometheus.yml');
    writeFileSync(configFile, dump(config));
    const port = await freePort();
    const child = spawn(binary, [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ], { stdio: ['ignore', 'pipe', 'pipe'] });
    const spawned = new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', (e) => reject(new Error(`cannot run ${binary} (CI installs Debian's prometheus package): ${e.message}`)));
    });
    await spawned;
    const server = new PrometheusServer(`http://127.0.0.1:${port}`, child, dir);
    await server.poll(async () => (await fetch(`${server.url}/-/ready`).catch(() => undefined))?.ok === true, 'Prometheus never became ready');
    return server;
  }

  /** Bounded polling, no timed assertions: up to `tries` turns of `everyMs`. */
  async poll(check: () => Promise<boolean>, what: string, tries = 240, everyMs = 250): Promise<void> {
    for (let i = 0; i < tries; i++) {
      if (this.child.exitCode !== null) throw new Error(`prometheus exited (${this.child.exitCode}):\n${this.output}`);
      if (await check()) return;
      await new Promise((r) => setTimeout(r, everyMs));
    }
    throw new Error(`${what}\n${this.output.slice(-4000)}`);
  }

  /** An instant query over the HTTP API; throws on a PromQL error. */
  async query(promql: string): Promise<PromVectorSample[]> {
    const res = await fetch(`${this.url}/api/v1/query?${new URLSearchParams({ query: promql }).toString()}`);
    const body = (await res.json()) as { status: string; error?: string; data?: { resultType: string; result: unknown } };
    if (body.status !== 'success') throw new Error(`PromQL error for ${promql}: ${body.error}`);
    if (body.data?.resultType === 'scalar') return [{ metric: {}, value: body.data.result as [number, string] }];
    return body.data?.result as PromVectorSample[];
  }

  /** The single value of a query that yields one sample. */
  async value(promql: string): Promise<number> {
    const result = await this.query(promql);
    if (result.length !== 1) throw new Error(`${promql} gave ${result.length} samples: ${JSON.stringify(result)}`);
    return Number(result[0].value[1]);
  }

  async targets(): Promise<{ job: string; health: string; lastError: string; lastScrape: string }[]> {
    const body = (await (await fetch(`${this.url}/api/v1/targets`)).json()) as any;
    return body.data.activeTargets.map((t: any) => ({ job: t.labels.job, health: t.health, lastError: t.lastError, lastScrape: t.lastScrape }));
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null) {
      const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
      this.child.kill('SIGTERM');
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
