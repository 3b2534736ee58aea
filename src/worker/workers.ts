import { NativeConnection, Worker, type State, type WorkerOptions } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../../activities';
import { accountsTaskQueue } from '../../workflows/definitions';
import { activityInterceptors, workflowTracingSinks } from '../telemetry/temporal';
import type { Tracing } from '../telemetry/tracing';
import { WORKFLOW_BUNDLE } from './bundle';

export interface WorkerSetup {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  deps: ActivityDeps;
  /** A prebuilt bundle (production, tests); without it the workflows are bundled at start. */
  workflowBundlePath?: string;
  /** For the main worker (workflows and the event and backfill activities). */
  options?: Partial<WorkerOptions>;
  /** Activity slots of the accounts worker (refreshes, token info, account alerts). */
  accountSlots?: number;
  /** Traces workflows and activities (src/telemetry) when given. */
  tracing?: Tracing;
}

/**
 * The workers of one process, run and stopped together: the main one, and one for the accounts
 * queue (see accountsTaskQueue) whose slots the activities waiting for a refresh never hold.
 */
export class Workers {
  constructor(
    readonly main: Worker,
    readonly accounts: Worker,
  ) {}

  /** Runs both until shutdown; if one fails the other is stopped too, and both have ended before this settles. */
  async run(): Promise<void> {
    const stopOther = (other: Worker) => (err: unknown) => {
      if (other.getState() === 'RUNNING') other.shutdown();
      throw err;
    };
    const results = await Promise.allSettled([this.main.run().catch(stopOther(this.accounts)), this.accounts.run().catch(stopOther(this.main))]);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  shutdown(): void {
    for (const worker of [this.main, this.accounts]) if (worker.getState() === 'RUNNING') worker.shutdown();
  }

  getState(): State {
    return this.main.getState();
  }
}

export async function createWorker(setup: WorkerSetup): Promise<Workers> {
  const activities = createActivities(setup.deps);
  const common: Pick<WorkerOptions, 'connection' | 'namespace' | 'shutdownGraceTime'> = {
    connection: setup.connection,
    namespace: setup.namespace,
    // Let in-flight activities finish on shutdown before the worker stops.
    shutdownGraceTime: '20 seconds',
  };
  const activity = activityInterceptors(setup.tracing);
  const main = await Worker.create({
    ...common,
    taskQueue: setup.taskQueue,
    activities,
    // A prebuilt bundle has the workflow interceptors in it already (the same WORKFLOW_BUNDLE).
    ...(setup.workflowBundlePath
      ? { workflowBundle: { codePath: setup.workflowBundlePath }, interceptors: { activity } }
      : { workflowsPath: WORKFLOW_BUNDLE.workflowsPath, interceptors: { activity, workflowModules: WORKFLOW_BUNDLE.workflowInterceptorModules } }),
    sinks: workflowTracingSinks(setup.tracing),
    ...setup.options,
  });
  const accounts = await Worker.create({
    ...common,
    taskQueue: accountsTaskQueue(setup.taskQueue),
    activities,
    interceptors: { activity },
    maxConcurrentActivityTaskExecutions: setup.accountSlots ?? 20,
  });
  return new Workers(main, accounts);
}
