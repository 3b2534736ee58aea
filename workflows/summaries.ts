import type { ActivityFunction } from '@temporalio/common';
import type { ActivityFunctionWithOptions, LocalActivityFunctionWithOptions } from '@temporalio/workflow';

/**
 * Runs an activity with a one-line summary, which the Web UI shows on the activity in the
 * workflow's timeline and event history ("fetch client 123 from Jobber and store it").
 */
export function summarized<F extends ActivityFunction>(
  activity: ActivityFunctionWithOptions<F> | LocalActivityFunctionWithOptions<F>,
  summary: string,
  ...args: Parameters<F>
): Promise<Awaited<ReturnType<F>>> {
  // Both kinds take `summary`; a local activity's shows on its marker.
  return (activity as ActivityFunctionWithOptions<F>).executeWithOptions({ summary }, args);
}
