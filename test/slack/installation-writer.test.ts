import { followConnectFlow } from '../../src/dev/connect-flow';
import { followSlackInstallFlow } from '../../src/dev/slack-install-flow';
import { TokenCipher } from '../../src/crypto/tokens';
import { SlackInstallations, SlackOAuth } from '../../src/slack/installations';
import { BOT_SCOPES } from '../../src/slack/scopes';
import { SlackInstallationControl } from '../../src/workflow-client/slack-installation';
import { TEST_KEY } from '../helpers/deps';
import { startPipeline, waitFor, type Pipeline } from '../helpers/pipeline';

/**
 * One writer per Slack installation, end to end: the ingress (the Manage App page, the OAuth
 * callback) and the worker (alerts) touch one installation at the same moment, on FerretDB, with
 * the stand-in's rotating tokens (a refresh token works exactly once, as in Slack).
 */
describe('Slack installations: one writer, whoever asks', () => {
  let p: Pipeline;

  beforeAll(async () => {
    p = await startPipeline('slack-writer');
    // Token rotation on: bot tokens expire and come with a single-use refresh token.
    p.slack.standIn.slackApp.tokenRotation = true;
  }, 120_000);
  afterAll(async () => {
    await p?.close();
  });

  const manage = async (cookies: string) => (await fetch(`${p.ingressUrl}/manage`, { headers: { cookie: cookies } })).text();
  const csrfOf = (html: string) => /name="csrf" value="([^"]+)"/.exec(html)![1]!;
  const postForm = (cookies: string, path: string, fields: Record<string, string>) =>
    fetch(`${p.ingressUrl}${path}`, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie: cookies, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields).toString(),
    });
  const install = async (cookies: string, teamId: string) => {
    const done = await followSlackInstallFlow(p.ingressUrl, cookies, teamId);
    expect(done.location).toBe('/manage');
  };
  /** A business connected to Jobber, with its own workspace installed and its alerts channel picked. */
  const business = async (name: string, teamId: string) => {
    p.slack.standIn.addTeam({ id: teamId, name: `${name} Slack` });
    const id = p.jobber.sandbox.store.createAccount({ name }).id;
    const { cookies } = await followConnectFlow(p.ingressUrl, id);
    await install(cookies, teamId);
    const res = await postForm(cookies, '/slack/channel', { csrf: csrfOf(await manage(cookies)), channel: `C${teamId.slice(1)}ALR` });
    expect(res.headers.get('location')).toBe('/manage');
    return { id, cookies, teamId };
  };
  /** A new job in Jobber: its webhook makes the worker post an alert (not waited for). */
  const newJob = (accountId: string, title: string) => {
    const store = p.jobber.sandbox.store;
    const client = store.createClient(accountId, { companyName: `${title} client` }, { webhook: false });
    return p.jobber.sandbox.webhooks.capture(() => store.createJob(accountId, { clientId: client.id, title, total: 120 })).webhookIds;
  };
  const messagesWith = (text: string) => p.slack.standIn.state.messages.filter((m) => m.text.includes(text));
  const refreshCalls = () => p.slack.standIn.state.calls.filter((c) => c.method === 'oauth.v2.access' && c.args.grant_type === 'refresh_token');
  /** Time passes: the bot token is a minute from expiring, so its next use refreshes it first. */
  const expireSoon = (accountId: string) =>
    p.models.SlackInstallation.updateOne({ _id: accountId }, { $set: { tokenExpiresAt: new Date(Date.now() + 60_000) } });
  /** Slack answers refreshes late, so a second one arrives while the first is still with Slack. */
  const slowRefreshes = () => p.slack.standIn.addFault({ method: 'oauth.v2.access', delayMs: 1500, times: 2 });
  const clearFault = (id: string) => {
    p.slack.standIn.state.faults = p.slack.standIn.state.faults.filter((f) => f.id !== id);
  };

  it('the ingress and the worker needing a refresh at once use the refresh token once, and both get a working token', async () => {
    const acct = await business('Refresh Race Lawns', 'T0RRACE');
    await expireSoon(acct.id);
    const before = refreshCalls().length;
    const fault = slowRefreshes();
    // The worker's alert needs the token first: its refresh is with Slack…
    const webhookIds = newJob(acct.id, 'Hedge during a refresh');
    await waitFor(() => (refreshCalls().length > before ? true : undefined));
    // …when the page needs the token too, to list the workspace's channels.
    const page = await manage(acct.cookies);
    clearFault(fault.id);
    expect(page).not.toContain('did not list the channels');
    expect(page).toContain('#general');
    await p.outcomes(webhookIds);
    const posted = await waitFor(() => (messagesWith('Hedge during a refresh').length ? messagesWith('Hedge during a refresh') : undefined));
    expect(posted.map((m) => [m.team, m.channel])).toEqual([['T0RRACE', 'C0RRACEALR']]);
    // Slack was asked once, and said yes: the single-use refresh token was used once.
    expect(
      refreshCalls()
        .slice(before)
        .map((c) => c.ok),
    ).toEqual([true]);
    expect(await p.models.SlackInstallation.findById(acct.id).lean()).toMatchObject({ status: 'active' });
  });

  it('a channel change racing a token refresh keeps both: the new channel, with the new token', async () => {
    const acct = await business('Channel Race Gardens', 'T0CRACE');
    const csrf = csrfOf(await manage(acct.cookies));
    const { tokenVersion } = (await p.models.SlackInstallation.findById(acct.id).lean())!;
    await expireSoon(acct.id);
    const before = refreshCalls().length;
    const fault = slowRefreshes();
    const webhookIds = newJob(acct.id, 'Mowing during a refresh');
    await waitFor(() => (refreshCalls().length > before ? true : undefined));
    // The user picks another channel while the worker's refresh is with Slack.
    const res = await postForm(acct.cookies, '/slack/channel', { csrf, channel: 'C0CRACEGEN' });
    clearFault(fault.id);
    expect(res.headers.get('location')).toBe('/manage');
    await p.outcomes(webhookIds);
    await waitFor(() => (messagesWith('Mowing during a refresh').length ? true : undefined));
    const after = (await p.models.SlackInstallation.findById(acct.id).lean())!;
    expect(after).toMatchObject({ status: 'active', channel: 'C0CRACEGEN', channelName: 'general' });
    expect(after.tokenVersion).toBeGreaterThan(tokenVersion);
    expect(
      refreshCalls()
        .slice(before)
        .map((c) => c.ok),
    ).toEqual([true]);
    // Both kept: the next alert goes to the new channel, posted with the refreshed token.
    await p.outcomes(newJob(acct.id, 'After the channel change'));
    const next = await waitFor(() => (messagesWith('After the channel change').length ? messagesWith('After the channel change') : undefined));
    expect(next.map((m) => [m.team, m.channel])).toEqual([['T0CRACE', 'C0CRACEGEN']]);
    expect(await manage(acct.cookies)).toMatch(/alerts go to <strong id="slack-channel">#general<\/strong>/);
  });

  it('two installs racing for one account leave exactly one installation, whole, and a refusal of the replaced token does not break it', async () => {
    p.slack.standIn.addTeam({ id: 'T0IRACEB', name: 'Install Race B Slack' });
    const acct = await business('Install Race Yards', 'T0IRACEA');
    // Two installs for the account reach the ingress at once (a double submit, two admins): each
    // callback stores its grant and asks the installation's writer, as the OAuth callback does.
    const oauth = new SlackOAuth(p.slack.standIn.slackApp, p.slack.url, `${p.ingressUrl}/slack/oauth/callback`);
    const ingressSide = new SlackInstallations(
      p.models,
      new TokenCipher(TEST_KEY),
      p.slack.url,
      new SlackInstallationControl(p.temporal.client, p.worker.taskQueue),
    );
    const grantFor = (teamId: string) =>
      oauth.exchangeCode(p.slack.standIn.workspaces.issueCode({ clientId: oauth.credentials.clientId, teamId, scopes: [...BOT_SCOPES], userId: 'U0X' }));
    for (let round = 0; round < 3; round++) {
      const [ga, gb] = await Promise.all([grantFor('T0IRACEA'), grantFor('T0IRACEB')]);
      await Promise.all([ingressSide.install(acct.id, ga), ingressSide.install(acct.id, gb)]);
      expect(await p.models.SlackInstallation.countDocuments({ _id: acct.id })).toBe(1);
    }
    expect(await p.models.SlackGrant.countDocuments({ accountId: acct.id })).toBe(0);
    const teamId = (await p.models.SlackInstallation.findById(acct.id).lean())!.teamId;
    // Whole: its token and channels are of the workspace it names, and alerts go there.
    const picked = await postForm(acct.cookies, '/slack/channel', { csrf: csrfOf(await manage(acct.cookies)), channel: `C${teamId.slice(1)}GEN` });
    expect(picked.headers.get('location')).toBe('/manage');
    await p.outcomes(newJob(acct.id, 'After the install race'));
    const raced = await waitFor(() => (messagesWith('After the install race').length ? messagesWith('After the install race') : undefined));
    expect(raced.map((m) => [m.team, m.channel])).toEqual([[teamId, `C${teamId.slice(1)}GEN`]]);

    // Slack refuses a token late, for an alert sent with it, after the user reinstalled: the
    // refusal is about the replaced token, so the new installation stays and the alert goes out.
    const fault = p.slack.standIn.addFault({ method: 'chat.postMessage', error: 'account_inactive', delayMs: 4000 });
    const late = newJob(acct.id, 'Refused after a reinstall');
    // The post is with Slack (its fault taken), to be refused in 4 s.
    await waitFor(() => (p.slack.standIn.state.faults.some((f) => f.id === fault.id) ? undefined : true));
    await install(acct.cookies, teamId);
    await p.outcomes(late);
    const posted = await waitFor(() => (messagesWith('Refused after a reinstall').length ? messagesWith('Refused after a reinstall') : undefined));
    expect(posted.map((m) => m.team)).toEqual([teamId]);
    expect(await p.models.SlackInstallation.findById(acct.id).lean()).toMatchObject({ status: 'active', teamId });
  });

  it('alerts kept while Slack was disconnected are posted once after a reinstall, saying they were held', async () => {
    const acct = await business('Kept Alerts Orchards', 'T0KEPT');
    await p.slack.standIn.uninstallFromSlack('T0KEPT');
    await waitFor(async () => ((await p.models.SlackInstallation.findById(acct.id).lean())?.status === 'uninstalled' ? true : undefined));
    await p.outcomes([...newJob(acct.id, 'Kept pruning one'), ...newJob(acct.id, 'Kept pruning two')]);
    await waitFor(async () => ((await p.models.SlackUndelivered.countDocuments({ accountId: acct.id })) === 2 ? true : undefined));
    expect(messagesWith('Kept pruning')).toEqual([]);
    expect(await manage(acct.cookies)).toContain('2 alerts not delivered');

    await install(acct.cookies, 'T0KEPT');
    const posted = await waitFor(() => (messagesWith('Kept pruning').length === 2 ? messagesWith('Kept pruning') : undefined));
    expect(posted.map((m) => [m.team, m.channel])).toEqual([
      ['T0KEPT', 'C0KEPTALR'],
      ['T0KEPT', 'C0KEPTALR'],
    ]);
    for (const m of posted) expect(JSON.stringify(m.blocks)).toContain('Held while Slack was disconnected');
    await waitFor(async () => ((await p.models.SlackUndelivered.countDocuments({ accountId: acct.id })) === 0 ? true : undefined));
    expect(await manage(acct.cookies)).not.toContain('not delivered');

    // Once per fact: another reinstall and a channel change post nothing again.
    await install(acct.cookies, 'T0KEPT');
    await postForm(acct.cookies, '/slack/channel', { csrf: csrfOf(await manage(acct.cookies)), channel: 'C0KEPTGEN' });
    await p.outcomes(newJob(acct.id, 'Fresh pruning'));
    await waitFor(() => (messagesWith('Fresh pruning').length ? true : undefined));
    expect(messagesWith('Kept pruning')).toHaveLength(2);
  });
});
