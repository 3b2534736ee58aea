import type { Models } from '../db/models';

export interface AccountActivity {
  /** The `occurredAt` of the latest event Jobber sent as a webhook (a Slack Refresh does not count). */
  lastWebhookAt?: Date;
  /** When the latest backfill or reconciliation stored a page. */
  lastSyncAt?: Date;
}

const later = (a: Date | null | undefined, b: Date | null | undefined): Date | undefined => (a && b ? (a > b ? a : b) : (a ?? b)) ?? undefined;

/**
 * Derived from the documents their own writers keep (events, sync runs) instead of being written
 * on the connection, which only the account workflow writes (docs/ARCHITECTURE.md, "One writer
 * per document"). `legacy` is the connection as read: values stored there before are kept.
 */
export async function accountActivity(
  models: Models,
  accountId: string,
  legacy?: { lastWebhookAt?: Date | null; lastSyncAt?: Date | null } | null,
): Promise<AccountActivity> {
  const [event, run] = await Promise.all([
    models.Event.findOne({ accountId, fromWebhook: { $ne: false } }, { occurredAt: 1 })
      .sort({ occurredAt: -1 })
      .lean(),
    models.SyncRun.findOne({ accountId }, { lastPageAt: 1 }).sort({ lastPageAt: -1 }).lean(),
  ]);
  return { lastWebhookAt: later(event?.occurredAt, legacy?.lastWebhookAt), lastSyncAt: later(run?.lastPageAt, legacy?.lastSyncAt) };
}
