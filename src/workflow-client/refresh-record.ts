import { WithStartWorkflowOperation, type Client } from '@temporalio/client';
import type { jobberRecordWorkflow } from '../../workflows';
import { TypedSearchAttributes } from '@temporalio/common';
import { recordWorkflowId, refreshRecordUpdate, refreshTopic, SEARCH_ATTRIBUTES, type JobberEvent, type RecordKind } from '../../workflows/definitions';
import { withDeadline } from '../deadline';

/**
 * Re-fetches one record the way a webhook would, through the record's workflow (its only
 * writer): the Jobber call happens in the worker with its retries, 401 refresh and cost pacing,
 * and the write goes through the ordered upsert. An Update-with-start, answered once a fetch that
 * began after the click is stored; waits for it within `waitMs`.
 */
export function refreshRecordThroughWorkflow(client: Client, taskQueue: string, waitMs = 20_000) {
  return async (accountId: string, kind: RecordKind, itemId: string): Promise<void> => {
    const event: JobberEvent = { topic: refreshTopic(kind), accountId, itemId, occurredAt: new Date().toISOString() };
    const startWorkflowOperation = new WithStartWorkflowOperation<typeof jobberRecordWorkflow>('jobberRecordWorkflow', {
      workflowId: recordWorkflowId(accountId, kind, itemId),
      taskQueue,
      args: [{ accountId, kind, itemId }],
      workflowIdConflictPolicy: 'USE_EXISTING',
      typedSearchAttributes: new TypedSearchAttributes([
        { key: SEARCH_ATTRIBUTES.accountId, value: accountId },
        { key: SEARCH_ATTRIBUTES.topic, value: event.topic },
        { key: SEARCH_ATTRIBUTES.itemId, value: itemId },
      ]),
      staticSummary: `refresh requested from Slack: ${kind} ${itemId}`,
    });
    const done = await withDeadline(
      client.workflow.executeUpdateWithStart(refreshRecordUpdate, { args: [{ event, source: 'slack-refresh' }], startWorkflowOperation }).then(() => true),
      waitMs,
    );
    if (!done) throw new Error(`refresh of ${kind} ${itemId} still running after ${waitMs} ms`);
  };
}
