import mongoose, { Schema, type Connection, type InferSchemaType, type Model } from 'mongoose';
import { CONNECTION_STATUSES } from '../../workflows/definitions';
import { bindRecordModels } from '../records';

/**
 * Every collection: its schema here, its model in bindModels. Only single-document atomic
 * operations are used (upserts, findOneAndUpdate, unique indexes): no multi-document transactions,
 * so FerretDB v1 and MongoDB both serve.
 */

const sealed = new Schema({ keyId: String, iv: String, tag: String, data: String }, { _id: false });

const connectionSchema = new Schema(
  {
    _id: { type: String, required: true }, // Jobber account EncodedId
    name: { type: String, default: '' },
    userId: { type: String },
    status: { type: String, enum: CONNECTION_STATUSES, required: true },
    statusReason: { type: String },
    accessToken: { type: sealed },
    refreshToken: { type: sealed },
    accessTokenExpiresAt: { type: Date },
    accessTokenIssuedAt: { type: Date },
    /** Incremented on every token write: the compare-and-swap guard against stale writers. */
    tokenVersion: { type: Number, default: 0 },
    /** Set just before a refresh is sent to Jobber, cleared with the save: a crash in between shows. */
    refreshStartedAt: { type: Date },
    /** When the OAuth callback received the grant of this connection (Manage App sessions bind to it). */
    connectedAt: { type: Date },
    /** The grant this connection was adopted from: a repeated adoption of it is a no-op. */
    grantId: { type: String },
    disconnectedAt: { type: Date },
    /** Legacy, no longer written: see accountActivity (src/accounts/activity.ts). */
    lastWebhookAt: { type: Date },
    /** Legacy, no longer written: see accountActivity (src/accounts/activity.ts). */
    lastSyncAt: { type: Date },
    slackChannel: { type: String },
  },
  { versionKey: false, collection: 'connections' },
);

/**
 * A connection as the OAuth callback received it, written once by the ingress and read by the
 * account workflow, which adopts it into the connection document (its only writer) and deletes it.
 */
const grantSchema = new Schema(
  {
    _id: { type: String, required: true }, // random: only this id crosses Temporal
    accountId: { type: String, required: true, index: true },
    name: { type: String, default: '' },
    userId: { type: String },
    accessToken: { type: sealed, required: true },
    refreshToken: { type: sealed, required: true },
    accessTokenExpiresAt: { type: Date },
    receivedAt: { type: Date, required: true },
  },
  { versionKey: false, collection: 'grants' },
);

/** One document per backfill or reconciliation run (its workflow id), written only by that run. */
const syncRunSchema = new Schema(
  {
    _id: { type: String, required: true }, // the backfill workflow id
    accountId: { type: String, required: true },
    lastPageAt: { type: Date, required: true },
  },
  { versionKey: false, collection: 'sync_runs' },
);
syncRunSchema.index({ accountId: 1, lastPageAt: -1 });

/** Every webhook the service was handed, by its natural key, and what became of it. */
const eventSchema = new Schema(
  {
    _id: { type: String, required: true }, // the event's natural key (eventWorkflowId)
    topic: { type: String, required: true },
    accountId: { type: String, required: true, index: true },
    itemId: { type: String, required: true },
    occurredAt: { type: Date, required: true },
    status: { type: String, required: true }, // synced | deleted | gone | recorded | failed
    reason: { type: String },
    processedAt: { type: Date },
    /** False for a Slack Refresh (no webhook); absent on events recorded before it was kept. */
    fromWebhook: { type: Boolean },
    /** What the record workflow made of it (workflows/definitions.ts EventOutcome): ids, a status, alert fact names. */
    outcome: { type: Schema.Types.Mixed },
  },
  { versionKey: false, collection: 'events' },
);
/** "Last webhook" of an account: its latest webhook-sourced event. */
eventSchema.index({ accountId: 1, occurredAt: -1 });

/** One row per Slack alert fact; the unique _id is what makes an alert go out once. */
const alertSchema = new Schema(
  {
    _id: { type: String, required: true }, // e.g. job-created/<jobId>
    accountId: { type: String, required: true },
    /** off: not posted, its rule was off when the fact happened (src/slack/alert-rules.ts); `reason` says so. */
    status: { type: String, enum: ['pending', 'sent', 'off'], required: true },
    owner: { type: String, required: true },
    claimedAt: { type: Date, required: true },
    reason: String,
    channel: String,
    ts: String,
    sentAt: Date,
    acknowledgedBy: String,
  },
  { versionKey: false, collection: 'alerts' },
);

/** Which facts of an account post to Slack, and where (src/slack/alert-rules.ts). Written only by the Manage App page. */
const alertRulesSchema = new Schema(
  {
    _id: { type: String, required: true }, // Jobber account EncodedId
    facts: [{ _id: false, fact: String, on: Boolean, channel: String }],
    updatedAt: { type: Date },
  },
  { versionKey: false, collection: 'alert_rules' },
);

const deadLetterSchema = new Schema(
  {
    _id: { type: String, required: true }, // the event's natural key (eventWorkflowId), or jobber-webhook/malformed/<body hash>
    /** The event that failed; absent for a webhook whose body could not be read as one. */
    event: { type: Schema.Types.Mixed },
    /** A signed webhook whose body was malformed, as received (capped: Jobber's are ids only). */
    webhook: {
      type: new Schema({ contentType: String, body: String, bytes: Number, truncated: Boolean }, { _id: false }),
    },
    /** The event workflow a replayed malformed webhook became. */
    replayedAs: { type: String },
    error: { type: String, required: true },
    errorType: { type: String },
    attempts: { type: Number },
    runId: { type: String },
    status: { type: String, enum: ['open', 'replayed', 'resolved'], required: true },
    failedAt: { type: Date, required: true },
    replayedAt: { type: Date },
    resolvedAt: { type: Date },
  },
  { versionKey: false, collection: 'dead_letters' },
);

/**
 * A Manage App sign-in. The browser holds a random id; only its hash is stored, so a read of this
 * collection signs nobody in. Written only by the ingress (insert, then delete): one writer.
 */
const sessionSchema = new Schema(
  {
    _id: { type: String, required: true }, // sha256 of the cookie's session id
    accountId: { type: String, required: true, index: true },
    /** The form token of this session only: POSTs carry it in the body, never in a URL. */
    csrf: { type: String, required: true },
    createdAt: { type: Date, required: true },
    /** Checked on every request; the TTL index (see sessionTtlIndex) only tidies up. */
    expiresAt: { type: Date, required: true },
  },
  { versionKey: false, collection: 'sessions' },
);

/**
 * Who acknowledged an alert first, claimed with a unique insert (`_id` = alert key). A conditional
 * update (`acknowledgedBy: null` in the filter) is atomic on MongoDB, but FerretDB v1 (the local
 * run and the tests) lets two concurrent ones both match; a duplicate `_id` is refused by both.
 * `alerts.acknowledgedBy` is still written, by the claim's winner only. See claimAcknowledgement
 * (src/slack/acknowledgements.ts).
 */
const alertAcknowledgementSchema = new Schema(
  {
    _id: { type: String, required: true }, // the alert key, e.g. job-created/<jobId>
    userId: { type: String, required: true },
    at: { type: Date, required: true },
  },
  { versionKey: false, collection: 'alert_acknowledgements' },
);

/**
 * Which Slack workspace may see which Jobber accounts. Explicit operator configuration
 * (`npm run ops -- slack link <teamId> <accountId>`, src/db/slack-links.ts): a workspace with no
 * row sees nothing.
 */
const slackLinkSchema = new Schema(
  {
    _id: { type: String, required: true }, // Slack team id (T…), or enterprise id (E…)
    accountIds: { type: [String], default: [] },
    linkedAt: { type: Date },
    linkedBy: { type: String },
  },
  { versionKey: false, collection: 'slack_links' },
);

/**
 * An account's own Slack workspace ("Add to Slack", src/slack/installations.ts). `_id` is the
 * account, so an account has at most one installation whatever races; a workspace may serve several.
 * One writer: the account's Slack installation workflow (workflows/slack-installation.ts); the
 * ingress and the event activities only read it and ask that workflow for every change.
 */
const slackInstallationSchema = new Schema(
  {
    _id: { type: String, required: true }, // Jobber account EncodedId
    teamId: { type: String, required: true, index: true },
    teamName: { type: String, default: '' },
    appId: { type: String },
    botUserId: { type: String },
    /** Absent once Slack revoked the tokens or the app was uninstalled. */
    botToken: { type: sealed },
    refreshToken: { type: sealed },
    tokenExpiresAt: { type: Date },
    scopes: { type: [String], default: [] },
    /** Where the account's alerts go; none until the user picks one. */
    channel: { type: String },
    channelName: { type: String },
    /** active | broken (Slack refused the token) | uninstalled (app_uninstalled, tokens_revoked). */
    status: { type: String, enum: ['active', 'broken', 'uninstalled'], required: true },
    statusReason: { type: String },
    installedAt: { type: Date, required: true },
    disconnectedAt: { type: Date },
    /** Bumped whenever the bot token changes (install, refresh): a refresh or a refusal names the token it is about. */
    tokenVersion: { type: Number, default: 0 },
    /** The grant (slack_grants) this installation came from: adopting it again changes nothing. */
    grantId: { type: String },
  },
  { versionKey: false, collection: 'slack_installations' },
);

/**
 * What oauth.v2.access answered the OAuth callback, sealed as the installation will hold it, until
 * the installation workflow adopts it (only the random `_id` crosses Temporal). Deleted on adoption.
 */
const slackGrantSchema = new Schema(
  {
    _id: { type: String, required: true }, // random
    accountId: { type: String, required: true },
    teamId: { type: String, required: true },
    teamName: { type: String, default: '' },
    appId: { type: String },
    botUserId: { type: String },
    botToken: { type: sealed, required: true },
    refreshToken: { type: sealed },
    tokenExpiresAt: { type: Date },
    scopes: { type: [String], default: [] },
    receivedAt: { type: Date, required: true },
  },
  { versionKey: false, collection: 'slack_grants' },
);

/** An alert kept, not posted, because the account's Slack was disconnected: shown on the Manage App page. */
const slackUndeliveredSchema = new Schema(
  {
    _id: { type: String, required: true }, // the alert key
    accountId: { type: String, required: true, index: true },
    teamId: { type: String },
    reason: { type: String },
    at: { type: Date, required: true },
    /** Who claimed the alert (its event workflow): the late delivery takes the claim over as the same owner. */
    owner: { type: String },
  },
  { versionKey: false, collection: 'slack_undelivered' },
);

export type ConnectionDoc = InferSchemaType<typeof connectionSchema>;
export type SlackInstallationDoc = InferSchemaType<typeof slackInstallationSchema>;
export type GrantDoc = InferSchemaType<typeof grantSchema>;
export type SlackGrantDoc = InferSchemaType<typeof slackGrantSchema>;
export type AlertDoc = InferSchemaType<typeof alertSchema>;
export type DeadLetterDoc = InferSchemaType<typeof deadLetterSchema>;
export type SlackLinkDoc = InferSchemaType<typeof slackLinkSchema>;

function bindModels(connection: Connection) {
  return {
    Connection: connection.model('Connection', connectionSchema),
    Grant: connection.model('Grant', grantSchema),
    SyncRun: connection.model('SyncRun', syncRunSchema),
    // Client, Job, Invoice, …: one per record type of the registry.
    ...bindRecordModels(connection),
    Event: connection.model('Event', eventSchema),
    Alert: connection.model('Alert', alertSchema),
    AlertAcknowledgement: connection.model('AlertAcknowledgement', alertAcknowledgementSchema),
    AlertRules: connection.model('AlertRules', alertRulesSchema),
    DeadLetter: connection.model('DeadLetter', deadLetterSchema),
    Session: connection.model('Session', sessionSchema),
    SlackLink: connection.model('SlackLink', slackLinkSchema),
    SlackInstallation: connection.model('SlackInstallation', slackInstallationSchema),
    SlackUndelivered: connection.model('SlackUndelivered', slackUndeliveredSchema),
    SlackGrant: connection.model('SlackGrant', slackGrantSchema),
  };
}

export type Models = ReturnType<typeof bindModels>;

/** Binds the models to one connection (tests use a database each) and builds their indexes. */
export async function createModels(connection: Connection): Promise<Models> {
  const models = bindModels(connection);
  await Promise.all(Object.values(models).map((m) => (m as unknown as Model<unknown>).init()));
  await sessionTtlIndex(models.Session);
  return models;
}

/**
 * MongoDB deletes expired sessions itself. FerretDB v1 has no TTL indexes ("not implemented"):
 * there the ingress's sweep at each sign-in does it (src/ingress/sessions.ts), and expiry is
 * enforced on every request either way.
 */
async function sessionTtlIndex(model: Models['Session']): Promise<void> {
  try {
    await model.collection.createIndex({ expiresAt: 1 }, { expireAfterSeconds: 0 });
  } catch (err) {
    if ((err as { code?: unknown }).code !== 238) throw err; // NotImplemented
  }
}

export async function connectDatabase(
  url: string,
  /** MONGO_WRITE_CONCERN (config.mongoWriteConcern): majority unless said otherwise, what a replica set needs to keep a write through a failover. */
  options: { writeConcern?: 'majority' | number } = {},
): Promise<{ connection: Connection; models: Models }> {
  const connection = await mongoose
    .createConnection(url, { serverSelectionTimeoutMS: 5000, writeConcern: { w: options.writeConcern ?? 'majority' } })
    .asPromise();
  return { connection, models: await createModels(connection) };
}

/** MongoDB's duplicate-key error, which our upserts use as "someone newer got there first". */
export function isDuplicateKey(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 11000;
}

export interface BulkWriteFailure {
  writeErrors?: { index?: number; code?: number; err?: { index: number; code?: number } }[];
  result?: { matchedCount?: number; upsertedCount?: number; insertedCount?: number };
}

/** Splits a bulk failure into the indexes that met a duplicate key and whether the server stopped early. */
export function duplicateKeys(
  err: unknown,
  sent: number,
  done: (result: NonNullable<BulkWriteFailure['result']>) => number,
): { failed: Set<number>; stoppedAt: number } {
  const failure = err as BulkWriteFailure;
  const errors = failure.writeErrors ?? [];
  if (errors.length === 0 || errors.some((e) => (e.err?.code ?? e.code) !== 11000)) throw err;
  const failed = new Set(errors.map((e) => e.err?.index ?? e.index!));
  // Every write that ran either succeeded or failed: fewer means the server stopped at the first error.
  const ran = done(failure.result ?? {}) + failed.size;
  return { failed, stoppedAt: ran < sent ? Math.min(...failed) : Infinity };
}
