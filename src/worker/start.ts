import { NativeConnection, type WorkerOptions } from '@temporalio/worker';
import type mongoose from 'mongoose';
import type { ActivityDeps } from '../../activities';
import type { Config } from '../config';
import type { Logger } from '../logger';
import type { Tracing } from '../telemetry/tracing';
import { workflowClientInterceptors } from '../telemetry/temporal';
import { connectClient, type TemporalConfig } from '../workflow-client/connection';
import { temporalConnectFailure, temporalConnectionOptions } from '../workflow-client/connection-options';
import { createActivityDeps } from './activity-deps';
import { installRuntime } from './runtime';
import { createWorker, type Workers } from './workers';

export interface RunningWorkers {
  workers: Workers;
  /** Runs the workers until they shut down (the SDK does on SIGINT/SIGTERM, or stop()), then closes what they used. */
  run(): Promise<void>;
  /** Shuts the workers down and waits for run() to end; closes what they used if they never ran. */
  stop(): Promise<void>;
}

/** Connects to Temporal and creates the workers over `deps` (the tests' way in: their own deps and bundle). */
export async function startWorkers(
  temporal: TemporalConfig,
  deps: ActivityDeps,
  options: { workflowBundlePath?: string; workerOptions?: Partial<WorkerOptions>; onClose?: () => Promise<void>; tracing?: Tracing } = {},
): Promise<RunningWorkers> {
  let connection: NativeConnection | undefined;
  const close = async () => {
    await connection?.close();
    await options.onClose?.();
  };
  let workers: Workers;
  try {
    connection = await NativeConnection.connect(temporalConnectionOptions(temporal)).catch(temporalConnectFailure(temporal));
    workers = await createWorker({
      connection,
      namespace: temporal.namespace,
      taskQueue: temporal.taskQueue,
      deps,
      workflowBundlePath: options.workflowBundlePath,
      options: options.workerOptions,
      tracing: options.tracing,
    });
  } catch (err) {
    // The error that stopped the start-up is the one to report, not a failure to clean up after it.
    await close().catch(() => undefined);
    throw err;
  }
  let running: Promise<void> | undefined;
  return {
    workers,
    run() {
      running ??= workers.run().finally(close);
      return running;
    },
    async stop() {
      // The SDK's runtime may already have begun the shutdown on SIGINT.
      workers.shutdown();
      await (running ?? close());
    },
  };
}

export interface WorkerProcess extends RunningWorkers {
  deps: ActivityDeps;
  /** The activities' MongoDB connection (the local run's ingress shares it). */
  mongo: mongoose.Connection;
}

/**
 * The worker's start-up, for `npm run worker` and `npm run local` alike: the SDK runtime (logs and
 * Prometheus metrics), a Temporal client for the activities, their dependencies, and the workers.
 * Once per process.
 */
export async function startWorkerProcess(
  config: Config,
  logger: Logger,
  options: { metricsBindAddress: string; workflowBundlePath?: string; tracing?: Tracing },
): Promise<WorkerProcess> {
  installRuntime(logger, { metricsBindAddress: options.metricsBindAddress });
  // Activities that get a 401 ask the account's workflow for a refresh through this client.
  const temporal = await connectClient(config.temporal, { interceptors: workflowClientInterceptors(options.tracing) });
  let activity: Awaited<ReturnType<typeof createActivityDeps>>;
  try {
    activity = await createActivityDeps(config, temporal.client);
  } catch (err) {
    await temporal.connection.close().catch(() => undefined);
    throw err;
  }
  const running = await startWorkers(config.temporal, activity.deps, {
    workflowBundlePath: options.workflowBundlePath,
    tracing: options.tracing,
    onClose: async () => {
      await temporal.connection.close();
      await activity.close();
    },
  });
  return { ...running, deps: activity.deps, mongo: activity.connection };
}
