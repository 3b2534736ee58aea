import type { KnownBlock } from '@slack/types';
import { upsertRecord } from '../../src/db/records';
import { linkWorkspace } from '../../src/db/slack-links';
import { SLACK_PATHS } from '../../src/ingress/slack-routes';
import type { SlackMessage } from '../../src/sandbox/slack';
import { alertKey, invoicePaidMessage, jobCreatedMessage, sendAlertOnce } from '../../src/slack/alerts';
import { withRefreshButton } from '../../src/slack/buttons';
import { withAcknowledgement } from '../../src/slack/interactions';
import type { RecordKind } from '../../workflows/definitions';
import { interactionBody, seedClient, seedInvoice, seedJob, slackPost, startSlackEnv, visible, type SlackEnv } from './helpers';

const ACCOUNT = 'acct-alerts';
const TEAM = 'T0ALERTS';
const CHANNEL = 'C0ALERTS';

describe('Slack interactions: Acknowledge and Refresh on alert messages', () => {
  let env: SlackEnv;
  let n = 0;

  beforeAll(async () => {
    env = await startSlackEnv('slack_interactions');
    await env.models.Connection.create({ _id: ACCOUNT, name: 'Alert Gardens', status: 'connected' });
    await linkWorkspace(env.models.SlackLink, TEAM, ACCOUNT);
    await seedClient(env.models, ACCOUNT, { id: 'c-ana', firstName: 'Ana', lastName: 'Lopez' });
  });
  afterAll(() => env.close());
  beforeEach(() => env.slack.standIn.reset());

  /** A job alert posted for real (sendAlertOnce → the stand-in), as the worker does it. */
  async function postJobAlert(title = 'Spring cleanup'): Promise<{ key: string; jobId: string; message: SlackMessage }> {
    const jobId = `job-${++n}`;
    await seedJob(env.models, ACCOUNT, { id: jobId, jobNumber: n, title, total: 250, client: { id: 'c-ana', name: 'Ana Lopez' } });
    const job = (await env.models.Job.findById(jobId).lean())!;
    const client = await env.models.Client.findById('c-ana').lean();
    const key = alertKey('job-created', jobId);
    const sent = await sendAlertOnce(
      { models: env.models, slack: env.web },
      { key, accountId: ACCOUNT, channel: CHANNEL, owner: 'test', message: jobCreatedMessage(job, client) },
    );
    const message = env.slack.standIn.state.messages.find((m) => m.ts === sent.ts)!;
    return { key, jobId, message };
  }

  /** The block_actions payload Slack sends when `user` clicks `actionId` on `message`. */
  const click = (message: SlackMessage, user: string, actionId: string, value: string | undefined, team = TEAM) =>
    interactionBody({
      type: 'block_actions',
      team: { id: team, domain: 'sandbox' },
      user: { id: user, username: user.toLowerCase(), team_id: team },
      api_app_id: 'A0SANDBOX',
      container: { type: 'message', message_ts: message.ts, channel_id: message.channel, is_ephemeral: false },
      channel: { id: message.channel, name: 'alerts' },
      message: { type: 'message', ts: message.ts, text: message.text, blocks: message.blocks },
      response_url: 'https://hooks.slack.com/actions/T0/1/x',
      trigger_id: '1.2.3',
      actions: [{ type: 'button', action_id: actionId, block_id: 'b1', value, action_ts: '1.2' }],
    });

  const calls = (method: string) => env.slack.standIn.state.calls.filter((c) => c.method === method);
  const current = (ts: string) => env.slack.standIn.state.messages.find((m) => m.ts === ts)!;
  const buttons = (m: SlackMessage) =>
    ((m.blocks ?? []) as KnownBlock[]).flatMap((b) => (b.type === 'actions' ? b.elements.map((e) => (e as { action_id?: string }).action_id) : []));

  it('two concurrent clicks acknowledge once: one chat.update, and the second clicker is told who was first', async () => {
    const { app, router } = env.app();
    const { key, message } = await postJobAlert();
    expect(buttons(message)).toEqual(['open_in_jobber', 'acknowledge', 'refresh']);

    const [a, b] = await Promise.all([
      slackPost(app, SLACK_PATHS.interactions, click(message, 'U0ALICE', 'acknowledge', key)),
      slackPost(app, SLACK_PATHS.interactions, click(message, 'U0BOB', 'acknowledge', key)),
    ]);
    expect([a.status, b.status]).toEqual([200, 200]);
    await router.drain();

    const winner = (await env.models.Alert.findById(key).lean())!.acknowledgedBy!;
    expect(['U0ALICE', 'U0BOB']).toContain(winner);
    const loser = winner === 'U0ALICE' ? 'U0BOB' : 'U0ALICE';

    expect(calls('chat.update')).toHaveLength(1);
    const updated = current(message.ts);
    expect(visible(updated)).toContain(`Acknowledged by <@${winner}>`);
    expect(buttons(updated)).toEqual(['open_in_jobber', 'refresh']);
    expect(visible(updated)).toContain('New job #');
    expect(updated.text).toContain(`acknowledged by <@${winner}>`);

    expect(env.slack.standIn.state.ephemeral).toEqual([
      expect.objectContaining({ channel: CHANNEL, user: loser, text: `This alert was already acknowledged by <@${winner}>.` }),
    ]);

    // A late third click changes nothing either.
    await slackPost(app, SLACK_PATHS.interactions, click(message, 'U0CAROL', 'acknowledge', key));
    await router.drain();
    expect(calls('chat.update')).toHaveLength(1);
    expect(env.slack.standIn.state.ephemeral.at(-1)).toMatchObject({ user: 'U0CAROL', text: `This alert was already acknowledged by <@${winner}>.` });
    expect((await env.models.Alert.findById(key).lean())!.acknowledgedBy).toBe(winner);
  });

  it('six concurrent clicks: still one acknowledgement, one update, five users told', async () => {
    const { app, router } = env.app();
    const { key, message } = await postJobAlert();
    const users = ['U0A1', 'U0A2', 'U0A3', 'U0A4', 'U0A5', 'U0A6'];
    await Promise.all(users.map((u) => slackPost(app, SLACK_PATHS.interactions, click(message, u, 'acknowledge', key))));
    await router.drain();
    const winner = (await env.models.Alert.findById(key).lean())!.acknowledgedBy!;
    expect(calls('chat.update')).toHaveLength(1);
    expect(visible(current(message.ts))).toContain(`Acknowledged by <@${winner}>`);
    expect(env.slack.standIn.state.ephemeral.map((e) => e.user).sort()).toEqual(users.filter((u) => u !== winner).sort());
  });

  it('finishes an acknowledgement whose request died between its claim and its write', async () => {
    const { app, router } = env.app();
    const { key, message } = await postJobAlert();
    await env.models.AlertAcknowledgement.create({ _id: key, userId: 'U0GHOST', at: new Date(Date.now() - 5 * 60_000) });
    await slackPost(app, SLACK_PATHS.interactions, click(message, 'U0ALICE', 'acknowledge', key));
    await router.drain();
    expect((await env.models.Alert.findById(key).lean())!.acknowledgedBy).toBe('U0GHOST');
    expect(visible(current(message.ts))).toContain('Acknowledged by <@U0GHOST>');
    expect(env.slack.standIn.state.ephemeral).toEqual([
      expect.objectContaining({ user: 'U0ALICE', text: 'This alert was already acknowledged by <@U0GHOST>.' }),
    ]);
  });

  it('the same user clicking twice is told they already did', async () => {
    const { app, router } = env.app();
    const { key, message } = await postJobAlert();
    await slackPost(app, SLACK_PATHS.interactions, click(message, 'U0ALICE', 'acknowledge', key));
    await slackPost(app, SLACK_PATHS.interactions, click(message, 'U0ALICE', 'acknowledge', key));
    await router.drain();
    expect(calls('chat.update')).toHaveLength(1);
    expect(env.slack.standIn.state.ephemeral).toEqual([expect.objectContaining({ user: 'U0ALICE', text: 'You already acknowledged this alert.' })]);
  });

  it('refresh re-fetches through the injected refreshRecord, then re-renders the message from MongoDB', async () => {
    const refreshed: [string, RecordKind, string][] = [];
    const { key, jobId, message } = await postJobAlert('Old title');
    const { app, router } = env.app({
      // Stands in for the Jobber fetch + upsertRecord: Jobber now has a new title and total.
      refreshRecord: async (accountId, kind, itemId) => {
        refreshed.push([accountId, kind, itemId]);
        await upsertRecord(env.models, 'job', accountId, {
          id: itemId,
          jobNumber: 4242,
          title: 'Renamed <in> Jobber',
          jobStatus: 'today',
          total: 975,
          startAt: null,
          endAt: null,
          completedAt: null,
          client: { id: 'c-ana', name: 'Ana Lopez' },
          jobberWebUri: `https://secure.getjobber.com/work_orders/${itemId}`,
          createdAt: '2025-05-01T00:00:00Z',
          updatedAt: '2025-06-01T00:00:00Z',
        });
      },
    });
    const res = await slackPost(app, SLACK_PATHS.interactions, click(message, 'U0ALICE', 'refresh', key));
    expect(res.status).toBe(200);
    await router.drain();

    expect(refreshed).toEqual([[ACCOUNT, 'job', jobId]]);
    const updated = current(message.ts);
    expect(visible(updated)).toContain('New job #4242: Renamed &lt;in&gt; Jobber');
    expect(visible(updated)).toContain('$975.00');
    expect(visible(updated)).not.toContain('Old title');
    expect(visible(updated)).toContain('Last synced from Jobber');
    // Not acknowledged yet: the button stays, and Refresh is there for the next time.
    expect(buttons(updated)).toEqual(['open_in_jobber', 'acknowledge', 'refresh']);
  });

  it('refresh keeps the acknowledgement, and a failed Jobber fetch leaves the message and tells the user', async () => {
    let fail = false;
    const { app, router } = env.app({
      refreshRecord: async () => {
        if (fail) throw new Error('Jobber answered HTTP 503');
      },
    });
    const { key, message } = await postJobAlert();
    await slackPost(app, SLACK_PATHS.interactions, click(message, 'U0BOB', 'acknowledge', key));
    await slackPost(app, SLACK_PATHS.interactions, click(message, 'U0ALICE', 'refresh', key));
    await router.drain();
    const afterRefresh = current(message.ts);
    expect(visible(afterRefresh)).toContain('Acknowledged by <@U0BOB>');
    expect(buttons(afterRefresh)).toEqual(['open_in_jobber', 'refresh']);

    fail = true;
    const updatesBefore = calls('chat.update').length;
    await slackPost(app, SLACK_PATHS.interactions, click(afterRefresh, 'U0ALICE', 'refresh', key));
    await router.drain();
    expect(calls('chat.update')).toHaveLength(updatesBefore);
    expect(env.slack.standIn.state.ephemeral.at(-1)).toMatchObject({
      user: 'U0ALICE',
      text: expect.stringContaining('Could not fetch this record from Jobber'),
    });
  });

  it('acknowledges an invoice alert too', async () => {
    const { app, router } = env.app();
    await seedInvoice(env.models, ACCOUNT, {
      id: 'inv-ack',
      invoiceNumber: '77',
      invoiceStatus: 'paid',
      client: { id: 'c-ana', name: 'Ana Lopez' },
      amounts: { total: 300, paymentsTotal: 300 },
    });
    const invoice = (await env.models.Invoice.findById('inv-ack').lean())!;
    const key = alertKey('invoice-paid', 'inv-ack');
    const sent = await sendAlertOnce(
      { models: env.models, slack: env.web },
      { key, accountId: ACCOUNT, channel: CHANNEL, owner: 'test', message: invoicePaidMessage(invoice, null) },
    );
    await slackPost(app, SLACK_PATHS.interactions, click(current(sent.ts!), 'U0ALICE', 'acknowledge', key));
    await router.drain();
    expect(visible(current(sent.ts!))).toContain('Invoice #77 paid');
    expect(visible(current(sent.ts!))).toContain('Acknowledged by <@U0ALICE>');
  });

  it('a workspace not linked to the alert account cannot acknowledge it', async () => {
    const { app, router } = env.app();
    const { key, message } = await postJobAlert();
    await slackPost(app, SLACK_PATHS.interactions, click(message, 'U0MALLORY', 'acknowledge', key, 'T0STRANGER'));
    await router.drain();
    expect((await env.models.Alert.findById(key).lean())!.acknowledgedBy ?? null).toBeNull();
    expect(calls('chat.update')).toHaveLength(0);
    expect(env.slack.standIn.state.ephemeral).toEqual([
      expect.objectContaining({ user: 'U0MALLORY', text: expect.stringContaining(`npm run ops -- slack link T0STRANGER ${ACCOUNT}`) }),
    ]);
  });

  it('answers 200 to unknown actions, url buttons and other payload types, and does nothing', async () => {
    const { app, router, lines } = env.app();
    const { key, message } = await postJobAlert();
    const unknown = await slackPost(app, SLACK_PATHS.interactions, click(message, 'U0ALICE', 'self_destruct', key));
    const url = await slackPost(app, SLACK_PATHS.interactions, click(message, 'U0ALICE', 'open_in_jobber', undefined));
    const shortcut = await slackPost(app, SLACK_PATHS.interactions, interactionBody({ type: 'shortcut', team: { id: TEAM }, user: { id: 'U0ALICE' } }));
    expect([unknown.status, url.status, shortcut.status]).toEqual([200, 200, 200]);
    await router.drain();
    expect(env.slack.standIn.state.calls.filter((c) => c.method !== 'chat.postMessage')).toEqual([]);
    expect(lines.join('\n')).toContain('slack interaction ignored: unknown action');
    expect(lines.join('\n')).toContain('"actionId":"self_destruct"');
    expect((await env.models.Alert.findById(key).lean())!.acknowledgedBy ?? null).toBeNull();
  });

  it('a click on an alert Jobber Sync no longer keeps gets an explanation', async () => {
    const { app, router } = env.app();
    const { key, message } = await postJobAlert();
    await env.models.Alert.deleteOne({ _id: key });
    await slackPost(app, SLACK_PATHS.interactions, click(message, 'U0ALICE', 'acknowledge', key));
    await router.drain();
    expect(env.slack.standIn.state.ephemeral).toEqual([expect.objectContaining({ text: expect.stringContaining('no longer keeps this alert') })]);
  });

  it('a payload that is not JSON is a 400 (after the signature check)', async () => {
    const { app } = env.app();
    const res = await slackPost(app, SLACK_PATHS.interactions, 'payload=%7Bnot-json');
    expect(res.status).toBe(400);
  });
});

describe('alert block helpers', () => {
  const alert = jobCreatedMessage({ _id: 'j1', jobNumber: 1, title: 'T', total: 1, jobberWebUri: 'https://x.test/j1' }, null);
  // The alert without its Refresh button, as withRefreshButton receives blocks.
  const blocks = alert.blocks.map((b) =>
    b.type === 'actions' ? { ...b, elements: b.elements.filter((e) => (e as { action_id?: string }).action_id !== 'refresh') } : b,
  ) as KnownBlock[];

  it('alerts carry Open in Jobber, Acknowledge and Refresh', () => {
    const actions = alert.blocks.at(-1) as Extract<KnownBlock, { type: 'actions' }>;
    expect(actions.elements.map((e) => (e as { action_id?: string }).action_id)).toEqual(['open_in_jobber', 'acknowledge', 'refresh']);
  });

  it('withRefreshButton adds one Refresh button next to the others, once', () => {
    const once = withRefreshButton(blocks, 'job-created/j1');
    const twice = withRefreshButton(once, 'job-created/j1');
    expect(twice).toEqual(once);
    const actions = once.at(-1) as Extract<KnownBlock, { type: 'actions' }>;
    expect(actions.elements.map((e) => (e as { action_id?: string }).action_id)).toEqual(['open_in_jobber', 'acknowledge', 'refresh']);
    expect(actions.elements[2]).toMatchObject({ type: 'button', text: { type: 'plain_text', text: 'Refresh' }, value: 'job-created/j1' });
    // The input is not changed.
    expect((blocks.at(-1) as Extract<KnownBlock, { type: 'actions' }>).elements).toHaveLength(2);
    expect(withRefreshButton([], 'k')).toEqual([{ type: 'actions', elements: [expect.objectContaining({ action_id: 'refresh', value: 'k' })] }]);
  });

  it('withAcknowledgement puts "Acknowledged by" where the button was', () => {
    const acked = withAcknowledgement(withRefreshButton(blocks, 'job-created/j1'), 'U0ALICE');
    expect(acked.map((b) => b.type)).toEqual(['section', 'section', 'actions', 'context']);
    expect(JSON.stringify(acked)).not.toContain('"acknowledge"');
    expect(visible({ blocks: acked })).toContain('Acknowledged by <@U0ALICE>');
    expect(withAcknowledgement(acked, 'U0ALICE')).toEqual(acked);
  });
});
