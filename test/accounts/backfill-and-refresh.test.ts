import { getOperationAST, Kind, parse, type FragmentDefinitionNode } from 'graphql';
import { accountStateQuery, accountWorkflowId, refreshAccessTokenUpdate, syncNowSignal } from '../../workflows/definitions';
import { followConnectFlow } from '../../src/dev/connect-flow';
import { CLIENTS_PAGE_QUERY } from '../../src/records/types/client';
import { INVOICES_PAGE_QUERY } from '../../src/records/types/invoice';
import { JOBS_PAGE_QUERY } from '../../src/records/types/job';
import { REQUESTS_PAGE_QUERY } from '../../src/records/types/request';
import { QUOTES_PAGE_QUERY } from '../../src/records/types/quote';
import { VISITS_PAGE_QUERY } from '../../src/records/types/visit';
import { PROPERTIES_PAGE_QUERY } from '../../src/records/types/property';
import { PAYMENTS_PAGE_QUERY } from '../../src/records/types/payment';
import { queryCost } from '../../src/sandbox/jobber/cost';
import { createSandboxSchema } from '../../src/sandbox/jobber/resolvers';
import { refreshGrants, startPipeline, waitFor, type Pipeline } from '../helpers/pipeline';
import { disconnectFromManagePage } from '../helpers/ingress';

/**
 * A tiny cost bucket, restored slowly: the backfill below must pace itself to it. The bucket, not
 * the machine, sets how long that backfill takes, so its deadline is derived from the bucket.
 */
const BUCKET = { maximumAvailable: 1000, restoreRate: 250 };
const SEED = {
  clients: 100,
  jobsPerClient: 1,
  invoicesPerJob: 1,
  requestsPerClient: 1,
  quotesPerClient: 1,
  visitsPerJob: 1,
  propertiesPerClient: 1,
  paymentsPerInvoice: 1,
};

/** Points one more record adds to a page query, as the sandbox prices it (Jobber's documented rules). */
function perRecordCost(query: string): number {
  const document = parse(query);
  const operation = getOperationAST(document)!;
  const fragments: Record<string, FragmentDefinitionNode> = {};
  for (const d of document.definitions) if (d.kind === Kind.FRAGMENT_DEFINITION) fragments[d.name.value] = d;
  const schema = createSandboxSchema();
  const cost = (first: number) => queryCost({ schema, operation, fragments, variables: { first } });
  return cost(2) - cost(1);
}

/**
 * The seeded records cost about 7,500 points (requested; Jobber charges the actual cost, at most
 * that), more than seven times what the bucket holds: the backfill cannot finish without waiting
 * for the bucket to refill, here for about 26 s at least. The deadline allows four times that, plus
 * a minute for the connect flow and the workers, so a slow or loaded machine does not fail it.
 */
const SEED_COST =
  SEED.clients *
  (perRecordCost(CLIENTS_PAGE_QUERY) +
    SEED.requestsPerClient * perRecordCost(REQUESTS_PAGE_QUERY) +
    SEED.quotesPerClient * perRecordCost(QUOTES_PAGE_QUERY) +
    SEED.propertiesPerClient * perRecordCost(PROPERTIES_PAGE_QUERY) +
    SEED.jobsPerClient *
      (perRecordCost(JOBS_PAGE_QUERY) +
        SEED.visitsPerJob * perRecordCost(VISITS_PAGE_QUERY) +
        SEED.invoicesPerJob * (perRecordCost(INVOICES_PAGE_QUERY) + SEED.paymentsPerInvoice * perRecordCost(PAYMENTS_PAGE_QUERY))));
const BUCKET_MINIMUM_MS = ((SEED_COST - BUCKET.maximumAvailable) / BUCKET.restoreRate) * 1000;
const BACKFILL_DEADLINE_MS = 60_000 + 4 * BUCKET_MINIMUM_MS;

describe('backfill, reconciliation and token refresh under failure', () => {
  let p: Pipeline;

  beforeAll(async () => {
    p = await startPipeline('backfill', {
      sandbox: { costBucket: BUCKET, accessTokenTtlSeconds: 3600 },
      accountTiming: { brokenAlertGraceMs: 1000 },
    });
  });
  afterAll(async () => {
    await p?.close();
  });

  const connect = async (name: string) => {
    const account = p.jobber.sandbox.store.createAccount({ name });
    const result = await followConnectFlow(p.ingressUrl, account.id);
    expect(result.location).toBe('/manage');
    return account.id;
  };
  const settled = (accountId: string, timeoutMs = 180_000) =>
    waitFor(async () => {
      const s = await p.control.state(accountId);
      return s?.backfill === 'done' ? s : undefined;
    }, timeoutMs);

  /**
   * A connected account whose next token save "crashes" once, before or after writing: the first
   * `rotate` throws as a dying worker would, so the activity is retried.
   */
  const connectWithCrashingSave = async (name: string, when: 'before' | 'after') => {
    const accountId = await connect(name);
    await settled(accountId);
    const handle = p.temporal.client.workflow.getHandle(accountWorkflowId(accountId));
    const { tokenVersion } = (await p.models.Connection.findById(accountId).lean())!;
    const refresh = async () => {
      const tokens = p.deps.tokens;
      const rotate = tokens.rotate.bind(tokens);
      let crashed = false;
      tokens.rotate = async (...args) => {
        if (crashed) return rotate(...args);
        crashed = true;
        if (when === 'after') await rotate(...args);
        throw new Error(`worker died ${when} saving the tokens`);
      };
      try {
        const { version } = await handle.executeUpdate(refreshAccessTokenUpdate, { args: [{ staleVersion: tokenVersion }] });
        return { version, crashed };
      } finally {
        tokens.rotate = rotate;
      }
    };
    return { accountId, handle, tokenVersion, refresh };
  };

  it(
    'backfills hundreds of records costing several buckets, paced, without a failure or an alert',
    async () => {
      const account = p.jobber.sandbox.store.createAccount({ name: 'Big Co' });
      const seeded = p.jobber.sandbox.store.seed(account.id, SEED);
      expect(
        seeded.clients.length +
          seeded.jobs.length +
          seeded.invoices.length +
          seeded.requests!.length +
          seeded.quotes!.length +
          seeded.visits!.length +
          seeded.properties!.length +
          seeded.payments!.length,
      ).toBe(800);
      const messagesBefore = p.slack.standIn.state.messages.length;
      const started = Date.now();
      await followConnectFlow(p.ingressUrl, account.id);
      await settled(account.id, BACKFILL_DEADLINE_MS);
      const tookMs = Date.now() - started;
      expect(await p.models.Client.countDocuments({ accountId: account.id })).toBe(100);
      expect(await p.models.Job.countDocuments({ accountId: account.id })).toBe(100);
      expect(await p.models.Invoice.countDocuments({ accountId: account.id })).toBe(100);
      expect(await p.models.Request.countDocuments({ accountId: account.id, clientId: { $in: seeded.clients } })).toBe(100);
      expect(await p.models.Quote.countDocuments({ accountId: account.id, clientId: { $in: seeded.clients } })).toBe(100);
      expect(await p.models.Visit.countDocuments({ accountId: account.id, jobId: { $in: seeded.jobs } })).toBe(100);
      expect(await p.models.Property.countDocuments({ accountId: account.id, clientId: { $in: seeded.clients } })).toBe(100);
      expect(await p.models.Payment.countDocuments({ accountId: account.id, invoiceId: { $in: seeded.invoices } })).toBe(100);
      const pages = p.jobber.sandbox.requests.filter(
        (r) =>
          r.accountId === account.id &&
          ['Clients', 'Jobs', 'Invoices', 'Requests', 'Quotes', 'Visits', 'Properties', 'PaymentRecords'].includes(r.operationName ?? ''),
      );
      // The size proves the pacing: what Jobber charged is several buckets, so the backfill had to
      // wait for refills, and it took at least the time the bucket needs to restore the excess.
      const charged = pages.reduce((sum, r) => sum + (r.actualQueryCost ?? 0), 0);
      expect(charged).toBeGreaterThan(3 * BUCKET.maximumAvailable);
      expect(tookMs).toBeGreaterThanOrEqual(((charged - BUCKET.maximumAvailable) / BUCKET.restoreRate) * 1000);
      // Pacing keeps THROTTLED to the backstop: at most the first page of a kind, before its cost is
      // known. A client that ignored the bucket would be throttled on most pages (the bucket restores
      // a page's cost in about two seconds, and a page takes far less to fetch and store).
      const notOk = pages.filter((r) => r.outcome !== 'ok');
      expect(notOk.every((r) => r.outcome === 'throttled')).toBe(true);
      expect(notOk.length).toBeLessThanOrEqual(8);
      // Pages grew to what half the bucket allows instead of the first guess of 25.
      expect(Math.max(...pages.map((r) => (r.variables?.first as number) ?? 0))).toBeGreaterThan(25);
      expect(p.slack.standIn.state.messages.length).toBe(messagesBefore);
      // This account's backfill children (the namespace is shared with other test files): the
      // initial one completed, none failed. Visibility can lag, hence the wait.
      const prefix = `${accountWorkflowId(account.id)}/backfill/`;
      const children = await waitFor(async () => {
        const found = [];
        for await (const wf of p.temporal.client.workflow.list({ query: `WorkflowId STARTS_WITH "${prefix}"` })) found.push(wf);
        return found.some((c) => c.workflowId.startsWith(`${prefix}initial-`) && c.status.name === 'COMPLETED') ? found : undefined;
      });
      expect(children.filter((c) => c.status.name === 'FAILED')).toEqual([]);
    },
    BACKFILL_DEADLINE_MS + 60_000,
  );

  it('reconciles: Sync now heals changes whose webhooks never came', async () => {
    const accountId = await connect('Quiet Co');
    await settled(accountId);
    const missed = p.jobber.sandbox.store.createClient(accountId, { firstName: 'Missed' }, { webhook: false });
    const missedJob = p.jobber.sandbox.store.createJob(accountId, { clientId: missed.id, title: 'No webhook' }, { webhook: false });
    const missedRequest = p.jobber.sandbox.store.createRequest(accountId, { clientId: missed.id, title: 'Hedge quote' }, { webhook: false });
    const missedInvoice = p.jobber.sandbox.store.createInvoice(accountId, { clientId: missed.id, amounts: { subtotal: 80 } }, { webhook: false });
    const missedPayment = p.jobber.sandbox.store.createPayment(accountId, { invoiceId: missedInvoice.id, amount: 80 }, { webhook: false });
    const missedProperty = p.jobber.sandbox.store.createProperty(accountId, { clientId: missed.id, street1: '9 Quiet Lane' }, { webhook: false });
    const missedVisit = p.jobber.sandbox.store.createVisit(accountId, { jobId: missedJob.id, completedAt: new Date().toISOString() }, { webhook: false });
    const missedQuote = p.jobber.sandbox.store.createQuote(
      accountId,
      { clientId: missed.id, requestId: missedRequest.id, title: 'Hedges' },
      { webhook: false },
    );
    await p.temporal.client.workflow.getHandle(accountWorkflowId(accountId)).signal(syncNowSignal);
    await waitFor(async () => ((await p.models.Job.findById(missedJob.id).lean()) ? true : undefined));
    await waitFor(async () => ((await p.models.Request.findById(missedRequest.id).lean()) ? true : undefined));
    await waitFor(async () => ((await p.models.Quote.findById(missedQuote.id).lean()) ? true : undefined));
    await waitFor(async () => ((await p.models.Visit.findById(missedVisit.id).lean()) ? true : undefined));
    await waitFor(async () => ((await p.models.Property.findById(missedProperty.id).lean()) ? true : undefined));
    await waitFor(async () => ((await p.models.Payment.findById(missedPayment.id).lean()) ? true : undefined));
    expect(await p.models.Payment.findById(missedPayment.id).lean()).toMatchObject({ amount: 80, invoiceId: missedInvoice.id, clientId: missed.id });
    expect(await p.models.Property.findById(missedProperty.id).lean()).toMatchObject({ street: '9 Quiet Lane', clientId: missed.id });
    expect(await p.models.Visit.findById(missedVisit.id).lean()).toMatchObject({ jobId: missedJob.id, clientId: missed.id, isComplete: true });
    expect((await p.models.Client.findById(missed.id).lean())?.firstName).toBe('Missed');
    expect(await p.models.Request.findById(missedRequest.id).lean()).toMatchObject({ title: 'Hedge quote', clientId: missed.id });
    expect(await p.models.Quote.findById(missedQuote.id).lean()).toMatchObject({ title: 'Hedges', clientId: missed.id, requestId: missedRequest.id });
    // A reconciliation re-fetches clients changed since the last one, not every client again.
    const filtered = p.jobber.sandbox.requests.filter((r) => r.accountId === accountId && r.operationName === 'Clients' && r.variables?.filter);
    expect(filtered.length).toBeGreaterThan(0);
    for (const page of ['Requests', 'Quotes']) {
      expect(p.jobber.sandbox.requests.some((r) => r.accountId === accountId && r.operationName === page && r.variables?.filter)).toBe(true);
    }
  });

  it('survives a crash after the rotated tokens were saved: the retry spends no second refresh token', async () => {
    const { accountId, tokenVersion, refresh } = await connectWithCrashingSave('Crashy After Co', 'after');
    const { version, crashed } = await refresh();
    expect(version).toBe(tokenVersion + 1);
    expect(crashed).toBe(true);
    const grants = refreshGrants(p, accountId);
    expect(grants.map((g) => g.outcome)).toEqual(['accepted']);
    const { webhookIds } = p.jobber.sandbox.webhooks.capture(() => p.jobber.sandbox.store.createClient(accountId, { firstName: 'StillWorks' }));
    expect(await p.outcomes(webhookIds)).toEqual([expect.objectContaining({ status: 'synced' })]);
  });

  it("reports a crash between Jobber's answer and the save plainly: broken, operators alerted once", async () => {
    const { accountId, handle, refresh } = await connectWithCrashingSave('Crashy Before Co', 'before');
    await expect(refresh()).rejects.toThrow();
    // Jobber rotated the pair but we lost it: the old refresh token is dead. No retry storm:
    const connection = await p.models.Connection.findById(accountId).lean();
    expect(connection).toMatchObject({ status: 'broken' });
    expect(connection?.statusReason).toMatch(/interrupted/);
    expect(connection?.refreshToken).toBeUndefined();
    // Operators hear of it once no APP_DISCONNECT has explained it (1 s here, 5 minutes by default).
    expect((await handle.result()).status).toBe('broken');
    const alerts = p.slack.standIn.state.messages.filter((m) => m.text.includes('Crashy Before Co'));
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.text).toMatch(/interrupted/);
    // Reconnecting repairs it.
    await followConnectFlow(p.ingressUrl, accountId);
    expect((await settled(accountId)).status).toBe('connected');
  });

  it('gives 50 concurrent 401s exactly one refresh and never presents a dead refresh token', async () => {
    const accountId = await connect('Busy Co');
    await settled(accountId);
    // Tokens here live an hour: no timer refresh, so the only refreshes are the ones the 401s ask for.
    const handle = p.temporal.client.workflow.getHandle(accountWorkflowId(accountId));
    const refreshesBefore = refreshGrants(p, accountId).length;
    p.jobber.sandbox.oauth.expireAccessTokens(p.jobber.sandbox.store.accountNumber(accountId)!);
    const ids = p.jobber.sandbox.webhooks.capture(() => {
      for (let i = 0; i < 50; i++) p.jobber.sandbox.store.createClient(accountId, { firstName: `Burst${i}` });
    }).webhookIds;
    const outcomes = await p.outcomes(ids);
    expect(outcomes.filter((o) => o.status === 'synced')).toHaveLength(50);
    const during = refreshGrants(p, accountId).slice(refreshesBefore);
    // The 401s shared one refresh, and no dead refresh token was ever presented.
    expect(during.map((e) => e.outcome)).toEqual(['accepted']);
    const state = await handle.query(accountStateQuery);
    expect(state.status).toBe('connected');
    expect(await p.models.Client.countDocuments({ accountId, firstName: /^Burst/ })).toBe(50);
  });

  it('disconnecting from our UI with a dead access token refreshes through the workflow, then calls appDisconnect', async () => {
    const account = p.jobber.sandbox.store.createAccount({ name: 'Expired UI Co' });
    const { cookies } = await followConnectFlow(p.ingressUrl, account.id);
    await settled(account.id);
    // Tokens here live an hour, so no timer refresh interferes: only the 401 asks for one.
    p.jobber.sandbox.oauth.expireAccessTokens(p.jobber.sandbox.store.accountNumber(account.id)!);
    const before = p.jobber.sandbox.requests.length;
    const res = await disconnectFromManagePage(p.ingressUrl, cookies);
    expect(res.status).toBe(200);
    // (Jobber's answer to a dead token names no account, so these are matched by operation.)
    const calls = p.jobber.sandbox.requests.slice(before).filter((r) => r.operationName === 'AppDisconnect');
    expect(calls.map((r) => r.outcome)).toEqual(['unauthorized', 'ok']);
    expect((await p.models.Connection.findById(account.id).lean())?.status).toBe('disconnected');
  });

  // Jobber stamps whole seconds: an APP_DISCONNECT stamped in the second a still-live connection
  // was made cannot say by its time whether it came before or after that connection. Tokens here
  // live an hour, so the connection is live when the webhook comes, and Jobber decides.
  const sameSecondDisconnect = async (accountId: string) => {
    const { connectedAt } = (await p.models.Connection.findById(accountId).lean())!;
    const occurredAt = new Date(Math.floor(connectedAt!.getTime() / 1000) * 1000).toISOString();
    return p.jobber.sandbox.webhooks.enqueue({ topic: 'APP_DISCONNECT', accountId, itemId: accountId, occurredAt });
  };

  it('applies an APP_DISCONNECT stamped in the second the connection was made when Jobber revoked that connection', async () => {
    const accountId = await connect('Quick Leaver Co');
    await settled(accountId);
    p.jobber.sandbox.disconnect(accountId, { hold: true }); // Jobber revoked the tokens; its own webhook never comes
    const ids = await sameSecondDisconnect(accountId);
    await p.outcomes(ids);
    const final = await p.temporal.client.workflow.getHandle(accountWorkflowId(accountId)).result();
    expect(final.status).toBe('disconnected');
    expect((await p.models.Connection.findById(accountId).lean())?.status).toBe('disconnected');
    expect(p.slack.standIn.state.messages.filter((m) => m.text.includes('Quick Leaver Co'))).toHaveLength(0);
  });

  it('keeps a live connection made in the second of an APP_DISCONNECT that Jobber did not apply to it', async () => {
    const accountId = await connect('Quick Returner Co');
    await settled(accountId);
    const ids = await sameSecondDisconnect(accountId);
    await p.outcomes(ids);
    // The account workflow asked Jobber (a refresh, accepted) and kept the connection.
    await waitFor(() => (refreshGrants(p, accountId).some((g) => g.outcome === 'accepted') ? true : undefined));
    const state = await p.temporal.client.workflow.getHandle(accountWorkflowId(accountId)).query(accountStateQuery);
    expect(state.status).toBe('connected');
    expect((await p.models.Connection.findById(accountId).lean())?.status).toBe('connected');
    const { webhookIds } = p.jobber.sandbox.webhooks.capture(() => p.jobber.sandbox.store.createClient(accountId, { firstName: 'Stayed' }));
    expect(await p.outcomes(webhookIds)).toEqual([expect.objectContaining({ status: 'synced' })]);
  });
});
