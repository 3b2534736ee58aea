import { NativeConnection, type WorkerOptions } from '@temporalio/worker';
import type { ActivityDeps } from '../../activities';
import { createWorker, type Workers } from '../../src/worker/workers';
import { testTemporalAddress, testWorkflowBundle, uniqueTaskQueue } from './env';

export interface RunningWorker {
  worker: Workers;
  taskQueue: string;
  stop(): Promise<void>;
}

/** A real worker on the shared test server, its own task queue, the bundle built in global setup. */
export async function startWorker(deps: ActivityDeps, name: string, options?: Partial<WorkerOptions>): Promise<RunningWorker> {
  const connection = await NativeConnection.connect({ address: testTemporalAddress() });
  const taskQueue = uniqueTaskQueue(name);
  const worker = await createWorker({
    connection,
    namespace: 'default',
    taskQueue,
    deps,
    workflowBundlePath: testWorkflowBundle(),
    options,
  });
  const running = worker.run();
  return {
    worker,
    taskQueue,
    async stop() {
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await running;
      await connection.close();
    },
  };
}
