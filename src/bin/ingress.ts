import { loadConfig } from '../config';
import { createLogger } from '../logger';
import { startTracing } from '../telemetry/tracing';
import { onShutdown } from './shutdown';

async function main() {
  const logger = createLogger({ name: 'ingress' });
  const config = loadConfig();
  // Before the modules it instruments (http, koa, mongodb) load: the ingress's are required after it.
  const tracing = startTracing(config.tracing, { serviceName: 'jobber-sync-ingress', logger });
  /* eslint-disable @typescript-eslint/no-require-imports -- require (not import()): the instrumentation patches CommonJS loads */
  const { connectDatabase } = require('../db/models') as typeof import('../db/models');
  const { startIngress } = require('../ingress/server') as typeof import('../ingress/server');
  /* eslint-enable @typescript-eslint/no-require-imports */
  const { connection: mongo, models } = await connectDatabase(config.mongoUrl, { writeConcern: config.mongoWriteConcern });
  const ingress = await startIngress(config, logger, { mongo, models, tracing });
  onShutdown(logger, async () => {
    await ingress.close();
    await mongo.close();
    // The spans of the last requests leave before the process does.
    await tracing?.shutdown();
  });
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
