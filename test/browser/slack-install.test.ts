import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { startPipeline, waitFor, type Pipeline } from '../helpers/pipeline';
import { launchChromium } from './chromium';

const ARTIFACTS = path.resolve(__dirname, '../../test-artifacts');

/**
 * "Add to Slack" in a real headless Chromium: connect Jobber through the sandbox's consent page,
 * add the business's own workspace through the Slack stand-in's consent page (real redirects, the
 * state cookie kept by the browser), pick a channel, then a job created in Jobber posts there.
 */
describe('Add to Slack in headless Chromium (sandbox and Slack stand-in consent pages, real Temporal, FerretDB)', () => {
  let p: Pipeline | undefined;
  let browser: Browser | undefined;
  let page: Page;

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    browser = await launchChromium();
    const context = await browser.newContext({ viewport: { width: 960, height: 900 } });
    context.setDefaultTimeout(30_000);
    page = await context.newPage();
    p = await startPipeline('browser-slack');
  }, 120_000);
  afterAll(async () => {
    await browser?.close().catch((err: Error) => console.warn(`closing chromium: ${err.message}`));
    await p?.close();
  });

  it('connects Jobber, adds Slack, picks a channel, and a new job posts to that channel in that workspace', async () => {
    const pl = p!;
    try {
      pl.slack.standIn.addTeam({
        id: 'T0BROWSER',
        name: 'Browser Gardens',
        channels: [
          { id: 'C0BRGEN', name: 'general' },
          { id: 'C0BRJOBS', name: 'new-jobs' },
          { id: 'C0BRPRIV', name: 'owners', isPrivate: true },
        ],
      });
      const store = pl.jobber.sandbox.store;
      const account = store.createAccount({ name: 'Browser Gardens' });

      await page.goto(`${pl.ingressUrl}/manage`);
      await page.getByRole('link', { name: 'Connect Jobber' }).click();
      await page.waitForURL((url) => url.href.startsWith(`${pl.jobber.url}/oauth/authorize`));
      if ((await page.locator('select#account_id').count()) > 0) await page.selectOption('select#account_id', account.id);
      await page.getByRole('button', { name: 'Allow access' }).click();
      await page.waitForURL(`${pl.ingressUrl}/manage`);

      // Add to Slack → Slack's consent page (the stand-in) → pick the workspace → Allow → back on /manage.
      await page.getByRole('link', { name: 'Add to Slack' }).click();
      await page.waitForURL((url) => url.pathname === '/oauth/v2/authorize');
      expect(await page.context().cookies()).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'slack_oauth_state' })]));
      await page.selectOption('select[name=team]', 'T0BROWSER');
      await page.getByRole('button', { name: 'Allow' }).click();
      await page.waitForURL(`${pl.ingressUrl}/manage`);
      expect((await page.locator('#slack-team').textContent())?.trim()).toBe('Browser Gardens');

      // The channels the bot can post to, from the workspace itself: not the private one it is not in.
      const options = await page.locator('select[name=channel] option').allTextContents();
      expect(options).toEqual(['#general', '#new-jobs']);
      await page.selectOption('select[name=channel]', 'C0BRJOBS');
      await page.getByRole('button', { name: 'Use this channel' }).click();
      await page.waitForURL(`${pl.ingressUrl}/manage`);
      expect((await page.locator('#slack-channel').textContent())?.trim()).toBe('#new-jobs');
      const html = await page.content();
      expect(html).not.toMatch(/xox[bep]-/);

      // A job created in Jobber: its alert lands in #new-jobs of Browser Gardens, posted by that workspace's bot.
      const client = store.createClient(account.id, { companyName: 'Lilac Lane' }, { webhook: false });
      store.createJob(account.id, { clientId: client.id, title: 'Browser rose pruning', total: 90 });
      const alert = await waitFor(() => pl.slack.standIn.state.messages.find((m) => m.text.includes('Browser rose pruning')), 60_000);
      expect(alert).toMatchObject({ team: 'T0BROWSER', channel: 'C0BRJOBS', bot_id: 'B0BROWSER' });
      await page.screenshot({ path: path.join(ARTIFACTS, 'slack-install.png'), fullPage: true });
    } catch (err) {
      await page.screenshot({ path: path.join(ARTIFACTS, 'slack-install-failed.png'), fullPage: true }).catch(() => undefined);
      throw err;
    }
  }, 150_000);
});
