import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { defaultPayloadConverter } from '@temporalio/common';
import { accountWorkflowId } from '../../workflows/definitions';
import { startPipeline, waitFor, type Pipeline } from '../helpers/pipeline';
import { launchChromium } from './chromium';

/** Kept by CI as an artifact (git-ignored). */
const ARTIFACTS = path.resolve(__dirname, '../../test-artifacts');
const SCREENSHOT = path.join(ARTIFACTS, 'manage-app.png');

/**
 * The Manage App page in a real headless Chromium: the connect flow through the sandbox's consent
 * page (real redirects, the state cookie kept by the browser), the record counts after the initial
 * backfill, Sync now and Disconnect. Real clicks; every wait is a bounded poll, never a timing check.
 */
describe('Manage App page in headless Chromium (sandbox consent page, real Temporal, FerretDB)', () => {
  let p: Pipeline | undefined;
  let browser: Browser | undefined;
  let context: BrowserContext;
  let page: Page;
  let account: { id: string; name: string } | undefined;

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    // The browser first: a missing Chromium fails at once with the install command.
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 960, height: 720 } });
    context.setDefaultTimeout(30_000);
    page = await context.newPage();
    p = await startPipeline('browser');
  }, 120_000);

  afterAll(async () => {
    await browser?.close().catch((err: Error) => console.warn(`closing chromium: ${err.message}`));
    await p?.close();
  });

  const pipeline = (): Pipeline => {
    if (!p) throw new Error('pipeline not started');
    return p;
  };
  const text = async (selector: string) => ((await page.locator(selector).textContent()) ?? '').trim();
  const cookieNames = async () => (await context.cookies()).map((c) => c.name);

  /** On failure, keeps what the browser showed next to the regular screenshot. */
  const withFailureScreenshot = async (name: string, body: () => Promise<void>) => {
    try {
      await body();
    } catch (err) {
      await page.screenshot({ path: path.join(ARTIFACTS, `manage-app-failed-${name}.png`), fullPage: true }).catch(() => undefined);
      throw err;
    }
  };

  it('connects through the consent page, shows the backfilled counts and syncs on request', async () => {
    const p = pipeline();
    await withFailureScreenshot('connect', async () => {
      const store = p.jobber.sandbox.store;
      const created = store.createAccount({ name: 'Browser Lawn & Garden' });
      account = created;
      // No webhooks: only the initial backfill can bring these in.
      const clients = [0, 1, 2].map((i) => store.createClient(created.id, { firstName: `Browser${i}` }, { webhook: false }));
      const jobs = clients.slice(0, 2).map((c) => store.createJob(created.id, { clientId: c.id, title: `Hedges for ${c.id}`, total: 180 }, { webhook: false }));
      store.createInvoice(created.id, { clientId: clients[0]!.id, jobIds: [jobs[0]!.id], amounts: { subtotal: 150, taxAmount: 30 } }, { webhook: false });

      // Not signed in: the page offers Connect.
      await page.goto(`${p.ingressUrl}/manage`);
      const connect = page.getByRole('link', { name: 'Connect Jobber' });
      await connect.waitFor();

      // Connect → /auth/jobber sets the state cookie and redirects to the consent page.
      await connect.click();
      await page.waitForURL((url) => url.href.startsWith(`${p.jobber.url}/oauth/authorize`));
      const authorize = new URL(page.url());
      expect(authorize.searchParams.get('redirect_uri')).toBe(`${p.ingressUrl}/auth/jobber/callback`);
      expect(authorize.searchParams.get('state')).toBeTruthy();
      expect(await cookieNames()).toContain('jobber_oauth_state');
      const allow = page.getByRole('button', { name: 'Allow access' });
      await allow.waitFor();
      if ((await page.locator('select#account_id').count()) > 0) await page.selectOption('select#account_id', created.id);
      else expect(await text('#account-name')).toBe(created.name);

      // Allow → the callback with code and state → /manage, signed in, the state cookie spent.
      await allow.click();
      await page.waitForURL(`${p.ingressUrl}/manage`);
      expect(await text('h1')).toBe(created.name);
      expect(await text('#status')).toBe('Connected');
      // Shown in green, as "Healthy" is.
      expect(await page.evaluate('getComputedStyle(document.getElementById("status")).color')).toBe('rgb(27, 127, 59)');
      const cookies = await cookieNames();
      expect(cookies).toContain('jobber_account');
      expect(cookies).not.toContain('jobber_oauth_state');

      // Reload until the initial backfill has landed: the counts are what exists in Jobber.
      const expected = '3 clients · 0 properties · 2 jobs · 1 invoice · 0 requests · 0 quotes · 0 visits · 0 payments';
      await waitFor(async () => {
        await page.reload();
        return (await text('#counts')) === expected ? true : undefined;
      }, 45_000);
      await waitFor(async () => ((await p.control.state(created.id))?.backfill === 'done' ? true : undefined));
      const before = (await p.control.state(created.id))!.lastReconcileAt;
      expect(before).toBeTruthy();

      // Sync now: a POST with the form token, answered with a redirect back to /manage.
      const back = page.waitForResponse((r) => new URL(r.url()).pathname === '/manage' && r.request().redirectedFrom()?.url() === `${p.ingressUrl}/sync`);
      await page.getByRole('button', { name: 'Sync now' }).click();
      expect((await back).status()).toBe(200);
      await page.waitForLoadState('load');
      expect(page.url()).toBe(`${p.ingressUrl}/manage`);
      expect(await text('#status')).toBe('Connected');

      // The account workflow ran an incremental sync: a `sync-` backfill child, and a newer reconcile mark.
      const after = await waitFor(async () => {
        const s = await p.control.state(created.id);
        return s?.lastReconcileAt && s.lastReconcileAt !== before ? s.lastReconcileAt : undefined;
      });
      expect(Date.parse(after)).toBeGreaterThan(Date.parse(before!));
      const prefix = `${accountWorkflowId(created.id)}/backfill/`;
      const children = await waitFor(async () => {
        const ids: string[] = [];
        for await (const wf of p.temporal.client.workflow.list({ query: `WorkflowId STARTS_WITH "${prefix}"` })) ids.push(wf.workflowId);
        return ids.some((id) => id.startsWith(`${prefix}sync-`)) ? ids : undefined;
      });
      expect(children.filter((id) => id.startsWith(`${prefix}sync-`))).toHaveLength(1);
      expect(children.filter((id) => id.startsWith(`${prefix}initial-`))).toHaveLength(1);

      // The page after the sync, as a user sees it, kept as a CI artifact.
      await page.reload();
      expect(await text('#counts')).toBe(expected);
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
    });
  }, 120_000);

  it('changes the alert rules on the page: the next new job posts nothing and says why; turned back on, the next one posts once', async () => {
    const p = pipeline();
    if (!account) throw new Error('needs the connected account of the previous test');
    const { id } = account;
    await withFailureScreenshot('alert-rules', async () => {
      const store = p.jobber.sandbox.store;
      const client = store.createClient(id, { companyName: 'Rules Browser Co' }, { webhook: false });
      const alertsFor = (jobId: string) =>
        p.slack.standIn.state.messages.filter((m) => (m.metadata?.event_payload as { alert_key?: string } | undefined)?.alert_key === `job-created/${jobId}`);
      const save = async () => {
        await page.getByRole('button', { name: 'Save alert rules' }).click();
        await page.waitForLoadState('load');
      };

      // The defaults: new job on, visit completed off.
      await page.goto(`${p.ingressUrl}/manage`);
      const newJob = page.getByRole('checkbox', { name: 'New job' });
      expect(await newJob.isChecked()).toBe(true);
      expect(await page.getByRole('checkbox', { name: 'Visit completed' }).isChecked()).toBe(false);

      // A channel name where an id belongs: refused, and nothing changes.
      await newJob.uncheck();
      await page.getByRole('textbox', { name: 'New job channel id' }).fill('#general');
      await save();
      await page.getByRole('heading', { name: 'Alert rules not saved' }).waitFor();
      expect(await page.locator('p.sub').textContent()).toContain('"#general" is not a Slack channel id');
      expect(await p.models.AlertRules.countDocuments({ _id: id })).toBe(0);

      // Turn new jobs off.
      await page.goto(`${p.ingressUrl}/manage`);
      await page.getByRole('checkbox', { name: 'New job' }).uncheck();
      await save();
      expect(page.url()).toBe(`${p.ingressUrl}/manage`);
      expect(await page.getByRole('checkbox', { name: 'New job' }).isChecked()).toBe(false);

      // A new job, its webhook sent twice: synced, not posted, and the event says why.
      const quiet = p.jobber.sandbox.webhooks.capture(() =>
        store.createJob(id, { clientId: client.id, title: 'Quiet hedge' }, { delivery: { duplicates: 1 } }),
      );
      const [outcome] = await p.outcomes(quiet.webhookIds);
      expect(outcome).toMatchObject({ status: 'synced', kind: 'job', alerts: [] });
      expect(await p.models.Job.countDocuments({ _id: quiet.result.id })).toBe(1);
      expect(alertsFor(quiet.result.id)).toHaveLength(0);
      const why = "job-created alerts are turned off in the account's alert rules";
      expect(await p.models.Alert.findById(`job-created/${quiet.result.id}`).lean()).toMatchObject({ status: 'off', reason: why });
      const history = await p.temporal.client.workflow.getHandle(p.workflowOf(p.jobber.sandbox.webhooks.get(quiet.webhookIds[0]!)!)).fetchHistory();
      const results = (history.events ?? [])
        .map((e) => e.activityTaskCompletedEventAttributes?.result?.payloads?.[0])
        .filter((r) => r !== undefined)
        .map((r) => defaultPayloadConverter.fromPayload<unknown>(r!));
      expect(results).toContainEqual({ sent: false, reason: why });

      // Turn them back on: the next new job, sent three times, posts once, with its link and buttons.
      await page.goto(`${p.ingressUrl}/manage`);
      await page.getByRole('checkbox', { name: 'New job' }).check();
      await save();
      expect(await page.getByRole('checkbox', { name: 'New job' }).isChecked()).toBe(true);
      const loud = p.jobber.sandbox.webhooks.capture(() => store.createJob(id, { clientId: client.id, title: 'Loud hedge' }, { delivery: { duplicates: 2 } }));
      const outcomes = await p.outcomes(loud.webhookIds);
      expect(outcomes[0]).toMatchObject({ status: 'synced', kind: 'job', alerts: ['job-created'] });
      const posted = alertsFor(loud.result.id);
      expect(posted).toHaveLength(1);
      expect(posted[0]!.text).toContain(`New job #${loud.result.jobNumber}: Loud hedge`);
      const buttons = JSON.stringify(posted[0]!.blocks);
      for (const label of ['Open in Jobber', 'Acknowledge', 'Refresh']) expect(buttons).toContain(label);
      expect(buttons).toContain(loud.result.jobberWebUri);
      // The quiet job stays unposted: a rule decides a fact once, when it happens.
      expect(alertsFor(quiet.result.id)).toHaveLength(0);
    });
  }, 90_000);

  it('disconnects from the page: one AppDisconnect to Jobber, tokens purged, Connect offered again', async () => {
    const p = pipeline();
    if (!account) throw new Error('needs the connected account of the previous test');
    const { id } = account;
    await withFailureScreenshot('disconnect', async () => {
      const appDisconnects = () => p.jobber.sandbox.requests.filter((r) => r.operationName === 'AppDisconnect' && r.accountId === id);
      expect(appDisconnects()).toHaveLength(0);

      await page.goto(`${p.ingressUrl}/manage`);
      await page.getByRole('button', { name: 'Disconnect' }).click();
      await page.waitForURL(`${p.ingressUrl}/disconnect`);
      await page.getByRole('heading', { name: 'Disconnected' }).waitFor();
      expect(await cookieNames()).not.toContain('jobber_account');

      expect(appDisconnects()).toHaveLength(1);
      const connection = await p.models.Connection.findById(id).lean();
      expect(connection).toMatchObject({ status: 'disconnected' });
      expect(connection?.accessToken).toBeUndefined();
      expect(connection?.refreshToken).toBeUndefined();
      // Jobber answers with an APP_DISCONNECT webhook; handling it must not call Jobber again.
      const appDisconnect = await waitFor(() => p.jobber.sandbox.webhooks.list({ topic: 'APP_DISCONNECT' }).find((d) => d.event.accountId === id));
      await p.outcomes([appDisconnect.id]); // its event workflow has finished
      expect(appDisconnects()).toHaveLength(1);

      // Signed out: the page offers Connect again.
      await page.goto(`${p.ingressUrl}/manage`);
      await page.getByRole('link', { name: 'Connect Jobber' }).waitFor();
      expect(await page.locator('#status').count()).toBe(0);
    });
  }, 60_000);
});
