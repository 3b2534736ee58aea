import { loadConfig } from '../config';
import { createLogger } from '../logger';
import { startTracing } from '../telemetry/tracing';

async function main() {
  const logger = createLogger({ name: 'worker' });
  const config = loadConfig();
  // Before the modules it instruments (mongodb, http) load: the worker's are required after it.
  const tracing = startTracing(config.tracing, { serviceName: 'jobber-sync-worker', logger });
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- require (not import()): the instrumentation patches CommonJS loads
  const { startWorkerProcess } = require('../worker/start') as typeof import('../worker/start');
  // The SDK shuts the worker down on SIGINT/SIGTERM: in-flight tasks finish, then run() returns.
  const worker = await startWorkerProcess(config, logger, {
    metricsBindAddress: `0.0.0.0:${process.env.METRICS_PORT || '9464'}`,
    workflowBundlePath: process.env.WORKFLOW_BUNDLE_PATH || undefined,
    tracing,
  });
  logger.info({ taskQueue: config.temporal.taskQueue }, 'worker running');
  await worker.run();
  // The spans of the last tasks leave before the process does.
  await tracing?.shutdown();
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
