import { NativeConnection } from '@temporalio/worker';
import { Client, Connection } from '@temporalio/client';
import { loadConfig } from '../config';
import { createLogger } from '../logger';
import { createActivityDeps } from '../services';
import { installRuntime } from '../temporal/runtime';
import { createWorker } from '../temporal/worker';
import { temporalConnectFailure, temporalConnectionOptions } from '../temporal-connection';

async function main() {
  const logger = createLogger({ name: 'worker' });
  const config = loadConfig();
  // The SDK shuts the worker down on SIGINT/SIGTERM: in-flight tasks finish, then run() returns.
  installRuntime(logger, { metricsBindAddress: `0.0.0.0:${process.env.METRICS_PORT || '9464'}` });
  // Activities that get a 401 ask the account's workflow for a refresh through this client.
  const clientConnection = await Connection.connect(temporalConnectionOptions(config.temporal)).catch(temporalConnectFailure(config.temporal));
  const client = new Client({ connection: clientConnection, namespace: config.temporal.namespace });
  const { deps, close } = await createActivityDeps(config, client);
  const connection = await NativeConnection.connect(temporalConnectionOptions(config.temporal)).catch(temporalConnectFailure(config.temporal));
  const worker = await createWorker({
    connection,
    namespace: config.temporal.namespace,
    taskQueue: config.temporal.taskQueue,
    deps,
    workflowBundlePath: process.env.WORKFLOW_BUNDLE_PATH || undefined,
  });
  logger.info({ taskQueue: config.temporal.taskQueue }, 'worker running');
  try {
    await worker.run();
  } finally {
    await connection.close();
    await clientConnection.close();
    await close();
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
