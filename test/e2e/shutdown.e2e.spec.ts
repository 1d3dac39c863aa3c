import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeUpstream } from '../fakes/fake-upstream';
import { compileGateway, spawnGatewayProcess, type GatewayProcess } from '../support/gateway-process';
import { GracefulShutdown } from '../../src/lifecycle/graceful-shutdown';
import { startApp, type RunningApp } from '../support/app';
import { eventually } from '../support/sse-client';
import { fakeProviderEnv } from '../support/traffic';

let fake: FakeUpstream;
beforeAll(async () => {
  fake = await FakeUpstream.start();
});
afterAll(async () => {
  await fake.close();
});

function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** The SIGTERM path: drain, then close. */
async function shutdown(gw: RunningApp): Promise<void> {
  await gw.app.get(GracefulShutdown).drain();
  await gw.close();
}

function post(url: string, stream: boolean): Promise<Response> {
  return fetch(`${url}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': 'client' },
    body: JSON.stringify({ model: 'sonnet', max_tokens: 10, stream, messages: [{ role: 'user', content: 'hi' }] }),
  });
}

describe('graceful shutdown', () => {
  it('stops accepting, and lets an in-flight request finish within the grace period', async () => {
    const gw = await startApp({ ...fakeProviderEnv(fake), SHUTDOWN_GRACE_SECONDS: '30' });
    const release = deferred();
    const seen = fake.requests.length;
    fake.enqueue({ holdUntil: release.promise, text: 'finished' });
    const pending = post(gw.url, false);
    await fake.waitForRequests(seen + 1);

    const closing = shutdown(gw);
    await eventually(() => !gw.app.getHttpServer().listening);
    const late = await fetch(`${gw.url}/health`).then((r) => r.status, () => 'refused');
    expect([503, 'refused']).toContain(late);

    release.resolve();
    const res = await pending;
    expect(res.status).toBe(200);
    expect(((await res.json()) as any).content[0].text).toBe('finished');
    await closing;
    expect(gw.tracker.activeCount).toBe(0);
    expect(gw.tracker.recentTraces(1)[0]).toMatchObject({ status: 'ok', error_type: null });
  });

  it.each([false, true])('finalizes what is still in flight after the grace period as cancelled (stream: %s)', async (stream) => {
    const gw = await startApp({ ...fakeProviderEnv(fake), SHUTDOWN_GRACE_SECONDS: '0.2' });
    const never = deferred();
    const seen = fake.requests.length;
    fake.enqueue({ holdUntil: never.promise });
    const pending = post(gw.url, stream).then((r) => r.text()).catch((e: unknown) => e);
    await fake.waitForRequests(seen + 1);

    await shutdown(gw);
    await pending;
    expect(gw.tracker.activeCount).toBe(0);
    const [trace] = gw.tracker.recentTraces(1);
    expect(trace).toMatchObject({ status: 'error', error_type: 'cancelled', provider: 'anthropic', is_streaming: stream });
    expect(gw.tracker.runningTotals({}, true).summary.errors).toBe(1);
    never.resolve();
  });
});

describe('a gateway process shutting down', () => {
  let build: ReturnType<typeof compileGateway>;
  let dir: string;
  beforeAll(() => {
    build = compileGateway();
    dir = mkdtempSync(join(tmpdir(), 'vdm-shutdown-'));
  });
  afterAll(() => {
    build.remove();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Its JSON log lines' messages. */
  const messages = (proc: GatewayProcess): string[] =>
    proc.output().split('\n').filter((l) => l.startsWith('{')).map((l) => (JSON.parse(l) as { msg: string }).msg);
  const exitOf = (proc: GatewayProcess): Promise<number | null> => new Promise((r) => proc.child.once('exit', r));

  /** One finished request, whose row waits in the store's queue (flushed only at shutdown). */
  async function start(store: string, grace = '3600'): Promise<GatewayProcess> {
    const proc = await spawnGatewayProcess(build.main, {
      ...fakeProviderEnv(fake), LOG_LEVEL: 'info', SHUTDOWN_GRACE_SECONDS: grace, VDM_STORE: store, VDM_STORE_FLUSH_MS: '600000',
    });
    fake.enqueue({ text: 'done' });
    expect((await post(proc.url, false)).status).toBe(200);
    // The client can read the answer before the gateway's response has closed and its line is logged.
    await expect.poll(() => messages(proc), { timeout: 10_000 }).toContain('request completed');
    return proc;
  }

  it('exits at once on a second signal during the grace period, saying what it abandons', async () => {
    const proc = await start(`sqlite:${join(dir, 'second.db')}`);
    const exited = exitOf(proc);
    const never = deferred();
    const seen = fake.requests.length;
    fake.enqueue({ holdUntil: never.promise });
    const pending = post(proc.url, true).then((r) => r.text()).catch((e: unknown) => e);
    await fake.waitForRequests(seen + 1);

    proc.child.kill('SIGTERM');
    await expect.poll(() => messages(proc), { timeout: 10_000 }).toContain('Shutting down: waiting for in-flight requests');
    // The grace period is an hour: only the second signal can end the process within the test.
    proc.child.kill('SIGINT');
    expect(await exited).toBe(1);
    expect(messages(proc).slice(-1)).toEqual(['Second SIGINT: exiting now, abandoning 1 in-flight request and 1 queued usage store row']);
    await pending;
    never.resolve();
  }, 30_000);

  it('ends with one line: the rows written at shutdown, none left behind', async () => {
    const proc = await start(`sqlite:${join(dir, 'final.db')}`);
    const exited = exitOf(proc);
    proc.child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(messages(proc).slice(-1)).toEqual(['Shutdown complete: 1 usage store row written at shutdown (1 since start), none left behind']);
  }, 30_000);

  it('ends with one line naming the rows left behind when the store cannot be written', async () => {
    // A store path under a file: never writable.
    const blocker = join(dir, 'a-file');
    writeFileSync(blocker, '');
    const proc = await start(`sqlite:${join(blocker, 'usage.db')}`);
    const exited = exitOf(proc);
    proc.child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(messages(proc).slice(-1)).toEqual(['Shutdown complete: 0 usage store rows written at shutdown (0 since start), 1 row left behind, not written']);
  }, 30_000);

  it('says so when there is no store', async () => {
    const proc = await start('none');
    const exited = exitOf(proc);
    proc.child.kill('SIGINT');
    expect(await exited).toBe(0);
    expect(messages(proc).slice(-1)).toEqual(['Shutdown complete (no usage store)']);
  }, 30_000);
});
