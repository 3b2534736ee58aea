import { randomBytes, randomInt } from 'node:crypto';
import type { KnownBlock } from '@slack/types';
import { temporal } from '@temporalio/proto';
import { followConnectFlow } from '../../src/dev/connect-flow';
import { followSlackInstallFlow } from '../../src/dev/slack-install-flow';
import { createApp } from '../../src/ingress/app';
import { createSlackRouter, SLACK_PATHS } from '../../src/ingress/slack-routes';
import { refreshRecordThroughWorkflow } from '../../src/workflow-client/refresh-record';
import { linkWorkspace } from '../../src/db/slack-links';
import type { ClientView, InvoiceView, JobView, RequestView } from '../../src/sandbox/jobber';
import { accountWorkflowId, slackInstallationWorkflowId } from '../../workflows/definitions';
import { TokenCipher, type SealedSecret } from '../../src/crypto/tokens';
import { TEST_KEY } from '../helpers/deps';
import { startPipeline, waitFor, type Pipeline } from '../helpers/pipeline';
import { memoryLogger } from '../helpers/ingress';
import { interactionBody, SIGNING_SECRET, slackPost } from '../slack/helpers';

/**
 * The rule "only ids cross Temporal", checked where it matters: in the histories the server keeps
 * (and the Web UI shows), read raw, with no data converter. After a run through every path that
 * starts or feeds a workflow, none of the records' personal or business values may appear in any
 * byte of any history of the run: payloads, failure messages and stack traces, activity summaries
 * (user metadata), search attributes, memos, headers.
 *
 * Values are made unmistakable (a random tag in every text, amounts with five significant digits
 * and cents) so that a hit is a leak and not a coincidence; every category is checked.
 */
const TAG = randomBytes(4).toString('hex');
/** Phone digits of this run: a phone carries no tag, so its digits are random instead. */
const PHONE = String(randomInt(1_000_000, 9_999_999));
const TEAM = 'T0PRIVACY';
const SLACK_TEAM = 'T0PRIV';

/** Distinctive amounts: unlike 0 or 100, these cannot occur in a history by chance. */
const AMOUNTS = { jobTotal: 48213.77, backfillJobTotal: 27391.58, subtotal: 61847.29, tax: 5318.46, partPayment: 12093.61 };

const client = (n: string) => ({
  firstName: `Philomena${n}${TAG}`,
  lastName: `Quillfeather${n}${TAG}`,
  companyName: `Quillfeather Topiary Atelier ${n}${TAG}`,
  title: `Dame${n}${TAG}`,
  emails: [{ address: `philomena.${n}.${TAG}@topiary-atelier.example`, primary: true, description: `main inbox ${n}${TAG}` }],
  phones: [{ number: `+1 (555) ${PHONE.slice(0, 3)}-${PHONE.slice(3)}${n}`, primary: true, description: `mobile ${n}${TAG}`, smsAllowed: true }],
  billingAddress: {
    street1: `1428 Juniper Hollow ${n}${TAG}`,
    street2: `Gatehouse ${n}${TAG}`,
    city: `Wickenburgh${n}${TAG}`,
    province: `Marchshire${n}${TAG}`,
    postalCode: `QX${n}${TAG}`,
    country: `Vellmark${n}${TAG}`,
  },
});

/** One raw history, as protobuf bytes and as the UTF-8 text of every payload. */
interface RawHistory {
  workflowId: string;
  /** The whole GetWorkflowExecutionHistory answers, protobuf-encoded (every string field is UTF-8 in them), as latin1 text. */
  bytes: string;
  /** Each payload's `data`, decoded as UTF-8 by this test (no data converter). */
  payloads: string;
}

/** Walks a decoded protobuf message and yields every Payload's data (anything with `data` bytes and `metadata`). */
function* payloadData(node: unknown): Generator<Uint8Array> {
  if (!node || typeof node !== 'object' || node instanceof Uint8Array) return;
  if (Array.isArray(node)) {
    for (const item of node) yield* payloadData(item);
    return;
  }
  const record = node as Record<string, unknown>;
  if (record.data instanceof Uint8Array && record.metadata && typeof record.metadata === 'object') yield record.data;
  for (const value of Object.values(record)) yield* payloadData(value);
}

/** Every history of the run, straight from the server's WorkflowService. */
async function readRawHistories(p: Pipeline): Promise<RawHistory[]> {
  const service = p.temporal.client.workflowService;
  const namespace = p.temporal.client.options.namespace;
  const executions: { workflowId: string; runId: string }[] = [];
  // Every workflow of the run is on the pipeline's own task queue (the namespace is shared with other test files).
  for await (const wf of p.temporal.client.workflow.list({ query: `TaskQueue = "${p.worker.taskQueue}"` })) {
    executions.push({ workflowId: wf.workflowId, runId: wf.runId });
  }
  const histories: RawHistory[] = [];
  for (const execution of executions) {
    const bytes: Buffer[] = [];
    const payloads: string[] = [];
    let nextPageToken: Uint8Array | undefined;
    do {
      const response = await service.getWorkflowExecutionHistory({ namespace, execution, nextPageToken });
      bytes.push(Buffer.from(temporal.api.workflowservice.v1.GetWorkflowExecutionHistoryResponse.encode(response).finish()));
      for (const data of payloadData(response.history)) payloads.push(Buffer.from(data).toString('utf8'));
      nextPageToken = response.nextPageToken?.length ? response.nextPageToken : undefined;
    } while (nextPageToken);
    histories.push({ workflowId: execution.workflowId, bytes: Buffer.concat(bytes).toString('latin1'), payloads: payloads.join('\n') });
  }
  return histories;
}

/** Amounts as they could be written: 48213.77, 48,213.77, 4821377 (cents). */
const amountForms = (amount: number): string[] => {
  const fixed = amount.toFixed(2);
  return [...new Set([String(amount), fixed, amount.toLocaleString('en-US', { minimumFractionDigits: 2 }), fixed.replace('.', '')])];
};

/**
 * Where `needle` occurs in `haystack` (case-insensitively). A number only counts standing alone,
 * not inside a longer number (a timestamp, an id).
 */
function occurs(haystack: string, needle: string): boolean {
  const h = haystack.toLowerCase();
  const n = needle.toLowerCase();
  const numeric = /^[\d.,]+$/.test(n);
  for (let at = h.indexOf(n); at !== -1; at = h.indexOf(n, at + 1)) {
    if (!numeric) return true;
    const before = h[at - 1] ?? '';
    const after = h[at + n.length] ?? '';
    if (!/[\d.]/.test(before) && !/\d/.test(after) && !(after === '.' && /\d/.test(h[at + n.length + 1] ?? ''))) return true;
  }
  return false;
}

describe('personal data stays out of Temporal', () => {
  let p: Pipeline;
  afterAll(async () => {
    await p?.close();
  });

  it('after a connect, a backfill, webhooks of every type, a token refresh, alerts, a dead letter and a Slack Refresh, no history holds a personal or business value', async () => {
    p = await startPipeline('privacy', { sandbox: { accessTokenTtlSeconds: 3600 } });
    const store = () => p.jobber.sandbox.store;
    const capture = <T>(fn: () => T) => p.jobber.sandbox.webhooks.capture(fn);
    // Everything the run wrote, as Jobber held it at the time (deleted records included).
    const clients: ClientView[] = [];
    const jobs: JobView[] = [];
    const invoices: InvoiceView[] = [];
    const keep = <T extends ClientView | JobView | InvoiceView>(list: T[], view: T) => (list.push(view), view);
    const outcomes = async (ids: string[]) => {
      const results = await p.outcomes(ids);
      expect(results.every((o) => ['synced', 'deleted'].includes(o.status))).toBe(true);
      return results;
    };

    // A connect (OAuth through the ingress) and its backfill of records that got no webhook.
    const account = store().createAccount({
      name: `Marchbanks Verdant Holdings ${TAG}`,
      user: { firstName: `Ottoline${TAG}`, lastName: `Fairweather${TAG}`, email: `ottoline.${TAG}@marchbanks.example` },
    });
    const seeded = keep(clients, store().createClient(account.id, client('0'), { webhook: false }));
    keep(
      jobs,
      store().createJob(
        account.id,
        { clientId: seeded.id, title: `Backfilled espalier ${TAG}`, instructions: `Gate code 7714 ${TAG}`, total: AMOUNTS.backfillJobTotal },
        { webhook: false },
      ),
    );
    const connected = await followConnectFlow(p.ingressUrl, account.id);
    expect(connected.location).toBe('/manage');
    // The business adds its own Slack workspace and picks a channel: its alerts go there.
    // Its bot token rotates: the first alert has it refreshed, through the installation's workflow.
    p.slack.standIn.slackApp.tokenRotation = true;
    p.slack.standIn.addTeam({ id: SLACK_TEAM, name: `Marchbanks Slack ${TAG}` });
    expect((await followSlackInstallFlow(p.ingressUrl, connected.cookies, SLACK_TEAM)).location).toBe('/manage');
    const managePage = await (await fetch(`${p.ingressUrl}/manage`, { headers: { cookie: connected.cookies } })).text();
    const picked = await fetch(`${p.ingressUrl}/slack/channel`, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie: connected.cookies, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ csrf: /name="csrf" value="([^"]+)"/.exec(managePage)![1]!, channel: 'C0PRIVALR' }).toString(),
    });
    expect(picked.headers.get('location')).toBe('/manage');
    await waitFor(async () => ((await p.control.state(account.id))?.backfill === 'done' ? true : undefined), 120_000);
    await p.models.SlackInstallation.updateOne({ _id: account.id }, { $set: { tokenExpiresAt: new Date(Date.now() + 60_000) } });
    expect(await p.models.Client.findById(seeded.id).lean()).toMatchObject({ lastName: seeded.lastName });

    // Webhooks for every synced type: CREATE and UPDATE; a new job and a paid invoice alert.
    const created = capture(() => keep(clients, store().createClient(account.id, client('1'))));
    await outcomes(created.webhookIds);
    const updated = capture(() => keep(clients, store().updateClient(created.result.id, { ...client('2') })));
    await outcomes(updated.webhookIds);
    const job = capture(() =>
      keep(
        jobs,
        store().createJob(account.id, {
          clientId: created.result.id,
          title: `Espalier pruning ${TAG}`,
          instructions: `Beware the geese ${TAG}`,
          total: AMOUNTS.jobTotal,
        }),
      ),
    );
    expect(await outcomes(job.webhookIds)).toEqual([expect.objectContaining({ alerts: ['job-created'] })]);
    await outcomes(capture(() => keep(jobs, store().updateJob(job.result.id, { title: `Espalier pruning, north wall ${TAG}` }))).webhookIds);
    const invoice = capture(() =>
      keep(
        invoices,
        store().createInvoice(account.id, {
          clientId: created.result.id,
          jobIds: [job.result.id],
          subject: `Espalier season ${TAG}`,
          message: `Thank you, Philomena ${TAG}`,
          amounts: { subtotal: AMOUNTS.subtotal, taxAmount: AMOUNTS.tax, paymentsTotal: AMOUNTS.partPayment },
        }),
      ),
    );
    await outcomes(invoice.webhookIds);
    const requests: RequestView[] = [];
    const request = capture(() =>
      store().createRequest(account.id, {
        clientId: created.result.id,
        title: `Topiary consultation ${TAG}`,
        contactName: `Philomena at the gate ${TAG}`,
        email: `leads.${TAG}@topiary-atelier.example`,
        phone: null,
      }),
    );
    requests.push(request.result);
    await outcomes(request.webhookIds);
    await outcomes(capture(() => requests.push(store().updateRequest(request.result.id, { title: `Topiary consultation, hedges too ${TAG}` }))).webhookIds);

    // A token refresh: the access token dies, the next fetch's 401 asks the account workflow for one.
    const grantsBefore = p.jobber.sandbox.oauth.log.filter((e) => e.grantType === 'refresh_token' && e.outcome === 'accepted').length;
    p.jobber.sandbox.oauth.expireAccessTokens(store().accountNumber(account.id)!);
    const paid = capture(() => keep(invoices, store().updateInvoice(invoice.result.id, { invoiceStatus: 'paid' })));
    expect(await outcomes(paid.webhookIds)).toEqual([expect.objectContaining({ alerts: ['invoice-paid'] })]);
    expect(p.jobber.sandbox.oauth.log.filter((e) => e.grantType === 'refresh_token' && e.outcome === 'accepted').length).toBeGreaterThan(grantsBefore);
    const alerts = p.slack.standIn.state.messages.filter((m) => m.text.includes(TAG));
    expect(alerts.length).toBeGreaterThanOrEqual(2); // the alerts do carry the names: in Slack, not in Temporal

    // A Slack Refresh click on the job alert, through the real Slack routes and an event workflow.
    await linkWorkspace(p.models.SlackLink, TEAM, account.id);
    const { logger } = memoryLogger();
    const router = createSlackRouter({
      models: p.models,
      slack: p.deps.slack,
      signingSecret: SIGNING_SECRET,
      control: p.control,
      refreshRecord: refreshRecordThroughWorkflow(p.temporal.client, p.worker.taskQueue),
      logger,
    });
    const slackApp = createApp({
      temporal: { client: p.temporal.client, taskQueue: p.worker.taskQueue },
      jobberClientSecret: 'unused',
      logger,
      routers: [router],
    });
    const jobAlert = alerts.find((m) => m.text.includes(job.result.title!))!;
    const refreshButton = ((jobAlert.blocks ?? []) as KnownBlock[])
      .flatMap((b) => (b.type === 'actions' ? b.elements : []))
      .find((e) => (e as { action_id?: string }).action_id === 'refresh') as { value: string };
    keep(jobs, store().updateJob(job.result.id, { title: `Espalier pruning, refreshed ${TAG}` }, { webhook: false }));
    const click = await slackPost(
      slackApp,
      SLACK_PATHS.interactions,
      interactionBody({
        type: 'block_actions',
        team: { id: TEAM, domain: 'sandbox' },
        user: { id: 'U0ALICE', username: 'alice', team_id: TEAM },
        api_app_id: 'A0SANDBOX',
        container: { type: 'message', message_ts: jobAlert.ts, channel_id: jobAlert.channel, is_ephemeral: false },
        channel: { id: jobAlert.channel, name: 'alerts' },
        message: { type: 'message', ts: jobAlert.ts, text: jobAlert.text, blocks: jobAlert.blocks },
        response_url: 'https://hooks.slack.com/actions/T0/1/x',
        trigger_id: '1.2.3',
        actions: [{ type: 'button', action_id: 'refresh', block_id: 'b1', value: refreshButton.value, action_ts: '1.2' }],
      }),
    );
    expect(click.status).toBe(200);
    await router.drain();
    expect((await p.models.Job.findById(job.result.id).lean())?.title).toBe(`Espalier pruning, refreshed ${TAG}`);

    // A dead letter: Jobber refuses the fetch of a changed client for good.
    p.jobber.sandbox.faults.add({ graphql: { status: 400, times: 1, operationName: 'Client' } });
    const doomed = capture(() => keep(clients, store().updateClient(created.result.id, client('3'))));
    await expect(p.outcomes(doomed.webhookIds)).rejects.toThrow(/failed/);
    const deadLetterId = p.workflowIdOf(p.jobber.sandbox.webhooks.get(doomed.webhookIds[0]!)!);
    await waitFor(() =>
      p.models.DeadLetter.findById(deadLetterId)
        .lean()
        .then((d) => d ?? undefined),
    );
    // The record's run that holds it ends as failed (EventFailed), before the record's next event starts another.
    await expect(p.temporal.client.workflow.getHandle(p.workflowOf(p.jobber.sandbox.webhooks.get(doomed.webhookIds[0]!)!)).result()).rejects.toThrow();

    // DESTROY of every type.
    const gone = [
      capture(() => store().deleteInvoice(invoice.result.id)),
      capture(() => store().deleteJob(job.result.id)),
      capture(() => store().deleteClient(created.result.id)),
    ];
    for (const g of gone) expect(await outcomes(g.webhookIds.slice(0, 1))).toEqual([expect.objectContaining({ status: 'deleted' })]);

    // What must not be in any history: every text and amount of the account and of the records, as
    // Jobber held them after each change (a superset of what MongoDB stores).
    const secrets = new Set<string>([account.name, account.user.firstName, account.user.lastName, account.user.email]);
    for (const c of clients) {
      for (const v of [
        c.firstName,
        c.lastName,
        c.companyName,
        c.title,
        ...c.emails.flatMap((e) => [e.address, e.description]),
        ...c.phones.flatMap((ph) => [ph.number, ph.description]),
      ])
        secrets.add(v ?? '');
      for (const v of Object.values(c.billingAddress ?? {})) secrets.add(String(v ?? ''));
    }
    for (const j of jobs) [j.title, j.instructions].forEach((v) => secrets.add(v ?? ''));
    for (const r of requests) [r.title, r.contactName, r.companyName, r.email].forEach((v) => secrets.add(v ?? ''));
    const amounts = new Set<number>([...jobs.map((j) => j.total), ...invoices.flatMap((i) => Object.values(i.amounts))]);
    secrets.delete('');
    for (const i of invoices) [i.subject, i.message].forEach((v) => v && secrets.add(v));
    // Each text carries the tag; each non-zero amount has five significant digits and cents, so none is a coincidence.
    for (const s of secrets) expect(s.includes(TAG) || /\d{4}/.test(s)).toBe(true);
    const nonZero = [...amounts].filter((a) => a !== 0);
    for (const a of nonZero) expect(a.toFixed(2)).toMatch(/^\d{4,}\.\d[1-9]|^\d{4,}\.[1-9]\d$/);
    expect(nonZero.length).toBeGreaterThanOrEqual(5);
    // A phone could also be written as its digits alone.
    const phoneDigits = clients.flatMap((c) => c.phones.map((ph) => ph.number.replace(/\D/g, '')));
    // Nor the account's tokens (those of the refresh included: the current pair came from it).
    const tokens = await p.deps.tokens.read(account.id);
    expect(tokens.version).toBeGreaterThan(1);
    // Nor its own Slack workspace's bot token, whose alerts went through it.
    const slackTokens = [...p.slack.standIn.workspaces.tokens].filter(([, t]) => t.teamId === SLACK_TEAM).map(([token]) => token);
    expect(slackTokens.length).toBeGreaterThan(1); // the installed one and its refresh
    // Nor its current refresh token, nor the workspace's name.
    const installation = (await p.models.SlackInstallation.findById(account.id).lean())!;
    expect(installation.tokenVersion).toBeGreaterThan(1);
    slackTokens.push(new TokenCipher(TEST_KEY).open(installation.refreshToken as SealedSecret, `slack:refresh:${account.id}:${SLACK_TEAM}`));
    secrets.add(`Marchbanks Slack ${TAG}`);
    const needles = [...secrets, ...phoneDigits, ...nonZero.flatMap(amountForms), tokens.accessToken, tokens.refreshToken, ...slackTokens];

    // Visibility lags: read once every workflow the run started is listed.
    const expected = [
      accountWorkflowId(account.id),
      p.workflowOf(p.jobber.sandbox.webhooks.get(doomed.webhookIds[0]!)!),
      ...[...created.webhookIds, ...paid.webhookIds].map((id) => p.workflowOf(p.jobber.sandbox.webhooks.get(id)!)),
      slackInstallationWorkflowId(account.id),
    ];
    const histories = await waitFor(async () => {
      const read = await readRawHistories(p);
      return expected.every((id) => read.some((h) => h.workflowId === id)) ? read : undefined;
    });
    const inBytes = (h: RawHistory, value: string) => occurs(h.bytes, Buffer.from(value, 'utf8').toString('latin1'));
    const inPayloads = (h: RawHistory, value: string) => occurs(h.payloads, value);

    // Positive control: the same readers find what must be there, so a broken reader cannot pass.
    const eventHistory = histories.find((h) => h.workflowId === expected[2])!;
    expect(inPayloads(eventHistory, account.id) && inBytes(eventHistory, account.id)).toBe(true);
    expect(inPayloads(eventHistory, created.result.id) && inBytes(eventHistory, created.result.id)).toBe(true);
    expect(histories.some((h) => inBytes(h, 'fetch job'))).toBe(true); // an activity summary (user metadata)
    expect(histories.some((h) => h.workflowId === expected[1] && inBytes(h, 'EventFailed'))).toBe(true); // a failure
    expect(histories.some((h) => h.workflowId.includes('/backfill/'))).toBe(true);
    // The installation's workflow did the install, the channel choice and the refresh (by ids only).
    const installationHistory = histories.find((h) => h.workflowId === slackInstallationWorkflowId(account.id))!;
    for (const done of ['adopt the Slack grant', 'C0PRIVALR', 'refresh the bot token']) expect(inBytes(installationHistory, done)).toBe(true);

    const leaks = histories.flatMap((h) => needles.filter((n) => inBytes(h, n) || inPayloads(h, n)).map((n) => `${n} in ${h.workflowId}`));
    expect(leaks).toEqual([]);
  }, 300_000);
});
