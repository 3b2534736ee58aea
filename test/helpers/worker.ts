import { NativeConnection, type Worker } from '@temporalio/worker';
import type { ActivityDeps } from '../../activities';
import { createWorker } from '../../src/temporal/worker';
import { testTemporalAddress, testWorkflowBundle, uniqueTaskQueue } from './env';

export interface RunningWorker {
  worker: Worker;
  taskQueue: string;
  stop(): Promise<void>;
}

/** A real worker on the shared test server, its own task queue, the bundle built in global setup. */
export async function startWorker(deps: ActivityDeps, name: string): Promise<RunningWorker> {
  const connection = await NativeConnection.connect({ address: testTemporalAddress() });
  const taskQueue = uniqueTaskQueue(name);
  const worker = await createWorker({
    connection,
    namespace: 'default',
    taskQueue,
    deps,
    workflowBundlePath: testWorkflowBundle(),
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
