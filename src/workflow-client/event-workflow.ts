import { TypedSearchAttributes } from '@temporalio/common';
import { WorkflowIdReusePolicy, type Client, type WorkflowHandleWithFirstExecutionRunId } from '@temporalio/client';
import type { jobberEventWorkflow, jobberRecordWorkflow } from '../../workflows';
import type { EventWorkflowInput } from '../../workflows/event';
import {
  eventWorkflowId,
  parseRecordTopic,
  recordEventSignal,
  recordWorkflowId,
  SEARCH_ATTRIBUTES,
  settledAfter,
  type RecordEventInput,
} from '../../workflows/definitions';
import { recordType } from '../records';

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

/**
 * Hands an event to the workflow that owns it, and resolves once Temporal has it. A record's
 * event (of a type in the registry) goes to that record's workflow by signal-with-start: the only
 * writer of the record, which takes each natural key once. Any other event (APP_DISCONNECT, a
 * topic we do not sync) starts its own event workflow under its natural key.
 */
export async function deliverEvent(
  client: Client,
  taskQueue: string,
  input: RecordEventInput,
  summary: string,
): Promise<{ workflowId: string; runId: string; delivered: 'record' | 'event' }> {
  const { event } = input;
  const parsed = parseRecordTopic(event.topic);
  if (!parsed || !recordType(parsed.kind)) {
    // Only records are reconciled: any other event came as a webhook or a replay.
    const { source, ...rest } = input;
    const handle = await startEventWorkflow(client, taskQueue, { ...rest, ...(source === 'slack-refresh' ? { source } : {}) }, summary);
    return { workflowId: handle.workflowId, runId: handle.firstExecutionRunId, delivered: 'event' };
  }
  // As for an event workflow, a fresh record workflow starts once the change's second is over.
  const delayMs =
    parsed.action !== 'DESTROY' && !input.replay && input.source !== 'slack-refresh' ? settledAfter(new Date(event.occurredAt)).getTime() - Date.now() : 0;
  const handle = await client.workflow.signalWithStart<typeof jobberRecordWorkflow, [RecordEventInput]>('jobberRecordWorkflow', {
    ...(delayMs > 0 ? { startDelay: delayMs } : {}),
    taskQueue,
    workflowId: recordWorkflowId(event.accountId, parsed.kind, event.itemId),
    args: [{ accountId: event.accountId, kind: parsed.kind, itemId: event.itemId }],
    signal: recordEventSignal,
    signalArgs: [input],
    // JobberTopic: the topic of the event that started this run (the run serves later ones too).
    typedSearchAttributes: new TypedSearchAttributes([
      { key: SEARCH_ATTRIBUTES.accountId, value: event.accountId },
      { key: SEARCH_ATTRIBUTES.topic, value: event.topic },
      { key: SEARCH_ATTRIBUTES.itemId, value: event.itemId },
    ]),
    staticSummary: summary,
  });
  return { workflowId: handle.workflowId, runId: handle.signaledRunId, delivered: 'record' };
}
