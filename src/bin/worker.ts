import { loadConfig } from '../config';
import { createLogger } from '../logger';
import { startWorkerProcess } from '../worker/start';

async function main() {
  const logger = createLogger({ name: 'worker' });
  const config = loadConfig();
  // The SDK shuts the worker down on SIGINT/SIGTERM: in-flight tasks finish, then run() returns.
  const worker = await startWorkerProcess(config, logger, {
    metricsBindAddress: `0.0.0.0:${process.env.METRICS_PORT || '9464'}`,
    workflowBundlePath: process.env.WORKFLOW_BUNDLE_PATH || undefined,
  });
  logger.info({ taskQueue: config.temporal.taskQueue }, 'worker running');
  await worker.run();
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
