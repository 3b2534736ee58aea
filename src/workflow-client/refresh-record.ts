import type { Client } from '@temporalio/client';
import { refreshTopic, type JobberEvent, type RecordKind } from '../../workflows/definitions';
import { withDeadline } from '../deadline';
import { startEventWorkflow } from './event-workflow';

/**
 * Re-fetches one record the way a webhook would: an UPDATE event workflow, so the Jobber call
 * happens in the worker with its retries, 401 refresh and cost pacing, and the write goes through
 * the ordered upsert. Waits for it, within `waitMs`.
 */
export function refreshRecordThroughWorkflow(client: Client, taskQueue: string, waitMs = 20_000) {
  return async (accountId: string, kind: RecordKind, itemId: string): Promise<void> => {
    const event: JobberEvent = { topic: refreshTopic(kind), accountId, itemId, occurredAt: new Date().toISOString() };
    const handle = await startEventWorkflow(client, taskQueue, { event, source: 'slack-refresh' }, `refresh requested from Slack: ${kind} ${itemId}`);
    const done = await withDeadline(
      handle.result().then(() => true),
      waitMs,
    );
    if (!done) throw new Error(`refresh of ${kind} ${itemId} still running after ${waitMs} ms`);
  };
}
