import path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');

/**
 * What goes into the workflow bundle, one definition for every way it is built: the worker
 * bundling at start, scripts/bundle-workflows.ts (the Docker image) and the tests' global setup,
 * so the replay test replays exactly the code production runs.
 */
export const WORKFLOW_BUNDLE = {
  workflowsPath: require.resolve(path.join(ROOT, 'workflows')),
  /** Tracing (src/telemetry/workflow-interceptors.ts): in every bundle, whether tracing is on or not. */
  workflowInterceptorModules: [require.resolve(path.join(ROOT, 'src/telemetry/workflow-interceptors'))],
};
