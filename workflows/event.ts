import { ApplicationFailure, getExternalWorkflowHandle, log, patched, proxyActivities, proxyLocalActivities, sleep, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { accountWorkflowId, disconnectSignal, type EventOutcome, type JobberEvent } from './definitions';
import { readableId } from './ids';
import { summarized } from './summaries';
import { failureAttempts, failureMessage, failureType } from './activity-failures';
import { FailureType, JOBBER_ACTIVITY, MONGO_ACTIVITY, parseRecordTopic, parseTopic, SEND_ALERT_RETRY, settledAfter, syncedOutcome } from './definitions';

const { accountStatus, tombstone, recordEvent, recordDeadLetter, resolveDeadLetter, purgeAccount } = proxyActivities<Activities>(MONGO_ACTIVITY);

/** The account's workflow is started if none runs: it stays the only writer of the connection. */
const { requestDisconnect } = proxyActivities<Activities>(MONGO_ACTIVITY);

/** Jobber calls: transient failures (5xx, timeouts, throttling) retry for about half an hour. */
const { syncRecord } = proxyActivities<Activities>(JOBBER_ACTIVITY);

/**
 * The outcome is one small idempotent write: as a local activity it runs inside the workflow task
 * that follows the sync, where an activity of its own costs a task round trip and a workflow task.
 */
const local = proxyLocalActivities<Activities>(MONGO_ACTIVITY);

const { sendAlert } = proxyActivities<Activities>({ startToCloseTimeout: '30 seconds', retry: SEND_ALERT_RETRY });

export interface EventWorkflowInput {
  event: JobberEvent;
  /** Set by the dead-letter replay: on success the dead letter is marked resolved. */
  replay?: boolean;
  /** What started it: a Jobber webhook (the default) or the Slack Refresh button, which is no webhook. */
  source?: 'webhook' | 'slack-refresh';
}

/** One Jobber webhook, from thin event to stored record and alert. Its id is the event's natural key. */
export async function jobberEventWorkflow(input: EventWorkflowInput): Promise<EventOutcome> {
  const { event } = input;
  const { workflowId, runId } = workflowInfo();
  const recordOutcome = (status: string, reason?: string) =>
    // Histories from before this patch have the outcome as an activity of its own.
    summarized(patched('events-outcome-local-activity') ? local.recordEvent : recordEvent, `record the outcome: ${status}${reason ? ` (${reason})` : ''}`, {
      workflowId,
      event,
      status,
      reason,
      fromWebhook: input.source !== 'slack-refresh',
    });

  try {
    const outcome = await handle(event, workflowId, recordOutcome, input.source !== 'slack-refresh');
    if (input.replay) await summarized(resolveDeadLetter, 'mark the dead letter resolved', workflowId);
    return outcome;
  } catch (err) {
    if (failureType(err) === FailureType.disconnected) {
      // The account went away while we worked: nothing to retry, nothing to report.
      await recordOutcome('disconnected', 'account disconnected during processing');
      return { status: 'disconnected' };
    }
    const message = failureMessage(err);
    log.error('event failed for good', { topic: event.topic, error: message });
    await summarized(recordDeadLetter, `dead letter: ${failureType(err) ?? 'error'}`, {
      workflowId,
      runId,
      event,
      error: message,
      errorType: failureType(err),
      attempts: failureAttempts(err),
    });
    await recordOutcome('failed', message);
    throw ApplicationFailure.nonRetryable(`${event.topic} ${event.itemId} failed: ${message}`, FailureType.eventFailed);
  }
}

async function handle(
  event: JobberEvent,
  workflowId: string,
  recordOutcome: (status: string, reason?: string) => Promise<void>,
  /** False for a Slack refresh: its occurredAt is ours, not a change in Jobber to wait out. */
  fromJobber = true,
): Promise<EventOutcome> {
  if (event.topic === 'APP_DISCONNECT') {
    // Jobber already revoked the tokens: purge only, never call Jobber. The account's workflow
    // does it, started for it if none runs, as the connection's only writer. Runs from before
    // that patch signal a running one, or else purge here. All idempotent.
    const reason = 'APP_DISCONNECT webhook';
    if (patched('accounts-app-disconnect-signal-with-start')) {
      await summarized(requestDisconnect, `hand the disconnect to account ${readableId(event.accountId)}'s workflow`, {
        accountId: event.accountId,
        taskQueue: workflowInfo().taskQueue,
        callJobber: false,
        reason,
        occurredAt: event.occurredAt,
      });
      await recordOutcome('recorded', 'disconnect handed to the account workflow');
      return { status: 'recorded', reason: 'APP_DISCONNECT' };
    }
    try {
      await getExternalWorkflowHandle(accountWorkflowId(event.accountId)).signal(disconnectSignal, {
        callJobber: false,
        reason,
        occurredAt: event.occurredAt,
      });
      await recordOutcome('recorded', 'disconnect handed to the account workflow');
    } catch {
      const { purged } = await summarized(purgeAccount, `purge the tokens of account ${readableId(event.accountId)}`, {
        accountId: event.accountId,
        reason,
        occurredAt: event.occurredAt,
      });
      await recordOutcome('recorded', purged ? 'tokens purged' : 'no connection older than the event');
    }
    return { status: 'recorded', reason: 'APP_DISCONNECT' };
  }
  // Since this patch any <KIND>_<ACTION> topic goes to the activities, which sync the kinds of the
  // registry (src/records) and answer "topic not synced" for the rest; they also name the alert
  // facts due. Workflows that started before it keep the fixed client/job/invoice list.
  const generic = patched('records-registry');
  const topic = generic ? parseRecordTopic(event.topic) : parseTopic(event.topic);
  if (!topic) {
    await recordOutcome('recorded', 'topic not synced');
    return { status: 'recorded', reason: 'topic not synced' };
  }
  const skip = async (reason: string): Promise<EventOutcome> => {
    await recordOutcome('recorded', reason);
    return { status: 'recorded', reason };
  };
  // Since this patch syncRecord and tombstone check the account themselves, one activity fewer
  // per event. Workflows that started before it keep their own check on replay.
  if (!patched('account-status-in-activities')) {
    const status = await summarized(accountStatus, `is account ${readableId(event.accountId)} connected?`, event.accountId);
    if (status !== 'connected') return skip(`account ${status}`);
  }
  const { kind } = topic;
  const item = `${kind} ${readableId(event.itemId)}`;
  if (topic.action === 'DESTROY') {
    const { applied, skipped } = await summarized(tombstone, `tombstone ${item} (deleted in Jobber)`, {
      accountId: event.accountId,
      kind,
      itemId: event.itemId,
      deletedAt: event.occurredAt,
    });
    if (skipped) return skip(skipped);
    await recordOutcome('deleted');
    return { status: 'deleted', kind, applied };
  }

  // A later change within the same second has the same occurredAt, so its webhook is answered as
  // a duplicate of this one: fetch only once that second is over (settledAfter adds a margin for
  // clock skew), so this fetch sees it. A Jobber webhook usually arrives later than that anyway.
  if (patched('events-fetch-after-the-second') && fromJobber) {
    const wait = settledAfter(new Date(event.occurredAt)).getTime() - Date.now();
    if (wait > 0) await sleep(wait, { summary: 'wait until the second of the change is over (Jobber stamps whole seconds)' });
  }
  const synced = await summarized(syncRecord, `fetch ${item} from Jobber and store it`, {
    accountId: event.accountId,
    kind,
    itemId: event.itemId,
    ...(generic ? { action: topic.action } : {}),
  });
  if (synced.skipped) return skip(synced.skipped);
  if (!synced.found) {
    // Jobber no longer has it: a tombstone, not an endless retry.
    await summarized(tombstone, `tombstone ${item} (Jobber no longer has it)`, {
      accountId: event.accountId,
      kind,
      itemId: event.itemId,
      deletedAt: event.occurredAt,
    });
    await recordOutcome('gone', 'Jobber no longer has this record');
    return { status: 'gone', kind };
  }

  const alerts: string[] = [];
  if (generic) {
    // One alert per fact, each exactly once (keyed by fact and record in sendAlert).
    for (const fact of synced.facts ?? []) {
      const { sent } = await summarized(sendAlert, `Slack alert: ${fact.summary.replace('{item}', item)}`, {
        kind: fact.name,
        accountId: event.accountId,
        itemId: event.itemId,
        owner: workflowId,
      });
      if (sent) alerts.push(fact.name);
    }
    await recordOutcome('synced');
    return syncedOutcome(kind, synced, alerts);
  }
  if (kind === 'job' && topic.action === 'CREATE') {
    const { sent } = await summarized(sendAlert, `Slack alert: new ${item}`, {
      kind: 'job-created',
      accountId: event.accountId,
      itemId: event.itemId,
      owner: workflowId,
    });
    if (sent) alerts.push('job-created');
  }
  if (kind === 'invoice' && synced.invoiceStatus === 'paid') {
    const { sent } = await summarized(sendAlert, `Slack alert: ${item} paid`, {
      kind: 'invoice-paid',
      accountId: event.accountId,
      itemId: event.itemId,
      owner: workflowId,
    });
    if (sent) alerts.push('invoice-paid');
  }
  await recordOutcome('synced');
  return syncedOutcome(kind, synced, alerts);
}
