import {
  allHandlersFinished,
  ApplicationFailure,
  condition,
  continueAsNew,
  log,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setHandler,
  sleep,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import {
  eventWorkflowId,
  FailureType,
  parseRecordTopic,
  recordEventSignal,
  refreshRecordUpdate,
  JOBBER_ACTIVITY,
  MONGO_ACTIVITY,
  SEND_ALERT_RETRY,
  settledAfter,
  syncedOutcome,
  type EventOutcome,
  type RecordEventInput,
  type RecordWorkflowInput,
} from './definitions';
import { readableId } from './ids';
import { summarized } from './summaries';
import { failureAttempts, failureMessage, failureType } from './activity-failures';

/** Jobber calls: transient failures (5xx, timeouts, throttling) retry for about half an hour. */
const { syncRecord } = proxyActivities<Activities>(JOBBER_ACTIVITY);

const { tombstone, recordDeadLetter, resolveDeadLetter } = proxyActivities<Activities>(MONGO_ACTIVITY);

/** Small idempotent bookkeeping: inside the workflow task that follows the sync, no task of its own. */
const local = proxyLocalActivities<Activities>(MONGO_ACTIVITY);

const { sendAlert } = proxyActivities<Activities>({ startToCloseTimeout: '30 seconds', retry: SEND_ALERT_RETRY });

/**
 * How long a fetch waits for more changes of a burst: when events not yet settled (their second
 * not over) will be within this, the fetch waits for them, so one fetch serves them all.
 */
const COALESCE_MS = 2_000;
/** But a record that changes without pause is fetched at least this often. */
const MAX_HOLD_MS = 5_000;
/** Continue-as-new past this many history events (the server may suggest it sooner). */
const MAX_HISTORY_EVENTS = 2_000;
/** The natural keys kept across continue-as-new, to answer late resends of a long burst. */
const SEEN_CARRIED = 500;

const keyOf = (input: RecordEventInput) => eventWorkflowId(input.event);
const actionOf = (input: RecordEventInput) => parseRecordTopic(input.event.topic)?.action;
const fromJobber = (input: RecordEventInput) => input.source !== 'slack-refresh';
/** Only a webhook counts as one ("Last webhook", the silence alert): not a refresh, not a reconciliation's hand-off. */
const fromWebhook = (input: RecordEventInput) => input.source === undefined || input.source === 'webhook';

/** From when a fetch sees the change the event reports: Jobber stamps whole seconds. A Slack refresh is ours. */
function settledAt(input: RecordEventInput): number {
  if (!fromJobber(input) || actionOf(input) === 'DESTROY') return 0;
  return settledAfter(new Date(input.event.occurredAt)).getTime();
}

/**
 * One Jobber record's workflow (`jobber-record/<account>/<kind>/<item>`): the only writer of the
 * record's document, in any number of worker processes. The ingress hands it each webhook of the
 * record by signal-with-start; it takes each natural key once, waits until the second of the
 * latest change is over, and serves all the events that came meanwhile with one fetch: a burst of
 * changes to one record costs one or two Jobber requests. Each event still gets its own outcome
 * (by its natural key), each fact its one alert, each failure its own dead letter. It ends when it
 * has nothing left to do.
 */
export async function jobberRecordWorkflow(input: RecordWorkflowInput): Promise<void> {
  const { accountId, kind, itemId } = input;
  const item = `${kind} ${readableId(itemId)}`;
  const pending: RecordEventInput[] = [...(input.carried?.pending ?? [])];
  const seen = new Set<string>(input.carried?.seen ?? pending.map(keyOf));
  /** Events of this record that failed for good (dead letters) and were not replayed since. */
  const unresolved = new Set<string>(input.carried?.unresolved ?? []);
  /** Outcomes that a Slack refresh (an Update) is waiting for, by natural key. */
  const awaited = new Map<string, EventOutcome | undefined>();

  const take = (event: RecordEventInput, force = false): string => {
    const key = keyOf(event);
    // A resend, or Jobber's duplicate delivery: the first copy already answers for it. A replay,
    // or a refresh someone waits for, is taken again unless it is still pending.
    if (seen.has(key) && !((event.replay || force) && !pending.some((p) => keyOf(p) === key))) return key;
    seen.add(key);
    pending.push(event);
    return key;
  };
  setHandler(recordEventSignal, (event) => {
    // A reconciliation found the stored copy older than Jobber's: fetch, even for a key this run saw.
    take(event, event.source === 'reconcile');
  });
  setHandler(
    refreshRecordUpdate,
    async (event) => {
      const key = keyOf(event);
      awaited.set(key, undefined);
      take(event, true);
      await condition(() => awaited.get(key) !== undefined);
      const outcome = awaited.get(key)!;
      awaited.delete(key);
      return outcome;
    },
    {
      validator: (event) => {
        if (event.event.accountId !== accountId || event.event.itemId !== itemId || parseRecordTopic(event.event.topic)?.kind !== kind)
          throw new Error(`event for another record than ${item}`);
      },
    },
  );

  for (;;) {
    // Signals that came with the start are in by now; nothing left means the record is done.
    if (pending.length === 0) {
      await condition(allHandlersFinished);
      if (pending.length === 0) break;
    }
    const batch = await nextBatch(pending);
    const outcomes = await processBatch(input, item, batch);
    for (const [key, outcome] of outcomes) {
      if (awaited.has(key)) awaited.set(key, outcome);
      if (outcome.status === 'failed') unresolved.add(key);
      else unresolved.delete(key);
    }
    const info = workflowInfo();
    if ((info.continueAsNewSuggested || info.historyLength > MAX_HISTORY_EVENTS) && awaited.size === 0 && pending.length > 0) {
      await condition(allHandlersFinished);
      await continueAsNew<typeof jobberRecordWorkflow>({
        accountId,
        kind,
        itemId,
        carried: { pending, seen: [...seen].slice(-SEEN_CARRIED), unresolved: [...unresolved] },
      });
    }
  }
  // Dead letters stay visible in the Web UI as a failed run (its message names their keys); a
  // replay, or the record's next event, starts a new run.
  if (unresolved.size > 0)
    throw ApplicationFailure.nonRetryable(
      `${unresolved.size} event(s) of ${item} failed for good and wait in the dead letters: ${[...unresolved].join(', ')}`,
      FailureType.eventFailed,
    );
}

/**
 * Waits until the earliest pending event is settled, and a little longer if more of the burst
 * will settle soon; then takes every settled event out of `pending`, in arrival order.
 */
async function nextBatch(pending: RecordEventInput[]): Promise<RecordEventInput[]> {
  let heldSince: number | undefined;
  for (;;) {
    const now = Date.now();
    const times = pending.map(settledAt);
    const earliest = Math.min(...times);
    if (earliest > now) {
      await sleep(earliest - now);
      continue;
    }
    heldSince ??= now;
    const latest = Math.max(...times);
    if (latest > now && latest - now <= COALESCE_MS && now - heldSince < MAX_HOLD_MS) {
      await sleep(latest - now);
      continue;
    }
    const batch: RecordEventInput[] = [];
    for (let i = 0; i < pending.length;) {
      if (settledAt(pending[i]!) <= now) batch.push(...pending.splice(i, 1));
      else i++;
    }
    return batch;
  }
}

type Outcomes = Map<string, EventOutcome>;

async function processBatch(input: RecordWorkflowInput, item: string, batch: RecordEventInput[]): Promise<Outcomes> {
  const { accountId, kind, itemId } = input;
  const keys = [...new Set(batch.map(keyOf))];
  const events = new Map(batch.map((b) => [keyOf(b), b]));
  const outcomes: Outcomes = new Map();
  const reasons = new Map<string, string>();
  /** Keys an earlier run settled: their outcomes stand and are not written again. */
  const settled = new Set<string>();
  /** Set when syncRecord wrote the batch's outcomes itself (patch `outcomes-with-sync`). */
  let outcomesWritten = false;
  const all = (outcome: EventOutcome, reason?: string) =>
    keys.forEach((key) => {
      outcomes.set(key, outcome);
      if (reason) reasons.set(key, reason);
    });
  const latest = (list: RecordEventInput[]) => new Date(Math.max(...list.map((b) => Date.parse(b.event.occurredAt)))).toISOString();
  const many = keys.length > 1 ? ` (${keys.length} events)` : '';

  try {
    const destroys = batch.filter((b) => actionOf(b) === 'DESTROY');
    if (destroys.length > 0) {
      // Deleted in Jobber: nothing to fetch for any event of the batch, and a tombstone never comes back.
      const { applied, skipped } = await summarized(tombstone, `tombstone ${item} (deleted in Jobber)${many}`, {
        accountId,
        kind,
        itemId,
        deletedAt: latest(destroys),
      });
      if (skipped) all({ status: 'recorded', reason: skipped });
      else keys.forEach((key) => outcomes.set(key, actionOf(events.get(key)!) === 'DESTROY' ? { status: 'deleted', kind, applied } : { status: 'gone', kind }));
    } else {
      const actions = [...new Set(batch.map(actionOf).filter((a): a is NonNullable<typeof a> => a !== undefined))];
      // A resend that reaches a later run (Jobber retries, or sends again, after this record's run
      // ended) may have been settled by that run: syncRecord checks those keys, and fetches nothing
      // when they are the whole batch. Only a webhook's key that was settled before this run began
      // can be one: an earlier run ended before this one started, and took no key before its second
      // was over. So a fresh change costs no check.
      const startedAt = workflowInfo().startTime.getTime();
      const earlier = keys.filter((key) => {
        const event = events.get(key)!;
        return fromWebhook(event) && !event.replay && settledAt(event) <= startedAt;
      });
      const settledCheck = earlier.length > 0 && patched('settled-keys') ? earlier : undefined;
      // When the fetch ends the batch (stored, no alert due), syncRecord writes the outcomes itself:
      // no activity of the workflow's own for them. A replay resolves its dead letter first, so a
      // batch with one keeps the separate write, last.
      const outcomesOf =
        !batch.some((b) => b.replay) && patched('outcomes-with-sync')
          ? keys.map((key) => ({ workflowId: key, event: events.get(key)!.event, fromWebhook: fromWebhook(events.get(key)!) }))
          : undefined;
      const synced = await summarized(syncRecord, `fetch ${item} from Jobber and store it${many}`, {
        accountId,
        kind,
        itemId,
        actions,
        ...(settledCheck ? { settledCheck, ...(earlier.length < keys.length ? { fetchAnyway: true } : {}) } : {}),
        ...(outcomesOf ? { outcomesOf } : {}),
      });
      for (const key of synced.settled ?? []) settled.add(key);
      outcomesWritten = synced.outcomesWritten === true;
      if (synced.skipped) all({ status: 'recorded', reason: synced.skipped });
      else if (!synced.found) {
        // Jobber no longer has it: a tombstone, not an endless retry.
        await summarized(tombstone, `tombstone ${item} (Jobber no longer has it)`, { accountId, kind, itemId, deletedAt: latest(batch) });
        all({ status: 'gone', kind }, 'Jobber no longer has this record');
      } else {
        // One alert per fact, each exactly once (keyed by fact and record in sendAlert), owned by
        // the first event whose action made it due.
        const sentBy = new Map<string, string[]>();
        for (const fact of synced.facts ?? []) {
          const owner = keys.find((key) => actionOf(events.get(key)!) === fact.action) ?? keys[0]!;
          const { sent } = await summarized(sendAlert, `Slack alert: ${fact.summary.replace('{item}', item)}`, {
            kind: fact.name,
            accountId,
            itemId,
            owner,
          });
          if (sent) sentBy.set(owner, [...(sentBy.get(owner) ?? []), fact.name]);
        }
        keys.forEach((key) => outcomes.set(key, syncedOutcome(kind, synced, sentBy.get(key) ?? [])));
      }
    }
  } catch (err) {
    if (failureType(err) === FailureType.disconnected) {
      // The account went away while we worked: nothing to retry, nothing to report.
      all({ status: 'disconnected' }, 'account disconnected during processing');
    } else {
      const message = failureMessage(err);
      log.error('events failed for good', { item, events: keys.length, error: message });
      for (const key of keys)
        await summarized(recordDeadLetter, `dead letter: ${failureType(err) ?? 'error'}`, {
          workflowId: key,
          runId: workflowInfo().runId,
          event: events.get(key)!.event,
          error: message,
          errorType: failureType(err),
          attempts: failureAttempts(err),
        });
      all({ status: 'failed', reason: message });
    }
  }

  // Replayed dead letters that went through are resolved; the outcomes are written last.
  for (const key of keys)
    if (events.get(key)!.replay && outcomes.get(key)!.status !== 'failed') await summarized(resolveDeadLetter, 'mark the dead letter resolved', key);
  const written = keys.filter((key) => !settled.has(key));
  if (written.length === 0 || outcomesWritten) return outcomes;
  const statuses = [...new Set(written.map((key) => outcomes.get(key)!.status))].join(', ');
  await summarized(
    local.recordEventOutcomes,
    written.length === 1 ? `record the outcome: ${statuses}` : `record the outcomes of ${written.length} events: ${statuses}`,
    written.map((key) => {
      const outcome = outcomes.get(key)!;
      const event = events.get(key)!;
      return { workflowId: key, event: event.event, outcome, reason: reasons.get(key), fromWebhook: fromWebhook(event) };
    }),
  );
  return outcomes;
}
