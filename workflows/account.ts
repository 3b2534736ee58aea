import {
  allHandlersFinished,
  ApplicationFailure,
  condition,
  continueAsNew,
  executeChild,
  log,
  ParentClosePolicy,
  patched,
  proxyActivities,
  setHandler,
  uuid4,
  workflowInfo,
} from '@temporalio/workflow';
import type { Activities } from '../activities';
import {
  accountsTaskQueue,
  accountStateQuery,
  accountWorkflowId,
  FailureType,
  SEARCH_ATTRIBUTES,
  startOfSecond,
  backfillWorkflowId,
  disconnectSignal,
  grantSignal,
  reconnectedSignal,
  refreshAccessTokenUpdate,
  syncNowSignal,
  type AccountRequest,
  type AccountWorkflowInput,
  type AccountWorkflowState,
  type DisconnectRequest,
} from './definitions';
import { backfillWorkflow } from './backfill';
import { refreshDueAt } from './refresh-timing';
import { summarized } from './summaries';

const ACTIVITY_OPTIONS = {
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '1 second', maximumInterval: '1 minute', backoffCoefficient: 2 },
} as const;
/** A refresh retries transient failures for a long time: the account must not be given up lightly. */
const REFRESH_OPTIONS = {
  startToCloseTimeout: '30 seconds',
  retry: { initialInterval: '2 seconds', maximumInterval: '2 minutes', backoffCoefficient: 2 },
} as const;

/** The account workflow's activities, on `taskQueue` (the workflow's own when absent). */
function accountActivities(taskQueue?: string) {
  const { tokenInfo, disconnectAccount, checkSilence, alertAccountBroken, adoptGrant } = proxyActivities<Activities>({ ...ACTIVITY_OPTIONS, taskQueue });
  const { refreshTokens } = proxyActivities<Activities>({ ...REFRESH_OPTIONS, taskQueue });
  return { tokenInfo, disconnectAccount, checkSilence, alertAccountBroken, adoptGrant, refreshTokens };
}

const MINUTE = 60_000;
const DEFAULT_TIMING = {
  refreshAheadMs: 5 * MINUTE,
  reconcileEveryMs: 6 * 60 * MINUTE,
  silenceAlertMs: 72 * 60 * MINUTE,
  maxHistoryEvents: 5000,
  brokenAlertGraceMs: 5 * MINUTE,
};

/**
 * One per connected account, id `jobber-account/<id>`. The only writer of the account's connection
 * document: it adopts the grants the OAuth callback stores, refreshes ahead of expiry and on demand
 * (the refresh Update), handles disconnects from both sides, in the order they came, runs the
 * initial backfill and the periodic reconciliation. No token ever enters its
 * history: activities read and write tokens in MongoDB; the workflow only sees versions and times.
 */
export async function accountWorkflow(input: AccountWorkflowInput): Promise<AccountWorkflowState> {
  const { accountId } = input;
  const timing = { ...DEFAULT_TIMING, ...input.timing };
  // The refresh must never wait for a slot held by an activity that waits for the refresh (a 401
  // storm): it runs on the accounts queue, polled by its own worker. Older runs keep their queue.
  const { tokenInfo, disconnectAccount, checkSilence, alertAccountBroken, adoptGrant, refreshTokens } = accountActivities(
    patched('tokens-accounts-queue') ? accountsTaskQueue(workflowInfo().taskQueue) : undefined,
  );
  const state: AccountWorkflowState = {
    status: 'connected',
    tokenVersion: -1,
    refreshes: input.carried?.refreshes ?? 0,
    lastRefreshAt: input.carried?.lastRefreshAt,
    backfill: input.carried?.backfill ?? 'pending',
    lastReconcileAt: input.carried?.lastReconcileAt,
    lastSyncAttemptAt: input.carried?.lastSyncAttemptAt,
  };
  // Runs started before these patches keep one overwritable disconnect request and continue as
  // new without looking again after the handlers finished.
  const queued = patched('accounts-request-queue');
  const carryAll = patched('accounts-continue-as-new-carry');
  let disconnect: DisconnectRequest | undefined;
  /** Grants and disconnects (queued runs), oldest first; each is removed once honoured. */
  const pending: AccountRequest[] = [...(input.carried?.pending ?? [])];
  /** The connection the account has now (its connectedAt): a UI disconnect purges only that one. */
  let connectedAt: string | undefined;
  let reload = true;
  let syncRequested = input.carried?.syncRequested ?? false;
  let refreshing: Promise<void> | undefined;
  /** Jobber refused the refresh token and operators have not been told yet. */
  let brokenAlertDue = false;

  const applyInfo = (info: Awaited<ReturnType<typeof tokenInfo>>) => {
    state.status = info.status === 'connected' ? 'connected' : info.status === 'broken' ? 'broken' : 'disconnected';
    // A token stored before its issue time was kept: first seen now.
    if (info.version !== state.tokenVersion) state.accessTokenIssuedAt = info.issuedAt ?? new Date().toISOString();
    if (info.version !== undefined) state.tokenVersion = info.version;
    state.accessTokenExpiresAt = info.expiresAt;
    state.reason = info.reason;
    connectedAt = info.connectedAt;
  };

  /** One refresh at a time: every caller during a refresh awaits the same one. */
  const refresh = (): Promise<void> => {
    refreshing ??= (async () => {
      try {
        // Runs started before this patch had refreshTokens alert at once.
        const deferAlert = patched('broken-alert-after-grace');
        const result = await summarized(refreshTokens, `refresh the access token (version ${state.tokenVersion})`, {
          accountId,
          expectedVersion: state.tokenVersion,
          deferAlert,
        });
        applyInfo(result);
        if (deferAlert && result.status === 'broken') brokenAlertDue = true;
        if (result.status === 'connected') {
          state.refreshes++;
          state.lastRefreshAt = new Date().toISOString();
        }
      } finally {
        refreshing = undefined;
      }
    })();
    return refreshing;
  };

  setHandler(accountStateQuery, () => state);
  setHandler(disconnectSignal, (request) => {
    if (queued) pending.push({ disconnect: request });
    // A UI disconnect (which calls Jobber) wins over a webhook's purge-only request.
    else if (!disconnect || request.callJobber) disconnect = request;
  });
  setHandler(grantSignal, ({ grantId }) => {
    pending.push({ grantId });
  });
  setHandler(syncNowSignal, () => {
    syncRequested = true;
  });
  setHandler(
    refreshAccessTokenUpdate,
    async ({ staleVersion }) => {
      // An Update that comes as a run starts (just after continue-as-new) waits for its state.
      if (carryAll) await condition(() => state.tokenVersion >= 0 || state.status !== 'connected');
      if (state.tokenVersion <= staleVersion && state.status === 'connected') await refresh();
      if (state.status !== 'connected') {
        throw ApplicationFailure.nonRetryable(`account is ${state.status}`, FailureType.disconnected);
      }
      return { version: state.tokenVersion };
    },
    {
      validator: ({ staleVersion }) => {
        if (!Number.isInteger(staleVersion)) throw new Error('staleVersion must be an integer');
      },
    },
  );

  /**
   * Backfills and reconciliations run as child workflows beside this loop, so a long one never
   * holds up a token refresh or a disconnect. A failed one is retried at the next reconciliation.
   */
  let sync: Promise<void> | undefined;
  let generation = 0; // bumped by a reconnect: a backfill of an older connection does not count
  let lastReconnect = input.carried?.lastReconnect ?? -1;
  const startSync = (full: boolean) => {
    const startedAt = new Date().toISOString();
    const started = generation;
    if (full) state.backfill = 'running';
    sync = executeChild(backfillWorkflow, {
      workflowId: backfillWorkflowId(accountWorkflowId(accountId), `${full ? 'initial' : 'sync'}-${uuid4().slice(0, 8)}`),
      args: [{ accountId, updatedSince: full ? undefined : state.lastReconcileAt }],
      parentClosePolicy: ParentClosePolicy.REQUEST_CANCEL,
      typedSearchAttributes: [{ key: SEARCH_ATTRIBUTES.accountId, value: accountId }],
      staticSummary: full ? 'initial backfill' : 'sync',
    })
      .then(
        () => {
          if (full && started === generation) state.backfill = 'done';
          // The checkpoint moves only on success: a failed run leaves no gap for the next one.
          state.lastReconcileAt = startedAt;
          state.lastSyncAttemptAt = startedAt;
        },
        (err: unknown) => {
          log.warn('sync failed; retried at the next reconciliation', { accountId, full, error: (err as Error).message });
          if (full && started === generation) state.backfill = 'failed';
          state.lastSyncAttemptAt = startedAt;
        },
      )
      .finally(() => {
        sync = undefined;
      });
  };
  setHandler(reconnectedSignal, ({ tokenVersion }) => {
    if (tokenVersion <= lastReconnect) return; // the same connection announced twice
    lastReconnect = tokenVersion;
    reload = true;
    disconnect = undefined;
    generation++;
    state.backfill = 'pending';
  });

  /** Honours one request, then removes it (a failure leaves it first in line). */
  const honour = async (request: AccountRequest) => {
    if (refreshing) await refreshing;
    if ('grantId' in request) {
      const { adopted, info } = await summarized(adoptGrant, 'adopt the new connection (OAuth grant)', { accountId, grantId: request.grantId });
      applyInfo(info);
      if (adopted) {
        generation++;
        state.backfill = 'pending';
        brokenAlertDue = false; // a refused token belonged to the connection this one replaces
      }
    } else {
      const { disconnect: ask } = request;
      // A webhook's disconnect is bounded by its occurredAt; ours applies to the connection we hold now.
      const guard = ask.occurredAt ? {} : { connectedAt };
      const purge = () =>
        summarized(
          disconnectAccount,
          ask.callJobber ? `disconnect: call Jobber's appDisconnect, then purge the tokens (${ask.reason})` : `disconnect: purge the tokens (${ask.reason})`,
          { accountId, ...ask, ...guard },
        );
      let { purged } = await purge();
      // Jobber stamps whole seconds: a disconnect stamped in the second this live connection was
      // made may be older than it (a reconnect) or newer (a disconnect right after connecting).
      // Jobber knows: a refresh is refused if the disconnect revoked these tokens, and then the
      // disconnect applies. Runs started before this patch left such a connection alone.
      if (
        !purged &&
        ask.occurredAt &&
        state.status === 'connected' &&
        connectedAt !== undefined &&
        startOfSecond(connectedAt) === startOfSecond(ask.occurredAt) &&
        patched('accounts-same-second-disconnect-verified')
      ) {
        await refresh();
        if (state.status !== 'connected') ({ purged } = await purge());
      }
      log.info('account disconnected', { accountId, callJobber: ask.callJobber, purged });
      applyInfo(await summarized(tokenInfo, 'load the connection after the disconnect', accountId));
    }
    pending.shift();
  };

  for (;;) {
    if (reload) {
      reload = false;
      brokenAlertDue = false; // a reconnect: the refused token belonged to the old connection
      applyInfo(await summarized(tokenInfo, 'load the connection (status, token version, expiry)', accountId));
    }
    // In the order they came: a disconnect then a reconnect leaves the account connected.
    while (pending.length > 0) await honour(pending[0]!);
    if (disconnect) {
      if (refreshing) await refreshing;
      const request = disconnect;
      const { purged } = await summarized(
        disconnectAccount,
        request.callJobber
          ? `disconnect: call Jobber's appDisconnect, then purge the tokens (${request.reason})`
          : `disconnect: purge the tokens (${request.reason})`,
        { accountId, ...request },
      );
      log.info('account disconnected', { accountId, callJobber: request.callJobber, purged });
      if (purged || !request.occurredAt) {
        applyInfo(await summarized(tokenInfo, 'load the connection after the disconnect', accountId));
        // Returning cancels a running backfill (parent close policy).
        if (state.status !== 'connected') return state;
      }
      disconnect = undefined; // a stale APP_DISCONNECT: the newer connection stays
    }
    if (state.status === 'broken' && brokenAlertDue) {
      // A refused refresh token is what a Marketplace disconnect looks like until its webhook
      // comes: give APP_DISCONNECT (or a reconnect) a chance before alerting operators.
      const explained = await condition(() => disconnect !== undefined || reload || pending.length > 0, timing.brokenAlertGraceMs);
      if (explained) continue;
      brokenAlertDue = false;
      await summarized(alertAccountBroken, 'alert operators: the account lost its connection', { accountId });
    }
    if (state.status !== 'connected' && pending.length === 0) {
      // Disconnected, or broken (dead refresh token): nothing left to do. A reconnect starts a new
      // run through signal-with-start, so no workflow lingers for an account we cannot use.
      return state;
    }

    if (!sync && (state.backfill === 'pending' || syncRequested)) {
      const full = state.backfill === 'pending';
      syncRequested = false;
      startSync(full);
    }

    const refreshDue = () => {
      if (!patched('tokens-refresh-ahead-scaled')) {
        return (state.accessTokenExpiresAt ? Date.parse(state.accessTokenExpiresAt) : Date.now()) - timing.refreshAheadMs;
      }
      const token = { issuedAt: state.accessTokenIssuedAt, expiresAt: state.accessTokenExpiresAt, lastRefreshAt: state.lastRefreshAt };
      return refreshDueAt(token, timing.refreshAheadMs, Date.now());
    };
    const lastAttempt = state.lastSyncAttemptAt ?? state.lastReconcileAt;
    const reconcileDue = () => (lastAttempt ? Date.parse(lastAttempt) : Date.now()) + timing.reconcileEveryMs;
    // While a sync runs its reconciliation is not due: only the refresh timer counts.
    const wait = Math.max(1000, (sync ? refreshDue() : Math.min(refreshDue(), reconcileDue())) - Date.now());
    const syncRunning = sync;
    // Also wake when a refresh asked for by an Update found the account broken or disconnected,
    // and when a sync finishes (a requested one may be waiting).
    await condition(
      () =>
        reload ||
        disconnect !== undefined ||
        pending.length > 0 ||
        (syncRequested && !sync) ||
        state.status !== 'connected' ||
        (syncRunning !== undefined && sync === undefined),
      wait,
    );
    // Times are read again: an Update may have refreshed the token while we waited.
    if (Date.now() >= refreshDue() && state.status === 'connected' && !disconnect && pending.length === 0) await refresh();
    if (Date.now() >= reconcileDue() && state.status === 'connected' && !sync) {
      if (state.backfill === 'failed') state.backfill = 'pending';
      else syncRequested = true;
      await summarized(checkSilence, 'check that the account still sends webhooks', { accountId, silentForMs: timing.silenceAlertMs });
    }

    const info = workflowInfo();
    if ((info.continueAsNewSuggested || info.historyLength > timing.maxHistoryEvents) && !disconnect && !reload && !sync && pending.length === 0) {
      await condition(allHandlersFinished);
      // A request (or a sync) that came during the wait is honoured by this run first.
      if (carryAll && (disconnect || reload || sync || pending.length > 0 || state.status !== 'connected')) continue;
      await continueAsNew<typeof accountWorkflow>({
        accountId,
        timing: input.timing,
        carried: {
          backfill: state.backfill,
          lastReconcileAt: state.lastReconcileAt,
          lastSyncAttemptAt: state.lastSyncAttemptAt,
          refreshes: state.refreshes,
          lastRefreshAt: state.lastRefreshAt,
          ...(carryAll ? { pending, syncRequested, lastReconnect } : {}),
        },
      });
    }
  }
}
