import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeUpstream } from '../fakes/fake-upstream';
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
