/**
 * What the ingress, the worker and the workflows share: ids, search attributes, messages and
 * input types. Imports only Temporal's SDK, so it is safe inside the workflow sandbox.
 */
import { defineSearchAttributeKey } from '@temporalio/common';
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import { readableId } from './ids';

const ACCOUNTS_SUFFIX = '-accounts';

/**
 * The account workflow's own activities (refresh, token info, alerts) run on this queue, polled
 * by a second worker with its own slots: activities that wait for a refresh hold slots on the main
 * queue, so the refresh must never need one of those.
 */
export const accountsTaskQueue = (taskQueue: string): string => `${taskQueue}${ACCOUNTS_SUFFIX}`;

/** The main queue of a worker pair, from either of its queues. */
export const mainTaskQueueOf = (taskQueue: string): string => (taskQueue.endsWith(ACCOUNTS_SUFFIX) ? taskQueue.slice(0, -ACCOUNTS_SUFFIX.length) : taskQueue);

/** Custom search attributes, registered on the server so the Web UI can filter by them. */
export const SEARCH_ATTRIBUTES = {
  accountId: defineSearchAttributeKey('JobberAccountId', 'KEYWORD'),
  topic: defineSearchAttributeKey('JobberTopic', 'KEYWORD'),
  itemId: defineSearchAttributeKey('JobberItemId', 'KEYWORD'),
} as const;

/** The `name=Type` pairs for `temporal server start-dev --search-attribute` and `operator search-attribute create`. */
export const SEARCH_ATTRIBUTE_REGISTRATIONS = Object.values(SEARCH_ATTRIBUTES).map((key) => `${key.name}=Keyword`);

/** One webhook event as Jobber described it; (accountId, topic, itemId, occurredAt) is its natural key. */
export interface JobberEvent {
  topic: string;
  accountId: string;
  itemId: string;
  /** ISO 8601 in UTC, normalised by the ingress so resends with the same instant collide. */
  occurredAt: string;
  appId?: string;
}

/** The workflow id of an event: deterministic, so a resent webhook maps to the same workflow. */
export function eventWorkflowId(event: JobberEvent): string {
  return `jobber-event/${readableId(event.accountId)}/${event.topic}/${readableId(event.itemId)}/${event.occurredAt}`;
}

/** The one long-running workflow of a connected account. */
export function accountWorkflowId(accountId: string): string {
  return `jobber-account/${readableId(accountId)}`;
}

export type EventOutcome =
  /** `recordUpdatedAt`: Jobber's, absent for a type without one (visits: ordered by fetch). */
  | { status: 'synced'; kind: RecordKind; recordUpdatedAt?: string; applied: boolean; alerts: string[] }
  | { status: 'deleted'; kind: RecordKind; applied: boolean }
  | { status: 'gone'; kind: RecordKind }
  | { status: 'recorded'; reason: string }
  | { status: 'disconnected' }
  /** Only from the record workflow, which keeps going (an event workflow fails instead): a dead letter holds it. */
  | { status: 'failed'; reason: string };

/**
 * The outcome of an event whose record was fetched and stored (or held newer), with the alerts it
 * owns. Built the same way by the workflows and by `syncRecord` (which writes it itself when no
 * alert is due), with no undefined field, as a payload carries it.
 */
export function syncedOutcome(kind: RecordKind, synced: { updatedAt?: string; applied: boolean }, alerts: string[]): EventOutcome {
  return { status: 'synced', kind, ...(synced.updatedAt ? { recordUpdatedAt: synced.updatedAt } : {}), applied: synced.applied, alerts };
}

/**
 * A Jobber record type, as its webhook topics name it in lower case (CLIENT_UPDATE → client). The
 * types the service syncs are listed in the registry (src/records), which workflows never import:
 * the activities answer "topic not synced" for a kind it does not hold.
 */
export type RecordKind = string;

/* ---------- The account workflow: messages ---------- */

/**
 * Called by activities that got HTTP 401 with the token version they used. Concurrent callers
 * share one refresh; a caller whose version is already stale returns at once with the new one.
 */
export const refreshAccessTokenUpdate = defineUpdate<{ version: number }, [{ staleVersion: number }]>('refreshAccessToken');

export interface DisconnectRequest {
  /** From our UI: call Jobber's appDisconnect first. From the APP_DISCONNECT webhook: do not. */
  callJobber: boolean;
  reason: string;
  /** A webhook's occurredAt: a connection made after it is left alone. */
  occurredAt?: string;
}
export const disconnectSignal = defineSignal<[DisconnectRequest]>('disconnect');

/**
 * A new connection was stored (OAuth callback): reload token state, backfill again. Carries the
 * stored token version so a repeated delivery (a retried RPC) does not start a second backfill.
 */
export const reconnectedSignal = defineSignal<[{ tokenVersion: number }]>('reconnected');
/**
 * The OAuth callback stored a grant (sealed tokens, in its own document): the workflow adopts it
 * into the connection, of which it is the only writer. A grant adopted once is not adopted again.
 */
export const grantSignal = defineSignal<[{ grantId: string }]>('connectionGranted');
export const syncNowSignal = defineSignal('syncNow');

/** What the user and Jobber asked of the account, in the order it came: each is honoured in turn. */
export type AccountRequest = { grantId: string } | { disconnect: DisconnectRequest };

export interface AccountWorkflowState {
  status: ConnectionStatus;
  tokenVersion: number;
  accessTokenExpiresAt?: string;
  /** When the access token was issued (its `iat`, or when it was stored). */
  accessTokenIssuedAt?: string;
  refreshes: number;
  lastRefreshAt?: string;
  /** The initial backfill of the current connection; 'failed' is retried at the next reconciliation. */
  backfill: 'pending' | 'running' | 'done' | 'failed';
  /** Start of the last successful sync: the next reconciliation asks Jobber for changes since. */
  lastReconcileAt?: string;
  /** Start of the last sync, successful or not: schedules the next one. */
  lastSyncAttemptAt?: string;
  reason?: string;
}
export const accountStateQuery = defineQuery<AccountWorkflowState>('state');

export interface AccountWorkflowInput {
  accountId: string;
  /** Carried across continue-as-new. */
  carried?: Partial<Pick<AccountWorkflowState, 'lastReconcileAt' | 'lastSyncAttemptAt' | 'backfill' | 'refreshes' | 'lastRefreshAt'>> & {
    /** Requests not yet honoured when the run continued as new. */
    pending?: AccountRequest[];
    syncRequested?: boolean;
    /** The token version of the last `reconnected` signal (before grants), so a resend is ignored. */
    lastReconnect?: number;
  };
  /** Timings, overridable for tests; defaults suit Jobber's 60-minute tokens. */
  timing?: AccountTiming;
}

export interface AccountTiming {
  /** Refresh this long before the access token expires, at most half its lifetime. */
  refreshAheadMs?: number;
  /** How often to reconcile with Jobber. */
  reconcileEveryMs?: number;
  /** An active account silent this long raises an alert. */
  silenceAlertMs?: number;
  /** Continue-as-new past this many history events (the server may suggest it sooner). */
  maxHistoryEvents?: number;
  /**
   * After Jobber refuses the refresh token, wait this long for an APP_DISCONNECT before telling
   * operators: Jobber revokes the tokens before its webhook arrives, so a refresh in that gap is
   * refused for an ordinary Marketplace disconnect.
   */
  brokenAlertGraceMs?: number;
}

export interface BackfillInput {
  accountId: string;
  kinds?: RecordKind[];
  /** Resume point, carried across continue-as-new and retries. */
  position?: { kind: RecordKind; after?: string; done: RecordKind[] };
  /** Only records updated at or after this instant (reconciliation); all when absent. */
  updatedSince?: string;
  pageSize?: number;
}

/** Children of the account workflow are named after it: `jobber-account/7/backfill/initial-1a2b3c4d`. */
export const backfillWorkflowId = (accountWorkflowId: string, runTag: string): string => `${accountWorkflowId}/backfill/${runTag}`;

/** Activities that call Jobber: transient failures (5xx, timeouts, throttling) retry for about half an hour. */
export const JOBBER_ACTIVITY = {
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '2 minutes', maximumAttempts: 25 },
} as const;

/** Activities that only touch MongoDB (and their local forms): about 15 minutes of retries. */
export const MONGO_ACTIVITY = {
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '1 minute', maximumAttempts: 20 },
} as const;

/**
 * sendAlert's retries. A second claimant of an alert fails with AlertInFlight and looks again
 * every 15 s at most until the owner's claim can be taken over (2 minutes, src/slack/alerts.ts):
 * 30 attempts cover that with room for Slack's own failures.
 */
export const SEND_ALERT_RETRY = { initialInterval: '2 seconds', backoffCoefficient: 2, maximumInterval: '5 minutes', maximumAttempts: 30 } as const;

/**
 * Jobber stamps `updatedAt` and `occurredAt` in whole seconds, so two changes within one second
 * share them. A fetch that starts after that second has ended, plus this margin for clock skew
 * between Jobber and us, sees the last change of that second.
 */
export const SETTLE_MARGIN_MS = 1000;

/** The start of the whole second `at` falls in, in ms: where Jobber's stamp of that moment points. */
export function startOfSecond(at: Date | string): number {
  return Math.floor((typeof at === 'string' ? Date.parse(at) : at.getTime()) / 1000) * 1000;
}

/** From when a fetch sees the final state of a record stamped (or an event that occurred) at `at`. */
export function settledAfter(at: Date): Date {
  return new Date(startOfSecond(at) + 1000 + SETTLE_MARGIN_MS);
}

/**
 * The `updatedAt` filter that asks Jobber for every change made since `at` (our clock). Jobber
 * stamps whole seconds, so a change made after `at` within the same second carries a stamp before
 * it: ask from the start of that second, less the clock-skew margin.
 */
export function changedSince(at: string): string {
  return new Date(startOfSecond(at) - SETTLE_MARGIN_MS - 1).toISOString();
}

const KINDS: Record<string, RecordKind> = { CLIENT: 'client', JOB: 'job', INVOICE: 'invoice' };

/**
 * What a record topic asks: DESTROY tombstones, every other action fetches the record (QUOTE_SENT,
 * QUOTE_APPROVED, VISIT_COMPLETE and JOB_CLOSED are not in the 2023 schema's enum: by name).
 */
export const RECORD_ACTIONS = ['CREATE', 'UPDATE', 'DESTROY', 'SENT', 'APPROVED', 'COMPLETE', 'CLOSED'] as const;
export type RecordAction = (typeof RECORD_ACTIONS)[number];

const RECORD_TOPIC = new RegExp(`^([A-Z]+(?:_[A-Z]+)*?)_(${RECORD_ACTIONS.join('|')})$`);

/**
 * QUOTE_APPROVED → { kind: 'quote', action: 'APPROVED' }, for any kind: whether the service syncs
 * it is the registry's answer (the activities'). PAYMENT_* is the kind `payment` (Jobber's
 * paymentRecord). Not of the form <KIND>_<ACTION> → undefined.
 */
export function parseRecordTopic(topic: string): { kind: RecordKind; action: RecordAction } | undefined {
  const match = RECORD_TOPIC.exec(topic);
  return match ? { kind: match[1]!.toLowerCase(), action: match[2] as RecordAction } : undefined;
}

/** The topic that refreshes a record of `kind` like a webhook would (the Slack Refresh button). */
export const refreshTopic = (kind: RecordKind): string => `${kind.toUpperCase()}_UPDATE`;

/** Before `records-registry`: CLIENT_UPDATE → { kind: 'client', action: 'UPDATE' }; topics we do not sync → undefined. */
export function parseTopic(topic: string): { kind: RecordKind; action: 'CREATE' | 'UPDATE' | 'DESTROY' } | undefined {
  const match = /^(CLIENT|JOB|INVOICE)_(CREATE|UPDATE|DESTROY)$/.exec(topic);
  return match ? { kind: KINDS[match[1]!]!, action: match[2] as 'CREATE' | 'UPDATE' | 'DESTROY' } : undefined;
}

/** ApplicationFailure types: the activities raise them, the workflows branch on them (one list for both). */
export const FailureType = {
  /** An event that failed for good (a dead letter): an event workflow fails with it, and a record workflow whose dead letters are not replayed ends with it. */
  eventFailed: 'EventFailed',
  disconnected: 'AccountDisconnected',
  unauthorized: 'JobberUnauthorized',
  invalidQuery: 'JobberQueryInvalid',
  tooExpensive: 'JobberQueryTooExpensive',
  graphql: 'JobberGraphQLError',
  unavailable: 'JobberUnavailable',
  throttled: 'JobberThrottled',
  rateLimited: 'JobberRateLimited',
  slack: 'SlackError',
  slackRateLimited: 'SlackRateLimited',
  alertInFlight: 'AlertInFlight',
  refreshUnavailable: 'TokenRefreshUnavailable',
  appCredentialsRejected: 'JobberAppCredentialsRejected',
  tokenEndpointUnavailable: 'JobberTokenEndpointUnavailable',
} as const;

/** A Jobber connection's state: the connection document's `status` and the account workflow's. */
export const CONNECTION_STATUSES = ['connected', 'disconnected', 'broken'] as const;
export type ConnectionStatus = (typeof CONNECTION_STATUSES)[number];

/** How a status reads to a person (the Slack command, the Manage App page). */
export function connectionStatusLabel(status: ConnectionStatus): 'Connected' | 'Disconnected' | 'Broken' {
  return status === 'connected' ? 'Connected' : status === 'broken' ? 'Broken' : 'Disconnected';
}

/* ---------- The record workflow: one per record, the only writer of its document ---------- */

/**
 * The workflow of one record (`jobber-record/7/invoice/9`): every webhook and Slack Refresh of
 * that record goes through it, so its document has one writer in any number of worker processes
 * (FerretDB applies an update as a read-modify-write), and a burst of changes costs one or two
 * fetches. It ends when it has nothing to do; the next event starts it again.
 */
export function recordWorkflowId(accountId: string, kind: RecordKind, itemId: string): string {
  return `jobber-record/${readableId(accountId)}/${kind}/${readableId(itemId)}`;
}

/** An event handed to its record's workflow: ids only. Its natural key is eventWorkflowId(event). */
export interface RecordEventInput {
  event: JobberEvent;
  /** Set by the dead-letter replay: taken even if this run saw the event, resolved on success. */
  replay?: boolean;
  /**
   * What sent it: a Jobber webhook (the default), the Slack Refresh button, or a backfill or
   * reconciliation page that found the stored copy older than Jobber's (`occurredAt` is then the
   * record's `updatedAt`: the natural key of the change Jobber's webhook reports).
   */
  source?: 'webhook' | 'slack-refresh' | 'reconcile';
}
export const recordEventSignal = defineSignal<[RecordEventInput]>('jobberEvent');

/** The Slack Refresh button: the same as an event, answered once a fetch that began after it is stored. */
export const refreshRecordUpdate = defineUpdate<EventOutcome, [RecordEventInput]>('refreshRecord');

export interface RecordWorkflowInput {
  accountId: string;
  kind: RecordKind;
  itemId: string;
  /** Carried across continue-as-new: events not yet done, the natural keys this run has taken, and its dead letters. */
  carried?: { pending: RecordEventInput[]; seen: string[]; unresolved?: string[] };
}

/* ---------- The Slack installation workflow ---------- */

/**
 * The one workflow of an account's Slack installation (the only writer of its document in
 * `slack_installations`): `slack-installation/<account>`.
 */
export const slackInstallationWorkflowId = (accountId: string): string => `slack-installation/${readableId(accountId)}`;

/** The installation as the writer reports it: ids, versions and states only. */
export interface SlackInstallationInfo {
  status: 'active' | 'broken' | 'uninstalled' | 'none';
  tokenVersion: number;
  hasChannel: boolean;
}

/** What the ingress and the event activities ask of an installation, honoured one at a time, in the order they came. */
export type SlackInstallationRequest =
  /** Adopt the grant the OAuth callback stored (slack_grants). */
  | { grantId: string }
  /** Alerts go to this channel (an id), if the bot can post there. */
  | { channelId: string }
  /** The bot token of this version is about to expire (or sealed under an old key): replace it once. */
  | { refreshVersion: number }
  /** Slack refused the token of this version for good (its error code, e.g. invalid_auth). */
  | { refusedVersion: number; slackError: string }
  /** The Events API: the workspace removed the app or revoked its tokens. */
  | { revoked: 'app_uninstalled' | 'tokens_revoked'; teamId: string }
  /** "Disconnect Slack" on the Manage App page. */
  | { disconnect: true };

export interface SlackInstallationResult {
  /** Whether the request did what it asked (a grant adopted, a channel chosen, …). */
  done: boolean;
  info: SlackInstallationInfo;
}

/** Requests the caller waits for (the OAuth callback, a channel choice, a refresh, Disconnect Slack). */
export const slackInstallationUpdate = defineUpdate<SlackInstallationResult, [SlackInstallationRequest]>('slackInstallationAsk');
/** Requests nobody waits for: a refusal seen by an alert, an Events API revocation (answered within Slack's 3 s). */
export const slackInstallationSignal = defineSignal<[SlackInstallationRequest]>('slackInstallationTell');

export interface SlackInstallationWorkflowInput {
  accountId: string;
  /** Signalled requests not yet honoured when the run continued as new. */
  pending?: SlackInstallationRequest[];
}
