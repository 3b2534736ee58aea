import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { followConnectFlow } from '../../src/dev/connect-flow';
import { createApp } from '../../src/ingress/app';
import { createAuthRouter } from '../../src/ingress/auth-routes';
import { SESSION_COOKIE } from '../../src/ingress/sessions';
import { messagePage } from '../../src/ingress/manage-routes';
import { Sessions } from '../../src/ingress/sessions';
import { JobberOAuth } from '../../src/accounts/oauth';
import { CLIENT_ID } from '../helpers/deps';
import { accountStateQuery, accountWorkflowId, reconnectedSignal, refreshAccessTokenUpdate, syncNowSignal } from '../../workflows/definitions';
import { SESSION_SECRET, startPipeline, waitFor, type Pipeline } from '../helpers/pipeline';
import { refreshRecordThroughWorkflow } from '../../src/workflow-client/refresh-record';
import { accountActivity } from '../../src/accounts/activity';

/** A promise the test resolves when it chooses: holds an activity at a chosen point. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { open, opened };
}

describe('the account workflow honours every request, in order, across continue-as-new (real Temporal, FerretDB)', () => {
  let p: Pipeline;

  beforeAll(async () => {
    // A tiny history limit: the workflow continues as new at almost every wake-up.
    p = await startPipeline('requests', { accountTiming: { maxHistoryEvents: 10, brokenAlertGraceMs: 60_000 } });
  });
  afterAll(async () => {
    await p?.close();
  });

  const appDisconnects = (accountId: string) =>
    p.jobber.sandbox.requests.filter((r) => r.operationName === 'AppDisconnect' && r.accountId === accountId).length;
  const handleOf = (accountId: string) => p.temporal.client.workflow.getHandle(accountWorkflowId(accountId));
  /** The events of the workflow's current run. */
  const history = async (accountId: string) => ((await handleOf(accountId).fetchHistory()).events ?? []).map((event) => ({ event }));
  /** Until the current run has processed a signal of that name (a workflow task completed after it). */
  const processed = (accountId: string, signalName: string, count = 1) =>
    waitFor(async () => {
      const events = await history(accountId);
      const signals = events.flatMap((e, i) => (e.event.workflowExecutionSignaledEventAttributes?.signalName === signalName ? [i] : []));
      if (signals.length < count) return undefined;
      return events.slice(signals[count - 1]! + 1).some((e) => e.event.workflowTaskCompletedEventAttributes) ? true : undefined;
    });
  /** Connected, backfilled, and idle in a run that continued as new (the backfill ended the first). */
  const connectAndSettle = async (name: string) => {
    const account = p.jobber.sandbox.store.createAccount({ name });
    const result = await followConnectFlow(p.ingressUrl, account.id);
    expect(result.location).toBe('/manage');
    await waitFor(async () => {
      const events = await history(account.id);
      const continued = Boolean(events[0]?.event.workflowExecutionStartedEventAttributes?.continuedExecutionRunId);
      const state = await handleOf(account.id).query(accountStateQuery);
      return continued && state.backfill === 'done' ? true : undefined;
    }, 60_000);
    return { accountId: account.id, cookies: result.cookies };
  };

  it('honours a Manage App disconnect that arrives while the workflow waits to continue as new', async () => {
    const { accountId } = await connectAndSettle('Switching Co');
    const handle = handleOf(accountId);
    const { tokenVersion } = (await p.models.Connection.findById(accountId).lean())!;
    // A refresh (asked for by an activity's 401) is held at Jobber's token endpoint: its Update
    // is still running when the workflow decides to continue as new.
    const held = gate();
    const reached = gate();
    const refresh = p.deps.oauth.refresh.bind(p.deps.oauth);
    p.deps.oauth.refresh = async (token) => {
      reached.open();
      await held.opened;
      return refresh(token);
    };
    try {
      const update = handle.executeUpdate(refreshAccessTokenUpdate, { args: [{ staleVersion: tokenVersion }] });
      await reached.opened;
      // Woken past its history limit, the run waits for the running Update before it switches.
      await handle.signal(syncNowSignal);
      await processed(accountId, 'syncNow');
      const disconnecting = p.control.disconnect(accountId, 'disconnected from the Manage App page');
      await processed(accountId, 'disconnect');
      held.open();
      expect(await update).toEqual({ version: expect.any(Number) });
      await disconnecting;
    } finally {
      p.deps.oauth.refresh = refresh;
    }
    // The user was told "tokens are deleted": they are, and Jobber was told once.
    const connection = await waitFor(async () => {
      const c = await p.models.Connection.findById(accountId).lean();
      return c?.status === 'disconnected' ? c : undefined;
    });
    expect(connection.refreshToken).toBeUndefined();
    expect((await handle.result()).status).toBe('disconnected');
    expect(appDisconnects(accountId)).toBe(1);
  }, 120_000);

  it('keeps webhook and sync bookkeeping off the connection, which only the account workflow writes', async () => {
    const { accountId, cookies } = await connectAndSettle('Bookkept Co');
    const before = await p.models.Connection.findById(accountId).lean();
    const { result: client, webhookIds } = p.jobber.sandbox.webhooks.capture(() => p.jobber.sandbox.store.createClient(accountId, { firstName: 'Counted' }));
    expect(await p.outcomes(webhookIds)).toEqual([expect.objectContaining({ status: 'synced' })]);
    const { occurredAt } = p.jobber.sandbox.webhooks.get(webhookIds[0]!)!.event;
    // A Slack Refresh is no webhook: it does not count as one.
    await refreshRecordThroughWorkflow(p.temporal.client, p.worker.taskQueue)(accountId, 'client', client.id);
    // The event workflows wrote nothing on the connection document (FerretDB would lose a write
    // racing the account workflow's): it is exactly as the account workflow left it.
    expect(await p.models.Connection.findById(accountId).lean()).toEqual(before);
    const activity = await accountActivity(p.models, accountId);
    expect(activity.lastWebhookAt?.toISOString()).toBe(new Date(occurredAt).toISOString());
    expect(activity.lastSyncAt).toBeInstanceOf(Date); // the initial backfill
    // The Manage App page shows them.
    const page = await (await fetch(`${p.ingressUrl}/manage`, { headers: { cookie: cookies } })).text();
    const shown = (d: Date) => d.toISOString().replace('T', ' ').slice(0, 16) + ' UTC';
    expect(page).toContain(`<dt>Last webhook</dt><dd>${shown(activity.lastWebhookAt!)}</dd>`);
    expect(page).toContain(`<dt>Last sync</dt><dd>${shown(activity.lastSyncAt!)}</dd>`);
  }, 120_000);

  it('does not backfill again when a connection is announced again after continue-as-new', async () => {
    const { accountId } = await connectAndSettle('Announced Twice Co');
    const handle = handleOf(accountId);
    const backfills = async () => {
      const ids = new Set<string>();
      for await (const wf of p.temporal.client.workflow.list({ query: `WorkflowId STARTS_WITH "${accountWorkflowId(accountId)}/backfill/"` }))
        ids.add(wf.workflowId);
      return ids.size;
    };
    const { tokenVersion, grantId } = (await p.models.Connection.findById(accountId).lean())!;
    // The same grant delivered again (a retried signal-with-start) is adopted once.
    await handle.signal('connectionGranted', { grantId });
    await processed(accountId, 'connectionGranted');
    // An ingress of the release before grants announced a connection by its token version: the
    // first announcement to this run backfills; the same one resent after continue-as-new must not.
    await handle.signal(reconnectedSignal, { tokenVersion });
    await waitFor(async () => {
      const events = await history(accountId);
      const continued = Boolean(events[0]?.event.workflowExecutionStartedEventAttributes?.continuedExecutionRunId);
      const announced = events.some((e) => e.event.workflowExecutionSignaledEventAttributes?.signalName === 'reconnected');
      return continued && !announced && (await handle.query(accountStateQuery)).backfill === 'done' ? true : undefined;
    }, 60_000);
    const before = await waitFor(async () => ((await backfills()) === 2 ? 2 : undefined)); // the initial one and the announced one
    await handle.signal(reconnectedSignal, { tokenVersion });
    await processed(accountId, 'reconnected');
    const state = await handle.query(accountStateQuery);
    expect(state.backfill).toBe('done');
    expect(await backfills()).toBe(before);
    expect((await p.models.Connection.findById(accountId).lean())?.tokenVersion).toBe(tokenVersion);
  }, 120_000);

  it('keeps a reconnect made while a Manage App disconnect is under way', async () => {
    const { accountId } = await connectAndSettle('Changed Mind Co');
    const held = gate();
    const reached = gate();
    const purge = p.deps.tokens.purge.bind(p.deps.tokens);
    p.deps.tokens.purge = async (...args) => {
      if (args[0] === accountId) {
        reached.open();
        await held.opened;
      }
      return purge(...args);
    };
    let reconnecting: ReturnType<typeof followConnectFlow>;
    try {
      const disconnecting = p.control.disconnect(accountId, 'disconnected from the Manage App page');
      await reached.opened; // Jobber was told; the tokens are about to be purged
      // The user connects again (another tab) before the purge is written.
      reconnecting = followConnectFlow(p.ingressUrl, accountId);
      await waitFor(async () =>
        (await history(accountId)).some((e) => /connectionGranted|reconnected/.test(e.event.workflowExecutionSignaledEventAttributes?.signalName ?? ''))
          ? true
          : undefined,
      );
      held.open();
      await disconnecting;
    } finally {
      p.deps.tokens.purge = purge;
    }
    expect((await reconnecting!).location).toBe('/manage');
    // What the user did last, connect, holds: connected, with tokens, backfilled again.
    const state = await waitFor(async () => {
      const s = await p.control.state(accountId);
      return s?.status === 'connected' && s.backfill === 'done' ? s : undefined;
    }, 60_000);
    expect(state.status).toBe('connected');
    expect((await p.models.Connection.findById(accountId).lean())?.status).toBe('connected');
    expect((await p.deps.tokens.read(accountId)).refreshToken).toBeTruthy();
    expect(appDisconnects(accountId)).toBe(1);
  }, 120_000);

  it('honours a Manage App disconnect that arrives while a stale APP_DISCONNECT is being handled', async () => {
    const { accountId } = await connectAndSettle('Stale Webhook Co');
    const { connectedAt } = (await p.models.Connection.findById(accountId).lean())!;
    const held = gate();
    const reached = gate();
    const purge = p.deps.tokens.purge.bind(p.deps.tokens);
    let first = true;
    p.deps.tokens.purge = async (...args) => {
      if (args[0] === accountId && first) {
        first = false;
        reached.open();
        await held.opened;
      }
      return purge(...args);
    };
    try {
      // A resent APP_DISCONNECT of an earlier connection: it must leave this one alone...
      const stale = p.jobber.sandbox.webhooks.enqueue({
        topic: 'APP_DISCONNECT',
        accountId,
        itemId: accountId,
        occurredAt: new Date(connectedAt!.getTime() - 60_000).toISOString(),
      });
      await reached.opened;
      // ...but not swallow the user's own disconnect, which comes while it is handled.
      const disconnecting = p.control.disconnect(accountId, 'disconnected from the Manage App page');
      await processed(accountId, 'disconnect', 2);
      held.open();
      await p.outcomes(stale);
      await disconnecting;
    } finally {
      p.deps.tokens.purge = purge;
    }
    const connection = await waitFor(async () => {
      const c = await p.models.Connection.findById(accountId).lean();
      return c?.status === 'disconnected' ? c : undefined;
    });
    expect(connection.statusReason).toBe('disconnected from the Manage App page');
    expect(connection.refreshToken).toBeUndefined();
    expect((await handleOf(accountId).result()).status).toBe('disconnected');
    expect(appDisconnects(accountId)).toBe(1);
  }, 120_000);
});

describe('the OAuth callback when the account workflow cannot be started', () => {
  let p: Pipeline;
  let server: Server;
  let url: string;

  beforeAll(async () => {
    p = await startPipeline('connect-fails');
    // The same ingress routes, with Temporal out of reach for the signal-with-start.
    server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const logger = pino({ level: 'silent' });
    const oauth = new JobberOAuth({
      apiUrl: p.jobber.url,
      clientId: CLIENT_ID,
      clientSecret: p.jobber.sandbox.clientSecret,
      redirectUri: `${url}/auth/jobber/callback`,
    });
    const app = createApp({
      temporal: { client: p.temporal.client, taskQueue: p.worker.taskQueue },
      jobberClientSecret: p.jobber.sandbox.clientSecret,
      sessionSecret: SESSION_SECRET,
      logger,
      routers: [
        createAuthRouter({
          oauth,
          tokens: p.deps.tokens,
          jobber: p.deps.jobber,
          onConnected: () => Promise.reject(new Error('14 UNAVAILABLE: connection refused')),
          sessions: new Sessions(p.models),
          page: messagePage,
          logger,
        }),
      ],
    });
    server.on('request', app.callback());
  });
  afterAll(async () => {
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
    await p?.close();
  });

  it('fails visibly, keeps no tokens and signs nobody in; connecting again later works', async () => {
    const account = p.jobber.sandbox.store.createAccount({ name: 'Unlucky Co' });
    const failed = await followConnectFlow(url, account.id);
    expect(failed.status).toBe(503);
    expect(failed.body).toMatch(/Try Connect again/);
    expect(failed.cookies).not.toContain(`${SESSION_COOKIE}=`);
    // Nothing half-stored: no connection nobody refreshes, no tokens waiting in a grant.
    expect(await p.models.Connection.findById(account.id).lean()).toBeNull();
    expect(await p.models.Grant.countDocuments({ accountId: account.id })).toBe(0);
    expect(await p.control.state(account.id)).toBeUndefined();
    // Once Temporal answers again, the same user connects through the real ingress.
    const again = await followConnectFlow(p.ingressUrl, account.id);
    expect(again.location).toBe('/manage');
    const state = await waitFor(async () => {
      const s = await p.control.state(account.id);
      return s?.backfill === 'done' ? s : undefined;
    });
    expect(state.status).toBe('connected');
  }, 60_000);
});
