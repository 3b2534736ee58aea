import { ApplicationFailure, Context, log } from '@temporalio/activity';
import { WorkflowNotFoundError, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import type { WebClient } from '@slack/web-api';
import type { Models } from '../src/db/models';
import { modelFor, upsertRecords, type JobberRecord } from '../src/db/records';
import { deliverEvent } from '../src/workflow-client/event-workflow';
import { JobberApiError, type JobberGraphQL, type QueryCost } from '../src/jobber/client';
import { APP_DISCONNECT_MUTATION } from '../src/jobber/queries';
import { RECORD_KINDS, recordType } from '../src/records';
import { OAuthError, type JobberOAuth } from '../src/accounts/oauth';
import { AccountNotConnectedError, StaleTokenVersionError, type TokenStore } from '../src/accounts/token-store';
import { alertChannelFor, sendAlertOnce } from '../src/slack/alerts';
import type { SlackFor } from '../src/slack/alert-targets';
import type { InstallationStore } from '../src/slack/installations';
import { accountActivity } from '../src/accounts/activity';
import { signalWithStartAccount } from '../src/workflow-client/account-control';
import {
  accountWorkflowId,
  changedSince,
  FailureType,
  startOfSecond,
  disconnectSignal,
  mainTaskQueueOf,
  refreshAccessTokenUpdate,
  type ConnectionStatus,
  type DisconnectRequest,
  type RecordKind,
} from '../workflows/definitions';
import { jobberFailure, refreshUnavailableFailure, tokenEndpointFailure } from './failures';

export interface AccountDeps {
  models: Models;
  tokens: TokenStore;
  jobber: JobberGraphQL;
  oauth: JobberOAuth;
  slack: WebClient;
  alertChannel: string;
  /** Where one account's alerts go: its own workspace's channel, or the operator's (src/slack/alert-targets.ts). */
  slackFor?: SlackFor;
  /** The Slack installations' write side, for the installation workflow's activities (activities/slack.ts). */
  slackStore?: InstallationStore;
  /** To ask an account's workflow for a refresh when Jobber answers 401. */
  temporal?: Client;
}

export interface TokenInfo {
  status: ConnectionStatus | 'unknown';
  version?: number;
  expiresAt?: string;
  issuedAt?: string;
  reason?: string;
  /** Which connection this is: a disconnect purges only the one it was asked for. */
  connectedAt?: string;
}

async function tokenInfoOf(models: Models, accountId: string): Promise<TokenInfo> {
  const doc = await models.Connection.findById(accountId, {
    status: 1,
    tokenVersion: 1,
    accessTokenExpiresAt: 1,
    accessTokenIssuedAt: 1,
    statusReason: 1,
    connectedAt: 1,
  }).lean();
  if (!doc) return { status: 'unknown' };
  return {
    status: doc.status,
    version: doc.tokenVersion,
    expiresAt: doc.accessTokenExpiresAt?.toISOString(),
    issuedAt: doc.accessTokenIssuedAt?.toISOString(),
    reason: doc.statusReason ?? undefined,
    connectedAt: doc.connectedAt?.toISOString(),
  };
}

/** An operators' alert, once per key, in the account's channel: callers pass the connection they have read. */
async function alertOperators(
  deps: AccountDeps,
  accountId: string,
  connection: { slackChannel?: string | null } | null | undefined,
  key: string,
  text: string,
): Promise<void> {
  // No operator workspace (SLACK_BOT_TOKEN unset) and no channel of the account's: nowhere to post.
  if (!alertChannelFor(connection, deps.alertChannel)) return;
  await sendAlertOnce(deps, {
    key,
    accountId,
    channel: alertChannelFor(connection, deps.alertChannel),
    owner: key,
    message: { text, blocks: [{ type: 'section', text: { type: 'mrkdwn', text: `:warning: ${text}` } }] },
  });
}

/**
 * How long an activity waits for the refresh it asked for. The refresh runs on its own task queue
 * (no slot of ours is needed), but a token endpoint that keeps refusing (429, invalid_client) must
 * not hold our slot either: past this the activity fails retryably and tries again later.
 */
const REFRESH_WAIT_MS = 30_000;

/** How long an activity that learnt of a disconnect waits for the account workflow's purge. */
const DISCONNECT_WAIT_MS = 15_000;

/**
 * Asks the account's workflow for a refresh past `staleVersion`. Only the workflow's own answer
 * that the account is not connected means disconnected; any other failure is retryable.
 */
async function requestRefresh(deps: AccountDeps & { temporal: Client }, accountId: string, staleVersion: number): Promise<void> {
  const { temporal } = deps;
  try {
    await temporal.connection.withDeadline(Date.now() + REFRESH_WAIT_MS, () =>
      temporal.workflow.getHandle(accountWorkflowId(accountId)).executeUpdate(refreshAccessTokenUpdate, { args: [{ staleVersion }] }),
    );
    return;
  } catch (err) {
    const cause = err instanceof WorkflowUpdateFailedError ? err.cause : undefined;
    if (cause instanceof ApplicationFailure && cause.type === FailureType.disconnected) {
      throw new AccountNotConnectedError(accountId, `not connected (${cause.message})`);
    }
    if (err instanceof WorkflowNotFoundError) {
      // No workflow runs: the store decides (read throws AccountNotConnectedError when not connected).
      if ((await deps.tokens.read(accountId)).version !== staleVersion) return;
    }
    throw refreshUnavailableFailure(err);
  }
}

/**
 * Jobber says the user disconnected the app: ask the account's workflow (the only writer of the
 * connection) to forget the tokens, and tell operators once per connection.
 */
async function reportDisconnected(deps: AccountDeps, accountId: string, version: number, calledAt: Date): Promise<void> {
  const doc = await deps.models.Connection.findById(accountId, { name: 1, slackChannel: 1, status: 1, tokenVersion: 1, connectedAt: 1 }).lean();
  // Already handled (an APP_DISCONNECT came first), or a newer connection that this answer is not about.
  if (doc?.status !== 'connected' || doc.tokenVersion !== version) return;
  const reason = 'Jobber says the user disconnected this app';
  const { workflowExecution, taskQueue: ownQueue } = Context.current().info;
  // Inside the account workflow's own activity (a UI disconnect), the workflow purges next anyway.
  if (deps.temporal && workflowExecution?.workflowId !== accountWorkflowId(accountId)) {
    const { temporal } = deps;
    const taskQueue = mainTaskQueueOf(ownQueue);
    // occurredAt: a connection made after this call began is left alone.
    const request: DisconnectRequest = { callJobber: false, reason, occurredAt: calledAt.toISOString() };
    const handle = await signalWithStartAccount(temporal, taskQueue, accountId, disconnectSignal, request);
    // The workflow ends once the tokens are gone: wait a little, so whoever hears 'disconnected'
    // finds the connection purged. Bounded: a reconnect meanwhile keeps the workflow running.
    await temporal.connection.withDeadline(Date.now() + DISCONNECT_WAIT_MS, () => handle.result()).catch(() => undefined);
  }
  await alertOperators(
    deps,
    accountId,
    doc,
    `account-disconnected/${accountId}/${doc.connectedAt?.getTime() ?? 0}`,
    `Jobber account ${doc.name || accountId} is disconnected: ${reason}.`,
  );
}

/**
 * Runs a Jobber call with the account's access token. On 401 it asks the account's workflow to
 * refresh (the workflow is the only writer of tokens; concurrent askers share one refresh), then
 * tries once more with the new token. When Jobber says the user disconnected the app, the
 * workflow is asked to forget the tokens and operators are told once.
 */
export async function withAccessToken<T>(
  deps: AccountDeps,
  accountId: string,
  call: (accessToken: string) => Promise<T>,
  /** The tokens, when the caller has just read them. */
  tokens?: Awaited<ReturnType<TokenStore['read']>>,
): Promise<T> {
  let current = tokens ?? (await deps.tokens.read(accountId));
  let calledAt = new Date();
  try {
    try {
      return await call(current.accessToken);
    } catch (err) {
      if (!(err instanceof JobberApiError && err.kind === 'unauthorized') || !deps.temporal) throw err;
      await requestRefresh({ ...deps, temporal: deps.temporal }, accountId, current.version);
      current = await deps.tokens.read(accountId);
      calledAt = new Date();
      return await call(current.accessToken);
    }
  } catch (err) {
    if (err instanceof JobberApiError && err.kind === 'disconnected') {
      await reportDisconnected(deps, accountId, current.version, calledAt).catch((reportErr: unknown) => {
        // The answer itself stands; the workflow's own 401 path or APP_DISCONNECT will follow.
        log.warn('could not report the disconnect', { accountId, error: (reportErr as Error).message });
      });
    }
    throw err;
  }
}

const DEFAULT_PAGE = 25;

/** The largest page whose cost stays within half the bucket, so webhooks keep their share. */
export function pageSizeFor(cost: QueryCost | undefined, first: number): number {
  if (!cost || cost.requestedQueryCost <= 0) return first;
  const perRecord = cost.requestedQueryCost / first;
  return Math.max(1, Math.min(100, Math.floor((cost.throttleStatus.maximumAvailable * 0.5) / perRecord)));
}

export function createAccountActivities(deps: AccountDeps) {
  const { models, tokens } = deps;

  /** The "lost its connection" alert, keyed by the connection so each one is told once. */
  const alertBroken = async (accountId: string): Promise<boolean> => {
    const doc = await models.Connection.findById(accountId, { name: 1, connectedAt: 1, status: 1, statusReason: 1, slackChannel: 1 }).lean();
    if (doc?.status !== 'broken') return false;
    await alertOperators(
      deps,
      accountId,
      doc,
      `account-broken/${accountId}/${doc.connectedAt?.getTime() ?? 0}`,
      `Jobber account ${doc.name || accountId} lost its connection: ${doc.statusReason}.`,
    );
    return true;
  };

  /**
   * invalid_client: the app's own credentials are refused (a mistyped secret after a deploy), so
   * every account refreshing meets it. One alert per incident: keyed by the client id and a hash
   * of the secret in use, so the fix (a new secret) starts a new incident, and a retry or the next
   * account finds the alert sent.
   */
  const alertAppCredentials = async (accountId: string, err: OAuthError): Promise<void> => {
    const key = `app-credentials-rejected/${deps.oauth.credentialsId}`;
    try {
      await sendAlertOnce(deps, {
        key,
        accountId,
        channel: deps.alertChannel,
        owner: key,
        message: {
          text: `Jobber refuses this app's client credentials (${err.message}). Check JOBBER_CLIENT_ID and JOBBER_CLIENT_SECRET: token refreshes are retried, no account is disconnected.`,
          blocks: [
            {
              type: 'section',
              text: {
                type: 'mrkdwn',
                text: `:rotating_light: Jobber refuses this app's client credentials (${err.message}). Check JOBBER_CLIENT_ID and JOBBER_CLIENT_SECRET: token refreshes are retried, no account is disconnected.`,
              },
            },
          ],
        },
      });
    } catch (alertErr) {
      // The refresh is retried anyway, and the alert with it.
      log.warn('app credentials alert not sent yet', { accountId, error: (alertErr as Error).message });
    }
  };

  return {
    async tokenInfo(accountId: string): Promise<TokenInfo> {
      return tokenInfoOf(models, accountId);
    },

    /**
     * Spends the refresh token and saves the rotated pair with a compare-and-swap on the version,
     * before anything can use it. Idempotent: a retry after the save finds the version moved on
     * and returns it instead of spending a token that is already dead.
     */
    async refreshTokens(input: {
      accountId: string;
      expectedVersion: number;
      /** The account workflow alerts later (alertAccountBroken), when no APP_DISCONNECT explains the refusal. */
      deferAlert?: boolean;
    }): Promise<TokenInfo> {
      const { accountId } = input;
      let current;
      try {
        current = await tokens.read(accountId);
      } catch (err) {
        if (err instanceof AccountNotConnectedError) return tokenInfoOf(models, accountId);
        throw err;
      }
      if (current.version !== input.expectedVersion) return tokenInfoOf(models, accountId);
      const { marked, interrupted } = await tokens.markRefreshStarted(accountId, current.version);
      if (!marked) return tokenInfoOf(models, accountId);
      let pair;
      try {
        pair = await deps.oauth.refresh(current.refreshToken);
      } catch (err) {
        if (!(err instanceof OAuthError)) throw err;
        // A refusal (4xx) means the token was not spent: a later invalid_grant is then no interrupted refresh.
        // A 5xx or no answer may come after Jobber rotated, so the marker stays.
        if (!err.permanent && err.status !== undefined && err.status < 500) await tokens.clearRefreshStarted(accountId, current.version);
        if (err.kind === 'invalid_client') await alertAppCredentials(accountId, err);
        // invalid_client, 429, 408, 5xx, no answer: the token was not refused, so it stays; retried.
        const failure = tokenEndpointFailure(err);
        if (failure) throw failure;
        const reason = interrupted
          ? 'a token refresh was interrupted before its answer could be saved; reconnect the account'
          : `Jobber refused the refresh token (${err.message}); reconnect the account`;
        if (!(await tokens.purge(accountId, 'broken', reason, { expectedVersion: current.version }))) {
          return tokenInfoOf(models, accountId); // disconnected or reconnected meanwhile
        }
        log.warn('account broken: refresh token refused', { accountId });
        if (!input.deferAlert) await alertBroken(accountId);
        return tokenInfoOf(models, accountId);
      }
      try {
        await tokens.rotate(accountId, current.version, pair);
      } catch (err) {
        if (err instanceof StaleTokenVersionError) return tokenInfoOf(models, accountId);
        throw err;
      }
      log.info('tokens refreshed', { accountId });
      return tokenInfoOf(models, accountId);
    },

    /**
     * Disconnect. From our UI: call appDisconnect (on a 401 the workflow refreshes the token first),
     * then purge; a failed call still purges. From APP_DISCONNECT: purge only.
     */
    async disconnectAccount(
      input: { accountId: string; /** Only the connection made then is purged. */ connectedAt?: string } & DisconnectRequest,
    ): Promise<{ purged: boolean; /** Jobber accepted appDisconnect. */ calledJobber: boolean }> {
      const { accountId } = input;
      let calledJobber = false;
      if (input.callJobber) {
        try {
          // An expired token gets Jobber's 401, and withAccessToken asks this account's workflow for
          // the refresh: the workflow stays the only writer of the tokens.
          await withAccessToken(deps, accountId, (accessToken) => deps.jobber.request({ accountId, accessToken }, APP_DISCONNECT_MUTATION));
          calledJobber = true;
        } catch (err) {
          log.warn('appDisconnect failed; purging the tokens anyway', { accountId, error: (err as Error).message });
        }
      }
      const purged = await tokens.purge(accountId, 'disconnected', input.reason, {
        connectedBefore: input.occurredAt ? new Date(input.occurredAt) : undefined,
        connectedAt: input.connectedAt ? new Date(input.connectedAt) : undefined,
      });
      return { purged, calledJobber };
    },

    /** Makes a grant the OAuth callback stored the account's connection (the workflow's only way to connect). */
    async adoptGrant(input: { accountId: string; grantId: string }): Promise<{ adopted: boolean; info: TokenInfo }> {
      try {
        const { adopted } = await tokens.adopt(input.accountId, input.grantId);
        return { adopted, info: await tokenInfoOf(models, input.accountId) };
      } catch (err) {
        if (err instanceof StaleTokenVersionError) throw new Error(`${err.message}; adopting the grant again`);
        throw err;
      }
    },

    /**
     * APP_DISCONNECT: hands the disconnect to the account's workflow, starting it if none runs, so
     * the workflow stays the only writer of the connection.
     */
    async requestDisconnect(input: { accountId: string; taskQueue: string } & DisconnectRequest): Promise<void> {
      if (!deps.temporal) throw new Error('no Temporal client to reach the account workflow');
      const { accountId, taskQueue, ...request } = input;
      await signalWithStartAccount(deps.temporal, taskQueue, accountId, disconnectSignal, request);
    },

    /** Tells operators, once per connection, that an account is broken; nothing if it no longer is. */
    async alertAccountBroken(input: { accountId: string }): Promise<{ sent: boolean }> {
      return { sent: await alertBroken(input.accountId) };
    },

    /** Alerts once when an account that changes in Jobber has sent no webhook for too long. */
    async checkSilence(input: { accountId: string; silentForMs: number }): Promise<{ silent: boolean }> {
      const doc = await models.Connection.findById(input.accountId).lean();
      if (!doc || doc.status !== 'connected') return { silent: false };
      const lastWebhookAt = (await accountActivity(models, input.accountId, doc)).lastWebhookAt;
      const since = lastWebhookAt ?? doc.connectedAt ?? new Date(0);
      if (Date.now() - since.getTime() < input.silentForMs) return { silent: false };
      // A webhook's occurredAt is a Jobber stamp: what changed with it has that very updatedAt. Our
      // connectedAt has milliseconds, and Jobber stamps whole seconds: a change made just after the
      // connection, within the same second, carries a stamp before it.
      const changed = lastWebhookAt ? { $gt: lastWebhookAt } : { $gte: new Date(startOfSecond(since)) };
      const healed = await Promise.all(RECORD_KINDS.map((kind) => modelFor(models, kind).countDocuments({ accountId: input.accountId, updatedAt: changed })));
      if (healed.every((n) => n === 0)) return { silent: false };
      await alertOperators(
        deps,
        input.accountId,
        doc,
        `account-silent/${input.accountId}/${since.getTime()}`,
        `Jobber account ${doc.name || input.accountId} changed but sent no webhook since ${since.toISOString()}: check that its webhooks are enabled.`,
      );
      return { silent: true };
    },

    /** The kinds a backfill or reconciliation pages through, in order: every type of the registry. */
    async recordKinds(): Promise<RecordKind[]> {
      return RECORD_KINDS;
    },

    /** One page of a backfill or reconciliation, stored through the ordered upsert; never alerts. Counts records written. */
    async syncPage(input: { accountId: string; kind: RecordKind; after?: string; pageSize?: number; updatedSince?: string }): Promise<{
      count: number;
      hasNextPage: boolean;
      endCursor?: string;
      nextPageSize: number;
    }> {
      const type = recordType(input.kind);
      if (!type) throw ApplicationFailure.nonRetryable(`no record type ${JSON.stringify(input.kind)} in the registry`, 'UnknownRecordKind');
      let first = input.pageSize ?? DEFAULT_PAGE;
      // A type whose page query has no updatedAt filter (jobs) is paged through whole by a
      // reconciliation, and the ordered upsert skips what is unchanged.
      const filter = input.updatedSince && type.pageFilterByUpdatedAt ? { updatedAt: { after: changedSince(input.updatedSince) } } : undefined;
      type Page = { nodes: JobberRecord[]; pageInfo: { endCursor: string | null; hasNextPage: boolean } };
      let result: { data: Record<string, Page>; cost?: QueryCost } | undefined;
      let fetchedAt = new Date();
      while (!result) {
        // When the fetch that returned the page started: it orders equal-updatedAt copies.
        fetchedAt = new Date();
        try {
          result = await withAccessToken(deps, input.accountId, (accessToken) =>
            deps.jobber.request<Record<string, Page>>({ accountId: input.accountId, accessToken }, type.page.document, {
              first,
              after: input.after ?? null,
              ...(filter ? { filter } : {}),
            }),
          );
        } catch (err) {
          // A page that costs more than the whole bucket can never run: ask for fewer records.
          const cost = err instanceof JobberApiError && err.kind === 'too_expensive' ? err.details.cost : undefined;
          if (cost && first > 1) {
            first = Math.min(first - 1, pageSizeFor(cost, first));
            continue;
          }
          throw jobberFailure(err);
        }
      }
      const page = result.data[type.page.field]!;
      // A record held in an older copy goes to its record workflow (the one writer of its document,
      // whichever worker process runs it), as the change Jobber's webhook reports: its natural key
      // is that webhook's, so one that came or comes is taken once. Only new records are written here.
      const temporal = deps.temporal;
      const handOff = temporal
        ? async (stale: JobberRecord[]) => {
            const taskQueue = mainTaskQueueOf(Context.current().info.taskQueue);
            for (const record of stale) {
              const event = {
                topic: `${input.kind.toUpperCase()}_UPDATE`,
                accountId: input.accountId,
                itemId: record.id,
                occurredAt: new Date(record.updatedAt ?? fetchedAt).toISOString(),
              };
              await deliverEvent(temporal, taskQueue, { event, source: 'reconcile' }, `${event.topic} ${record.id} (reconciliation)`);
            }
          }
        : undefined;
      const { applied: count } = await upsertRecords(models, input.kind, input.accountId, page.nodes, fetchedAt, new Date(), handOff);
      // "Last sync" goes on this run's own document (one writer: the run's pages come one at a time).
      const run = Context.current().info.workflowExecution?.workflowId ?? `${input.accountId}/unattributed`;
      await models.SyncRun.updateOne({ _id: run }, { $set: { accountId: input.accountId, lastPageAt: new Date() } }, { upsert: true });
      return {
        count,
        hasNextPage: page.pageInfo.hasNextPage,
        endCursor: page.pageInfo.endCursor ?? undefined,
        nextPageSize: pageSizeFor(result.cost, first),
      };
    },
  };
}
