import { TypedSearchAttributes } from '@temporalio/common';
import { WorkflowIdReusePolicy, type Client, type WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import type { jobberEventWorkflow } from '../../workflows';
import type { EventWorkflowInput } from '../../workflows/event';
import { eventWorkflowId, parseRecordTopic, SEARCH_ATTRIBUTES, settledAfter } from '../../workflows/definitions';

/**
 * Starts the event workflow under the event's natural-key id, with the search attributes the Web
 * UI filters by. A finished event is not run again; one that failed for good may be.
 */
export function startEventWorkflow(
  client: Client,
  taskQueue: string,
  input: EventWorkflowInput,
  summary: string,
): Promise<WorkflowHandleWithFirstExecutionRunId<typeof jobberEventWorkflow>> {
  const { event } = input;
  // A webhook's record is fetched only once the second of its change is over (see the workflow):
  // the server holds the start until then, which costs no workflow task, where a timer costs one.
  // The workflow still waits itself if it runs early.
  const parsed = parseRecordTopic(event.topic);
  const fetches = parsed !== undefined && parsed.action !== 'DESTROY';
  const delayMs = fetches && !input.replay && input.source !== 'slack-refresh' ? settledAfter(new Date(event.occurredAt)).getTime() - Date.now() : 0;
  return client.workflow.start<typeof jobberEventWorkflow>('jobberEventWorkflow', {
    ...(delayMs > 0 ? { startDelay: delayMs } : {}),
    taskQueue,
    workflowId: eventWorkflowId(event),
    args: [input],
    workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
    typedSearchAttributes: new TypedSearchAttributes([
      { key: SEARCH_ATTRIBUTES.accountId, value: event.accountId },
      { key: SEARCH_ATTRIBUTES.topic, value: event.topic },
      { key: SEARCH_ATTRIBUTES.itemId, value: event.itemId },
    ]),
    staticSummary: summary,
  });
}
