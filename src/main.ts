import 'reflect-metadata';
import { createApp } from './app.factory';
import { ConfigError, loadConfig, type AppConfig } from './config/app-config';
import { loadTokenizer } from './core/token-count';
import { closeOnSignals } from './lifecycle/graceful-shutdown';
import { listen, ListenError } from './lifecycle/listen';
import { startupSummary } from './lifecycle/startup-summary';
import { StoreInUseError } from './store/usage-store.service';

async function bootstrap(): Promise<void> {
  let config: AppConfig;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      for (const line of error.problems) process.stderr.write(`${line}\n`);
      process.exit(1);
    }
    throw error;
  }
  let app: Awaited<ReturnType<typeof createApp>>;
  try {
    app = await createApp(config);
    loadTokenizer();
    await listen(app, config.host, config.port);
  } catch (error) {
    if (!(error instanceof ListenError || error instanceof StoreInUseError)) throw error;
    process.stderr.write(`${error.message}\n`);
    process.exit(1);
  }
  // Not Nest's enableShutdownHooks: in-flight requests must drain before its destroy hooks run.
  closeOnSignals(app);
  const log = app.getHttpAdapter().getInstance().log;
  const address = app.getHttpServer().address();
  const port = typeof address === 'object' && address !== null ? address.port : config.port;
  log.info(`Gateway listening on http://${config.host}:${port}`);
  for (const warning of config.warnings) log.warn(warning);
  for (const line of startupSummary(config, config.host, port)) log[line.level](line.msg);
}

void bootstrap();
