import { log } from '@temporalio/activity';
import { tombstoneRecord, upsertRecord, type JobberRecord } from '../src/db/records';
import { factByName, factsDue, recordType, type FactName, type RecordType } from '../src/records';
import * as alerts from '../src/slack/alerts';
import { AccountNotConnectedError } from '../src/accounts/token-store';
import { alertKey } from '../src/slack/alerts';
import { operatorOnly, sendAccountAlert } from '../src/slack/alert-targets';
import { syncedOutcome, type ConnectionStatus, type EventOutcome, type JobberEvent, type RecordKind } from '../workflows/definitions';
import { createAccountActivities, withAccessToken, type AccountDeps } from './accounts';
import { createSlackInstallationActivities } from './slack';
import { jobberFailure, slackFailure } from './failures';
import { alertRuleFor, recordTurnedOff } from '../src/slack/alert-rules';
import { duplicateKeys } from '../src/db/models';
import type { WorkerMetrics } from '../src/metrics/worker-metrics';

export interface ActivityDeps extends AccountDeps {
  metrics?: WorkerMetrics;
}

/** The facts due for the actions of the events one fetch served, each named once, with the first action that made it due. */
function factsFor(type: RecordType, actions: string[], record: JobberRecord): { name: FactName; summary: string; action: string }[] {
  const facts = new Map<FactName, { name: FactName; summary: string; action: string }>();
  for (const action of actions) for (const fact of factsDue(type, action, record)) if (!facts.has(fact.name)) facts.set(fact.name, { ...fact, action });
  return [...facts.values()];
}

/** What the workflow records for a kind the registry (src/records) does not hold. */
const NOT_SYNCED = 'topic not synced';
/** What `syncRecord` answers when every event it was asked to serve was settled by an earlier run: a resend. */
const ALREADY_SETTLED = 'resent: already settled';
/** The outcomes after which a resend of the same change needs no fetch; a failed or skipped event is fetched again. */
const SETTLED_STATUSES: EventOutcome['status'][] = ['synced', 'deleted', 'gone'];

/** One event's outcome, as a record workflow batch keeps it. */
interface OutcomeEntry {
  workflowId: string;
  event: JobberEvent;
  outcome: EventOutcome;
  reason?: string;
  fromWebhook: boolean;
}

export function createActivities(deps: ActivityDeps) {
  const { models, tokens, jobber } = deps;

  type AccountStatus = ConnectionStatus | 'unknown';
  const statusOf = async (accountId: string): Promise<AccountStatus> =>
    (await models.Connection.findById(accountId, { status: 1 }).lean())?.status ?? 'unknown';

  /** Of these natural keys, those whose webhook an earlier run brought to a final outcome (stored, deleted, gone). */
  const settledKeys = async (keys: string[]): Promise<string[]> => {
    // One read by `_id` per key, through the `_id` index (on FerretDB too, as the project builds it:
    // docs/ARCHITECTURE.md, "MongoDB features used"): its cost does not grow with the events kept.
    const found = await Promise.all(keys.map((key) => models.Event.findById(key, { status: 1, fromWebhook: 1 }).lean()));
    // Settled by a webhook of that key: a reconciliation's hand-off under the same key does not
    // count, so the webhook still gets its outcome as a webhook ("Last webhook", the silence alert).
    return keys.filter((key, i) => found[i]?.fromWebhook === true && SETTLED_STATUSES.includes(found[i]?.status as EventOutcome['status']));
  };

  /**
   * Keeps what became of the events one record workflow batch served, each by its natural key,
   * with its outcome (what `npm run ops` and the tests read). One write for the batch.
   */
  const writeOutcomes = async (events: OutcomeEntry[]): Promise<void> => {
    const processedAt = new Date();
    const fields = ({ event, outcome, reason }: (typeof events)[number]) => ({
      topic: event.topic,
      accountId: event.accountId,
      itemId: event.itemId,
      occurredAt: new Date(event.occurredAt),
      status: outcome.status,
      reason: reason ?? ('reason' in outcome ? outcome.reason : undefined),
      processedAt,
      outcome,
    });
    // Most keys are new: inserted in one unordered insertMany (one statement for the batch, where
    // FerretDB v1 reads and writes each updated document on its own). A key already kept (a
    // replay, a refresh, a reconciliation's hand-off of a webhook's change) is updated instead.
    let inserts = events;
    const updates: typeof events = [];
    while (inserts.length > 0) {
      try {
        // The driver's own insert: the fields are typed here already, and mongoose's documents
        // (cast, validate, hydrate) cost the worker's one thread more than the write itself.
        await models.Event.collection.insertMany(
          inserts.map((e) => ({ _id: e.workflowId, ...fields(e), fromWebhook: e.fromWebhook }) as never),
          { ordered: false },
        );
        break;
      } catch (err) {
        const { failed, stoppedAt } = duplicateKeys(err, inserts.length, (r) => r.insertedCount ?? 0);
        updates.push(...inserts.filter((_, i) => failed.has(i)));
        // FerretDB v1 stops at the first error even when unordered: what it did not run goes again.
        inserts = inserts.filter((_, i) => !failed.has(i) && i > stoppedAt);
      }
    }
    if (updates.length === 0) return;
    await models.Event.bulkWrite(
      updates.map((e) => ({
        updateOne: {
          filter: { _id: e.workflowId },
          update: {
            // A webhook's key stays a webhook's: a reconciliation's hand-off of the same change never turns it off.
            $set: { ...fields(e), ...(e.fromWebhook ? { fromWebhook: true } : {}) },
            ...(e.fromWebhook ? {} : { $setOnInsert: { fromWebhook: false } }),
          },
          upsert: true,
        },
      })),
      { ordered: false },
    );
  };

  return {
    ...createAccountActivities(deps),
    ...createSlackInstallationActivities(deps),

    /** Whether we hold a working connection for the account. */
    /** Used by event workflows started before the status check moved into syncRecord and tombstone. */
    async accountStatus(accountId: string): Promise<AccountStatus> {
      return statusOf(accountId);
    },

    /** Fetches the full record (one GraphQL request) and writes it unless we hold newer data. */
    async syncRecord(input: {
      accountId: string;
      kind: RecordKind;
      itemId: string;
      /** The topic's action (CREATE, APPROVED, …): which facts are due. Absent from workflows before `records-registry`. */
      action?: string;
      /** The record workflow's: the actions of every event one fetch serves. */
      actions?: string[];
      /**
       * The record workflow's (patch `settled-keys`): the natural keys of the batch's webhooks that
       * an earlier run may have settled. A key that an earlier run brought to a final outcome is a
       * resend of a change we hold; when all are, and the batch has nothing else, nothing is fetched.
       */
      settledCheck?: string[];
      /** Set when the batch has other events than `settledCheck`'s: the fetch is needed whatever the check finds. */
      fetchAnyway?: boolean;
      /**
       * The record workflow's (patch `outcomes-with-sync`): the events this fetch serves. When the
       * record is stored (or held newer) and no alert is due, their outcomes are final here, and
       * written here (those of `settled` keys stand and are not written again): the workflow then
       * needs no activity of its own for them.
       */
      outcomesOf?: { workflowId: string; event: JobberEvent; fromWebhook: boolean }[];
    }): Promise<{
      found: boolean;
      applied: boolean;
      updatedAt?: string;
      /** For workflows before `records-registry`, which decide the invoice-paid alert themselves. */
      invoiceStatus?: string;
      /** The alert facts due, each with a message builder and the action that made it due: the workflow sends one alert per fact. */
      facts?: { name: FactName; summary: string; action: string }[];
      /** Set when the account is not connected (or unknown), the kind is not synced, or every event was settled before: nothing was fetched or written. */
      skipped?: string;
      /** Of `settledCheck`, the keys an earlier run settled: their outcomes stand, and are not written again. */
      settled?: string[];
      /** Set when the outcomes of `outcomesOf` were written here, each `synced` with no alert. */
      outcomesWritten?: boolean;
    }> {
      const type = recordType(input.kind);
      if (!type) return { found: false, applied: false, skipped: NOT_SYNCED };
      const settled = input.settledCheck?.length ? await settledKeys(input.settledCheck) : [];
      if (!input.fetchAnyway && settled.length > 0 && settled.length === input.settledCheck!.length) {
        log.info('resent events already settled: not fetched', { kind: input.kind, itemId: input.itemId, events: settled.length });
        return { found: false, applied: false, skipped: ALREADY_SETTLED, settled };
      }
      // The account's status comes with its tokens: an account we do not hold is skipped here,
      // without an activity of its own.
      let accountTokens;
      try {
        accountTokens = await tokens.read(input.accountId);
      } catch (err) {
        if (err instanceof AccountNotConnectedError && err.status !== 'connected') return { found: false, applied: false, skipped: `account ${err.status}` };
        throw jobberFailure(err);
      }
      let record: JobberRecord | null;
      // Orders equal-updatedAt copies (see upsertRecord): taken before the request is sent.
      const fetchedAt = new Date();
      try {
        const { data } = await withAccessToken(
          deps,
          input.accountId,
          (accessToken) =>
            jobber.request<Record<string, JobberRecord | null>>({ accountId: input.accountId, accessToken }, type.query.document, {
              id: input.itemId,
            }),
          accountTokens,
        );
        record = data[type.query.field] ?? null;
      } catch (err) {
        throw jobberFailure(err);
      }
      if (!record) return { found: false, applied: false };
      const { applied } = await upsertRecord(models, input.kind, input.accountId, record, fetchedAt);
      log.info('record synced', { kind: input.kind, itemId: input.itemId, applied });
      const facts = input.actions || input.action ? factsFor(type, input.actions ?? [input.action!], record) : undefined;
      let outcomesWritten = false;
      if (input.outcomesOf && !facts?.length) {
        const outcome = syncedOutcome(input.kind, { updatedAt: record.updatedAt ?? undefined, applied }, []);
        await writeOutcomes(input.outcomesOf.filter((e) => !settled.includes(e.workflowId)).map((e) => ({ ...e, outcome })));
        outcomesWritten = true;
      }
      return {
        found: true,
        applied,
        updatedAt: record.updatedAt ?? undefined,
        invoiceStatus: input.kind === 'invoice' ? (record as unknown as { invoiceStatus: string }).invoiceStatus : undefined,
        facts,
        ...(settled.length > 0 ? { settled } : {}),
        ...(outcomesWritten ? { outcomesWritten } : {}),
      };
    },

    async tombstone(input: { accountId: string; kind: RecordKind; itemId: string; deletedAt: string }): Promise<{ applied: boolean; skipped?: string }> {
      if (!recordType(input.kind)) return { applied: false, skipped: NOT_SYNCED };
      const status = await statusOf(input.accountId);
      if (status !== 'connected') return { applied: false, skipped: `account ${status}` };
      return tombstoneRecord(models, input.kind, input.accountId, input.itemId, new Date(input.deletedAt));
    },

    /**
     * Posts the alert for a fact (a new job, a paid invoice, …) at most once, from the synced data.
     * The fact's type builds the message (src/records/types): a fact without a builder never posts.
     * The account's alert rules are read now: a fact turned off is recorded as such, not posted.
     */
    async sendAlert(input: { kind: FactName; accountId: string; itemId: string; owner: string }): Promise<{ sent: boolean; reason?: string }> {
      const declared = factByName(input.kind);
      if (!declared?.fact.message) return { sent: false, reason: `no alert message for ${input.kind}` };
      const found = await declared.fact.message({ models, alerts }, input.itemId);
      if (!found) return { sent: false, reason: `${declared.type.kind} not synced` };
      const { message } = found;
      const key = alertKey(input.kind, input.itemId);
      const rule = await alertRuleFor(models, input.accountId, input.kind);
      if (!rule.on) {
        const off = await recordTurnedOff(models, { key, accountId: input.accountId, owner: input.owner, fact: input.kind });
        if (off) return { sent: false, reason: off };
      }
      try {
        // The account's own workspace (or the operator's): never another account's.
        const result = await sendAccountAlert(
          { models, slackFor: deps.slackFor ?? operatorOnly(deps) },
          { key, accountId: input.accountId, owner: input.owner, channel: rule.channel, message },
        );
        deps.metrics?.slackPosts.add(1, { kind: input.kind, outcome: result.sent ? 'sent' : 'duplicate' });
        return { sent: result.sent, reason: result.reason };
      } catch (err) {
        throw slackFailure(err);
      }
    },

    /** The record workflow's local activity for the outcomes `syncRecord` did not write (writeOutcomes). */
    async recordEventOutcomes(events: OutcomeEntry[]): Promise<void> {
      await writeOutcomes(events);
    },

    /** Keeps what became of every event, by its natural key. */
    async recordEvent(input: {
      workflowId: string;
      event: JobberEvent;
      status: string;
      reason?: string;
      /** False for a refresh asked for in Slack: it must not count as a webhook (silence alert, "Last webhook"). */
      fromWebhook?: boolean;
    }): Promise<void> {
      const { event } = input;
      await models.Event.updateOne(
        { _id: input.workflowId },
        {
          $set: {
            topic: event.topic,
            accountId: event.accountId,
            itemId: event.itemId,
            occurredAt: new Date(event.occurredAt),
            status: input.status,
            reason: input.reason,
            processedAt: new Date(),
            // "Last webhook" is read from here (accountActivity): the connection has one writer.
            fromWebhook: input.fromWebhook !== false,
          },
        },
        { upsert: true },
      );
    },

    async recordDeadLetter(input: {
      workflowId: string;
      runId: string;
      event: JobberEvent;
      error: string;
      errorType?: string;
      attempts?: number;
    }): Promise<void> {
      await models.DeadLetter.updateOne(
        { _id: input.workflowId },
        {
          $set: {
            event: input.event,
            error: input.error,
            errorType: input.errorType,
            attempts: input.attempts,
            runId: input.runId,
            status: 'open',
            failedAt: new Date(),
          },
        },
        { upsert: true },
      );
      deps.metrics?.deadLetters.add(1, { errorType: input.errorType ?? 'unknown' });
    },

    async resolveDeadLetter(workflowId: string): Promise<void> {
      await models.DeadLetter.updateOne({ _id: workflowId, status: { $ne: 'resolved' } }, { $set: { status: 'resolved', resolvedAt: new Date() } });
    },

    /**
     * APP_DISCONNECT of event workflows started before `accounts-app-disconnect-signal-with-start`
     * (they hand it to the account workflow now). Idempotent.
     */
    async purgeAccount(input: { accountId: string; reason: string; occurredAt: string }): Promise<{ purged: boolean }> {
      const purged = await tokens.purge(input.accountId, 'disconnected', input.reason, { connectedBefore: new Date(input.occurredAt) });
      return { purged };
    },
  };
}

export type Activities = ReturnType<typeof createActivities>;
