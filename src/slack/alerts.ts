import type { WebClient } from '@slack/web-api';
import type { KnownBlock } from '@slack/types';
import { isDuplicateKey, type Models } from '../db/models';
import { ACTION_IDS, withRefreshButton } from './buttons';
import { escapeMrkdwn as escape, money } from './format';

export { money };

import type { AlertFact } from './alert-rules';

/** The facts whose message is built here (the types' modules name them, src/records/types). */
export type AlertKind = 'job-created' | 'invoice-paid';

export interface AlertMessage {
  text: string;
  blocks: KnownBlock[];
}

export const alertKey = (kind: AlertFact, itemId: string): string => `${kind}/${itemId}`;

/** Where an account's alerts go: its own Slack channel when it has one, else the operators' default. */
export const alertChannelFor = (connection: { slackChannel?: string | null } | null | undefined, fallback: string): string =>
  connection?.slackChannel || fallback;

/** An alert: title, fields, "Open in Jobber" (when the record has its link), Acknowledge and Refresh. */
export function alertMessage(title: string, fields: [string, string][], url: string | undefined, key: string): AlertMessage {
  const text = `${title}: ${fields.map(([k, v]) => `${k} ${v}`).join(', ')}`;
  const blocks: KnownBlock[] = [
    { type: 'section', text: { type: 'mrkdwn', text: `*${escape(title)}*` } },
    { type: 'section', fields: fields.map(([k, v]) => ({ type: 'mrkdwn' as const, text: `*${escape(k)}*\n${escape(v)}` })) },
  ];
  const elements: Extract<KnownBlock, { type: 'actions' }>['elements'] = [];
  if (url) elements.push({ type: 'button', text: { type: 'plain_text', text: 'Open in Jobber' }, url, action_id: ACTION_IDS.openInJobber });
  elements.push({ type: 'button', text: { type: 'plain_text', text: 'Acknowledge' }, action_id: ACTION_IDS.acknowledge, value: key });
  blocks.push({ type: 'actions', elements });
  return { text, blocks: withRefreshButton(blocks, key) };
}

export interface ClientLike {
  firstName?: string | null;
  lastName?: string | null;
  companyName?: string | null;
}

/** The synced client's name, else the name Jobber gave with the job or invoice. */
export function clientName(client: ClientLike | null | undefined, fallback?: string | null): string {
  const person = client ? [client.firstName, client.lastName].filter(Boolean).join(' ') : '';
  return client?.companyName || person || fallback || 'Unknown client';
}

export function jobCreatedMessage(
  job: { _id: string; jobNumber?: number | null; title?: string | null; total?: number | null; jobberWebUri?: string | null; clientName?: string | null },
  client: ClientLike | null,
): AlertMessage {
  return alertMessage(
    `New job #${job.jobNumber ?? '?'}: ${job.title || 'Untitled'}`,
    [
      ['Client', clientName(client, job.clientName)],
      ['Total', money(job.total)],
    ],
    job.jobberWebUri ?? undefined,
    alertKey('job-created', job._id),
  );
}

export function invoicePaidMessage(
  invoice: {
    _id: string;
    invoiceNumber?: string | null;
    total?: number | null;
    paymentsTotal?: number | null;
    jobberWebUri?: string | null;
    clientName?: string | null;
  },
  client: ClientLike | null,
): AlertMessage {
  return alertMessage(
    `Invoice #${invoice.invoiceNumber ?? '?'} paid`,
    [
      ['Client', clientName(client, invoice.clientName)],
      ['Amount', money(invoice.paymentsTotal ?? invoice.total)],
    ],
    invoice.jobberWebUri ?? undefined,
    alertKey('invoice-paid', invoice._id),
  );
}

const METADATA_EVENT = 'jobber_alert';

/**
 * A claim older than this, still pending, is taken over: its owner died mid-send. Longer than
 * one sendAlert attempt can run (its 30 s start-to-close timeout, one Slack call of at most 10 s).
 */
export const ALERT_CLAIM_STALE_MS = 2 * 60_000;

/** A second claimant looks again at least this often while it waits for the owner. */
export const IN_FLIGHT_POLL_MS = 15_000;

export class AlertInFlightError extends Error {
  /**
   * When to look again: by the time the claim can be taken over at the latest, so a claimant
   * keeps waiting until then (workflows/definitions.ts sizes sendAlert's retries for it).
   */
  readonly retryAfterMs: number;

  constructor(key: string, untilStaleMs = ALERT_CLAIM_STALE_MS) {
    super(`alert ${key} is being sent by another workflow`);
    this.name = 'AlertInFlightError';
    this.retryAfterMs = Math.min(IN_FLIGHT_POLL_MS, Math.max(1_000, untilStaleMs + 1_000));
  }
}

/**
 * Posts an alert at most once per key. The key is claimed with a unique insert before the post;
 * the post carries the key as Slack message metadata, so an owner that crashed after Slack took
 * the message (but before we recorded it) finds it in the channel history instead of posting twice.
 */
export async function sendAlertOnce(
  deps: { models: Models; slack: WebClient },
  input: { key: string; accountId: string; channel: string; owner: string; message: AlertMessage },
  now = () => new Date(),
): Promise<{ sent: boolean; ts?: string; reason?: string }> {
  const { Alert } = deps.models;
  try {
    await Alert.create({ _id: input.key, accountId: input.accountId, status: 'pending', owner: input.owner, claimedAt: now() });
  } catch (err) {
    if (!isDuplicateKey(err)) throw err;
    const existing = await Alert.findById(input.key).lean();
    if (!existing) throw new Error(`alert ${input.key} vanished while claiming`, { cause: err });
    if (existing.status === 'sent') return { sent: false, ts: existing.ts ?? undefined, reason: 'already sent' };
    // Its rule was off when the fact happened (src/slack/alert-rules.ts): decided once, like a send.
    if (existing.status === 'off') return { sent: false, reason: existing.reason ?? 'alert turned off' };
    if (existing.owner !== input.owner) {
      const untilStale = existing.claimedAt.getTime() + ALERT_CLAIM_STALE_MS - now().getTime();
      if (untilStale > 0) throw new AlertInFlightError(input.key, untilStale);
      const taken = await Alert.findOneAndUpdate(
        { _id: input.key, status: 'pending', owner: existing.owner },
        { $set: { owner: input.owner, claimedAt: now() } },
        { returnDocument: 'after' },
      ).lean();
      if (!taken) throw new AlertInFlightError(input.key);
    }
    // We own a pending claim from an earlier attempt: Slack may already have the message.
    const posted = await findPosted(deps.slack, input.channel, input.key, existing.claimedAt);
    if (posted) {
      await Alert.updateOne({ _id: input.key }, { $set: { status: 'sent', ts: posted, channel: input.channel, sentAt: now() } });
      return { sent: false, ts: posted, reason: 'found in channel history' };
    }
  }
  const result = await deps.slack.chat.postMessage({
    channel: input.channel,
    text: input.message.text,
    blocks: input.message.blocks,
    unfurl_links: false,
    metadata: { event_type: METADATA_EVENT, event_payload: { alert_key: input.key } },
  });
  await Alert.updateOne({ _id: input.key }, { $set: { status: 'sent', ts: result.ts, channel: result.channel ?? input.channel, sentAt: now() } });
  return { sent: true, ts: result.ts };
}

/**
 * Our message for `key` posted since the claim (a minute earlier for clock skew), if any. Reads
 * every page back to then: a busy channel can hold more than one page of newer messages.
 */
export async function findPosted(slack: WebClient, channel: string, key: string, since: Date): Promise<string | undefined> {
  const oldest = String(Math.floor(since.getTime() / 1000) - 60);
  let cursor: string | undefined;
  do {
    const history = await slack.conversations.history({ channel, oldest, limit: 200, include_all_metadata: true, ...(cursor ? { cursor } : {}) });
    const match = history.messages?.find(
      (m) => m.metadata?.event_type === METADATA_EVENT && (m.metadata.event_payload as { alert_key?: string } | undefined)?.alert_key === key,
    );
    if (match?.ts) return match.ts;
    cursor = history.has_more ? history.response_metadata?.next_cursor || undefined : undefined;
  } while (cursor);
  return undefined;
}

/**
 * The alert for a fact as MongoDB has it now (the record and its client), with the record for
 * what the caller may add; undefined when the record is not synced.
 */
export async function alertMessageFor(
  models: Models,
  kind: AlertKind,
  itemId: string,
): Promise<{ message: AlertMessage; record: { deletedAt?: Date | null; syncedAt?: Date | null } } | undefined> {
  if (kind === 'job-created') {
    const job = await models.Job.findById(itemId).lean();
    if (!job) return undefined;
    const client = job.clientId ? await models.Client.findById(job.clientId).lean() : null;
    return { message: jobCreatedMessage(job, client), record: job };
  }
  const invoice = await models.Invoice.findById(itemId).lean();
  if (!invoice) return undefined;
  const client = invoice.clientId ? await models.Client.findById(invoice.clientId).lean() : null;
  return { message: invoicePaidMessage(invoice, client), record: invoice };
}
