import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { FakeUpstream } from '../fakes/fake-upstream';
import type { ActiveRequestsHub } from '../../src/metrics/active-requests.hub';
import type { TrackerService } from '../../src/metrics/tracker.service';
import { startApp, type RunningApp } from './app';
import { eventually } from './sse-client';
import { fakeProviderEnv } from './traffic';

/** What a file's upstream must offer: where it listens, and a way to stop it. */
export interface Upstream {
  readonly url: string;
  close(): Promise<void>;
}

type Env = Record<string, string>;
type StartOptions = Parameters<typeof startApp>[1];

export interface GatewayOptions<U extends Upstream> {
  /** Starts the file's upstream (default: the fake upstream speaking the providers' wire protocols). */
  upstream?: () => Promise<U>;
  /** `test` (default): each test boots the gateway it needs, closed after it. `file`: one gateway, booted before the file's tests. */
  per?: 'test' | 'file';
}

/**
 * The gateway under test, listening on loopback, in front of an upstream started once per file.
 * It is also the RunningApp booted last (`url`, `app`, `tracker`, `hub`).
 */
export interface Gateway<U extends Upstream = FakeUpstream> extends RunningApp {
  /** The file's upstream. */
  readonly fake: U;
  /** Starts a gateway with the file's environment plus `extra` (a variable set to undefined is left out); the one before it is closed. */
  boot(extra?: Record<string, string | undefined>, options?: StartOptions): Promise<RunningApp>;
  /** The newest finished request's trace from /metrics/logs, once no request is in flight. */
  lastTrace(): Promise<any>;
  /** /metrics/running-totals as JSON. */
  totals(): Promise<any>;
}

/** The newest finished request's trace from a gateway's /metrics/logs, once no request is in flight there. */
export async function lastTrace(app: RunningApp, headers: Record<string, string> = {}): Promise<any> {
  await eventually(() => app.tracker.activeCount === 0);
  const logs = (await (await fetch(`${app.url}/metrics/logs?limit_traces=1`, { headers })).json()) as { traces: unknown[] };
  return logs.traces[0];
}

/**
 * One gateway fixture for an e2e file: starts the upstream before the file's tests and stops it
 * after them, closes the gateway after each test (or after the file with `per: 'file'`). `env` is the
 * gateway's environment, or a function of the upstream (default: the fake as the anthropic and openai providers).
 */
export function useGateway(env?: Env | ((fake: FakeUpstream) => Env), options?: GatewayOptions<FakeUpstream>): Gateway;
export function useGateway<U extends Upstream>(env: Env | ((fake: U) => Env), options: GatewayOptions<U> & { upstream: () => Promise<U> }): Gateway<U>;
export function useGateway<U extends Upstream>(
  env: Env | ((fake: U) => Env) = fakeProviderEnv as unknown as (fake: U) => Env,
  options: GatewayOptions<U> = {},
): Gateway<U> {
  const startUpstream = options.upstream ?? ((() => FakeUpstream.start()) as unknown as () => Promise<U>);
  let upstream: U | undefined;
  let running: RunningApp | undefined;
  let bootEnv: Env = {};

  const current = (): RunningApp => {
    if (running === undefined) throw new Error('the gateway is not booted: call boot() first');
    return running;
  };
  const close = async (): Promise<void> => {
    const app = running;
    running = undefined;
    await app?.close();
  };
  const keyHeader = (): Record<string, string> => (bootEnv.PROXY_API_KEY === undefined ? {} : { 'x-api-key': bootEnv.PROXY_API_KEY });

  const gateway: Gateway<U> = {
    get fake(): U {
      if (upstream === undefined) throw new Error('the upstream starts before the first test');
      return upstream;
    },
    get app(): NestFastifyApplication {
      return current().app;
    },
    get url(): string {
      return current().url;
    },
    get tracker(): TrackerService {
      return current().tracker;
    },
    get hub(): ActiveRequestsHub {
      return current().hub;
    },
    close,
    async boot(extra = {}, startOptions) {
      await close();
      const merged = { ...(typeof env === 'function' ? env(gateway.fake) : env), ...extra };
      bootEnv = Object.fromEntries(Object.entries(merged).filter((e): e is [string, string] => e[1] !== undefined));
      running = await startApp(bootEnv, startOptions);
      return running;
    },
    lastTrace: () => lastTrace(current(), keyHeader()),
    totals: async () => (await fetch(`${current().url}/metrics/running-totals?format=json`, { headers: keyHeader() })).json(),
  };

  beforeAll(async () => {
    upstream = await startUpstream();
    if (options.per === 'file') await gateway.boot();
  });
  if (options.per !== 'file') afterEach(close);
  afterAll(async () => {
    await close();
    await upstream?.close();
  });
  return gateway;
}
