import type { WorkerOptions } from '@temporalio/worker';
import type { ActivityDeps } from '../../activities';
import { startWorkers } from '../../src/worker/start';
import type { Workers } from '../../src/worker/workers';
import { testTemporalAddress, testWorkflowBundle, uniqueTaskQueue } from './env';

export interface RunningWorker {
  worker: Workers;
  taskQueue: string;
  stop(): Promise<void>;
}

/** A real worker on the shared test server, its own task queue, the bundle built in global setup. */
export async function startWorker(deps: ActivityDeps, name: string, options?: Partial<WorkerOptions>): Promise<RunningWorker> {
  const taskQueue = uniqueTaskQueue(name);
  const running = await startWorkers({ address: testTemporalAddress(), namespace: 'default', taskQueue }, deps, {
    workflowBundlePath: testWorkflowBundle(),
    workerOptions: options,
  });
  void running.run();
  return { worker: running.workers, taskQueue, stop: () => running.stop() };
}
