import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import type { Models } from '../db/models';
import type { AccountControl } from '../workflow-client/account-control';
import { accountActivity } from '../accounts/activity';
import { eventWorkflowId, type JobberEvent } from '../../workflows/definitions';
import { MAX_KEPT_BODY_BYTES } from '../ingress/dead-letters';
import { parseJobberWebhook, WebhookPayloadError } from '../ingress/jobber-webhook';
import { deliverEvent } from '../workflow-client/event-workflow';

export interface OpsDeps {
  models: Models;
  client: Client;
  taskQueue: string;
  control: AccountControl;
}

export async function listDeadLetters(models: Models, status: 'open' | 'replayed' | 'resolved' | 'all' = 'open') {
  const filter = status === 'all' ? {} : { status };
  return models.DeadLetter.find(filter).sort({ failedAt: -1 }).limit(500).lean();
}

/**
 * Runs a dead event again: a record's event goes to its record workflow again (marked as a
 * replay, so it is taken although that run saw it), any other under its own event workflow id
 * (allowed because the earlier run failed). The dead letter is marked resolved on success.
 */
export async function replayDeadLetter(deps: OpsDeps, workflowId: string): Promise<{ deadLetter: string; workflowId: string; runId?: string; status: string }> {
  const letter = await deps.models.DeadLetter.findById(workflowId).lean();
  if (!letter) throw new Error(`no dead letter with id ${workflowId}`);
  if (letter.status === 'resolved') return { deadLetter: workflowId, workflowId, status: 'already resolved' };
  if (!letter.event && letter.webhook) return replayMalformedWebhook(deps, workflowId, letter.webhook);
  const event = letter.event as JobberEvent;
  try {
    // Marked before the hand-off: the workflow marks it resolved, which must not be overwritten.
    await deps.models.DeadLetter.updateOne({ _id: workflowId, status: { $ne: 'resolved' } }, { $set: { status: 'replayed', replayedAt: new Date() } });
    let handle;
    try {
      handle = await deliverEvent(deps.client, deps.taskQueue, { event, replay: true }, `replay of ${event.topic} ${event.itemId}`);
    } catch (err) {
      await deps.models.DeadLetter.updateOne({ _id: workflowId, status: 'replayed' }, { $set: { status: letter.status } });
      throw err;
    }
    return { deadLetter: workflowId, workflowId: handle.workflowId, runId: handle.runId, status: 'replaying' };
  } catch (err) {
    if (err instanceof WorkflowExecutionAlreadyStartedError) return { deadLetter: workflowId, workflowId, status: 'already running or completed' };
    throw err;
  }
}

/**
 * A kept malformed webhook, read again by today's parser (say, after a fix for a new field
 * format). When it now reads as an event, that event's workflow takes it over and the letter is
 * resolved; if the workflow fails, it leaves a dead letter of its own.
 */
async function replayMalformedWebhook(
  deps: OpsDeps,
  letterId: string,
  webhook: { contentType?: string | null; body?: string | null; bytes?: number | null; truncated?: boolean | null },
): Promise<{ deadLetter: string; workflowId: string; runId?: string; status: string }> {
  if (webhook.truncated)
    throw new Error(`the body of ${letterId} was cut to ${MAX_KEPT_BODY_BYTES} of ${webhook.bytes} bytes when kept: it cannot be replayed`);
  let event: JobberEvent;
  try {
    event = parseJobberWebhook(Buffer.from(webhook.body ?? '', 'utf8'), webhook.contentType ?? undefined);
  } catch (err) {
    if (err instanceof WebhookPayloadError) throw new Error(`${letterId} is still malformed: ${err.message}`);
    throw err;
  }
  const workflowId = eventWorkflowId(event);
  const resolve = () =>
    deps.models.DeadLetter.updateOne(
      { _id: letterId },
      { $set: { status: 'resolved', replayedAs: workflowId, replayedAt: new Date(), resolvedAt: new Date() } },
    );
  try {
    const handle = await deliverEvent(deps.client, deps.taskQueue, { event }, `replay of a malformed webhook: ${event.topic} ${event.itemId}`);
    await resolve();
    return { deadLetter: letterId, workflowId: handle.workflowId, runId: handle.runId, status: 'replaying' };
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    await resolve();
    return { deadLetter: letterId, workflowId, status: 'already running or completed' };
  }
}

/** An account as operators need to see it: connection, workflow state and backlog. */
export async function showAccount(deps: OpsDeps, accountId: string) {
  const connection = await deps.models.Connection.findById(accountId, { accessToken: 0, refreshToken: 0 }).lean();
  if (!connection) throw new Error(`no connection for account ${accountId}`);
  const [workflow, openDeadLetters, failedEvents, clients, jobs, invoices, activity] = await Promise.all([
    deps.control.state(accountId),
    deps.models.DeadLetter.countDocuments({ 'event.accountId': accountId, status: { $ne: 'resolved' } }),
    deps.models.Event.countDocuments({ accountId, status: 'failed' }),
    deps.models.Client.countDocuments({ accountId, deletedAt: null }),
    deps.models.Job.countDocuments({ accountId, deletedAt: null }),
    deps.models.Invoice.countDocuments({ accountId, deletedAt: null }),
    accountActivity(deps.models, accountId, connection),
  ]);
  return { connection, activity, workflow: workflow ?? 'not running', backlog: { openDeadLetters, failedEvents }, records: { clients, jobs, invoices } };
}
