import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { DestinationStream, Logger as Pino } from 'pino';
import { createApp } from '../../src/app.factory';
import { ActiveRequestsHub } from '../../src/metrics/active-requests.hub';
import { TrackerService } from '../../src/metrics/tracker.service';
import { makeConfig } from './factories';

export interface RunningApp {
  app: NestFastifyApplication;
  url: string;
  tracker: TrackerService;
  hub: ActiveRequestsHub;
  close(): Promise<void>;
}

/** The whole gateway, listening on a loopback port of its own; pass `pino` or `logDestination` to capture its logs. */
export async function startApp(
  env: Record<string, string> = {},
  options: { pino?: Pino; logDestination?: DestinationStream } = {},
): Promise<RunningApp> {
  const app = await createApp(makeConfig(env), options);
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.getHttpServer().address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return {
    app,
    url: `http://127.0.0.1:${address.port}`,
    tracker: app.get(TrackerService),
    hub: app.get(ActiveRequestsHub),
    close: () => app.close(),
  };
}
