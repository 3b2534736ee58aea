import { disconnectFromManagePage, memoryLogger } from '../helpers/ingress';
import { followConnectFlow } from '../../src/dev/connect-flow';
import { signSlackRequest } from '../../src/slack/verify';
import { startPipeline, SLACK_SIGNING_SECRET, waitFor, type Pipeline } from '../helpers/pipeline';

/** A browser's cookies for the ingress, kept across redirects. */
class Jar {
  readonly cookies = new Map<string, string>();
  constructor(initial = '') {
    for (const pair of initial.split('; ').filter(Boolean)) {
      const eq = pair.indexOf('=');
      this.cookies.set(pair.slice(0, eq), pair.slice(eq + 1));
    }
  }
  header = () => [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
  take(res: Response) {
    for (const raw of res.headers.getSetCookie()) {
      const [pair] = raw.split(';');
      const eq = pair!.indexOf('=');
      const value = pair!.slice(eq + 1);
      if (value === '' || /expires=Thu, 01 Jan 1970/i.test(raw)) this.cookies.delete(pair!.slice(0, eq));
      else this.cookies.set(pair!.slice(0, eq), value);
    }
  }
}

/**
 * "Add to Slack" for each business, end to end over HTTP: the ingress, the Slack stand-in's OAuth
 * v2 consent and token endpoint, real Temporal and FerretDB. Two businesses with two workspaces.
 */
describe('Slack per business: Add to Slack, channels, alerts, /jobber and uninstall', () => {
  let p: Pipeline;
  let lines: string[];
  const accounts: Record<'acme' | 'beta', { id: string; jar: Jar }> = {} as never;

  beforeAll(async () => {
    const mem = memoryLogger();
    lines = mem.lines;
    p = await startPipeline('slack-install', { logger: mem.logger });
    p.slack.standIn.addTeam({ id: 'T0ACME', name: 'Acme Lawns Slack' });
    p.slack.standIn.addTeam({ id: 'T0BETA', name: 'Beta Gardens Slack' });
    for (const [key, name] of [
      ['acme', 'Acme Lawns'],
      ['beta', 'Beta Gardens'],
    ] as const) {
      const id = p.jobber.sandbox.store.createAccount({ name }).id;
      const flow = await followConnectFlow(p.ingressUrl, id);
      expect(flow.location).toBe('/manage');
      accounts[key] = { id, jar: new Jar(flow.cookies) };
    }
  }, 120_000);
  afterAll(async () => {
    await p?.close();
  });

  const get = async (jar: Jar, path: string) => {
    const res = await fetch(`${p.ingressUrl}${path}`, { redirect: 'manual', headers: { cookie: jar.header() } });
    jar.take(res);
    return res;
  };
  const manage = async (jar: Jar) => (await get(jar, '/manage')).text();
  const csrfOf = (html: string) => /name="csrf" value="([^"]+)"/.exec(html)![1]!;
  const post = async (jar: Jar, path: string, fields: Record<string, string>) => {
    const res = await fetch(`${p.ingressUrl}${path}`, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie: jar.header(), 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields).toString(),
    });
    jar.take(res);
    return res;
  };
  /** Add to Slack → the stand-in's consent page → Allow for `team` → the callback URL (not yet followed). */
  const consent = async (jar: Jar, team: string): Promise<URL> => {
    const start = await get(jar, '/slack/install');
    expect(start.status).toBe(302);
    const authorize = new URL(start.headers.get('location')!);
    expect(authorize.pathname).toBe('/oauth/v2/authorize');
    expect(authorize.searchParams.get('scope')!.split(',')).toEqual(expect.arrayContaining(['chat:write', 'commands', 'channels:read']));
    const fields = Object.fromEntries(authorize.searchParams);
    const allowed = await fetch(`${authorize.origin}/oauth/v2/authorize`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ ...fields, team, decision: 'allow' }).toString(),
    });
    return new URL(allowed.headers.get('location')!);
  };
  const install = async (jar: Jar, team: string) => {
    const back = await consent(jar, team);
    const res = await get(jar, `${back.pathname}${back.search}`);
    expect(res.headers.get('location')).toBe('/manage');
  };
  const pickChannel = async (jar: Jar, channel: string) => post(jar, '/slack/channel', { csrf: csrfOf(await manage(jar)), channel });
  const newJob = async (accountId: string, title: string) => {
    const store = p.jobber.sandbox.store;
    const client = store.createClient(accountId, { companyName: `${title} client` }, { webhook: false });
    const { result: job, webhookIds } = p.jobber.sandbox.webhooks.capture(() => store.createJob(accountId, { clientId: client.id, title, total: 120 }));
    await p.outcomes(webhookIds);
    return job;
  };
  const messagesWith = (text: string) => p.slack.standIn.state.messages.filter((m) => m.text.includes(text));
  const command = async (teamId: string, text: string) => {
    const body = new URLSearchParams({ team_id: teamId, user_id: 'U0ASKER', command: '/jobber', text, channel_id: 'C0X' }).toString();
    const ts = Math.floor(Date.now() / 1000);
    const res = await fetch(`${p.ingressUrl}/slack/commands`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-slack-request-timestamp': String(ts),
        'x-slack-signature': signSlackRequest(body, ts, SLACK_SIGNING_SECRET),
      },
      body,
    });
    return JSON.stringify(await res.json());
  };

  it('installs each business its own workspace; a picked channel gets that account’s alerts with that workspace’s token', async () => {
    const { acme, beta } = accounts;
    expect(await manage(acme.jar)).toContain('Add to Slack');
    await install(acme.jar, 'T0ACME');
    await install(beta.jar, 'T0BETA');

    // Channels come from conversations.list of the account's own workspace.
    const acmePage = await manage(acme.jar);
    expect(acmePage).toContain('Acme Lawns Slack');
    expect(acmePage).toContain('#alerts');
    expect(acmePage).toContain('pick a channel for alerts');
    expect((await pickChannel(acme.jar, 'C0ACMEALR')).headers.get('location')).toBe('/manage');
    expect((await pickChannel(beta.jar, 'C0BETAGEN')).headers.get('location')).toBe('/manage');
    expect(await manage(acme.jar)).toMatch(/alerts go to <strong id="slack-channel">#alerts<\/strong>/);

    // The bot token is sealed at rest, bound to the account and workspace.
    const stored = await p.models.SlackInstallation.findById(acme.id).lean();
    expect(stored).toMatchObject({ teamId: 'T0ACME', teamName: 'Acme Lawns Slack', botUserId: 'U0ACMEBOT', channel: 'C0ACMEALR', status: 'active' });
    expect(JSON.stringify(stored)).not.toMatch(/xox[bep]/);

    await newJob(acme.id, 'Acme hedge trimming');
    await newJob(beta.id, 'Beta lawn mowing');
    const acmeAlerts = await waitFor(() => (messagesWith('Acme hedge trimming').length ? messagesWith('Acme hedge trimming') : undefined));
    const betaAlerts = await waitFor(() => (messagesWith('Beta lawn mowing').length ? messagesWith('Beta lawn mowing') : undefined));
    // Each in its own workspace and channel, posted by that workspace's bot: never the other's.
    expect(acmeAlerts.map((m) => [m.team, m.channel, m.bot_id])).toEqual([['T0ACME', 'C0ACMEALR', 'B0ACME']]);
    expect(betaAlerts.map((m) => [m.team, m.channel, m.bot_id])).toEqual([['T0BETA', 'C0BETAGEN', 'B0BETA']]);

    // No Slack token in a page or a log line.
    const pages = (await manage(acme.jar)) + (await manage(beta.jar));
    expect(pages + lines.join('\n')).not.toMatch(/xox[bep]-/);
  });

  it('/jobber in each workspace answers about its own account; a workspace with no installation gets the install link', async () => {
    const acmeAnswer = await command('T0ACME', 'jobs');
    const betaAnswer = await command('T0BETA', 'jobs');
    expect(acmeAnswer).toContain('Acme hedge trimming');
    expect(acmeAnswer).not.toContain('Beta lawn mowing');
    expect(betaAnswer).toContain('Beta lawn mowing');
    expect(betaAnswer).not.toContain('Acme hedge trimming');
    const stranger = await command('T0NOBODY', 'jobs');
    expect(stranger).toContain('not linked to a Jobber account');
    expect(stranger).toContain(`${p.ingressUrl}/manage`);
    expect(stranger).not.toContain('hedge');
  });

  it('buttons act only from the alert’s own workspace, and answer there with its token', async () => {
    const alert = messagesWith('Beta lawn mowing')[0]!;
    const key = /"value":"(job-created\/[^"]+)"/.exec(JSON.stringify(alert.blocks))![1]!;
    const click = async (teamId: string, user: string) => {
      const payload = {
        type: 'block_actions',
        team: { id: teamId },
        user: { id: user, team_id: teamId },
        container: { channel_id: alert.channel, message_ts: alert.ts },
        actions: [{ action_id: 'acknowledge', value: key }],
      };
      const body = new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
      const ts = Math.floor(Date.now() / 1000);
      const res = await fetch(`${p.ingressUrl}/slack/interactions`, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'x-slack-request-timestamp': String(ts),
          'x-slack-signature': signSlackRequest(body, ts, SLACK_SIGNING_SECRET),
        },
        body,
      });
      expect(res.status).toBe(200);
    };
    // From the other business's workspace: refused, nothing changes.
    await click('T0ACME', 'U0MALLORY');
    expect((await p.models.Alert.findById(key).lean())!.acknowledgedBy ?? null).toBeNull();
    // From its own workspace: acknowledged, and the message in that workspace shows it.
    await click('T0BETA', 'U0BETAUSER');
    const updated = await waitFor(() => {
      const m = p.slack.standIn.state.messages.find((x) => x.ts === alert.ts && x.team === 'T0BETA');
      return m && JSON.stringify(m.blocks).includes('Acknowledged by <@U0BETAUSER>') ? m : undefined;
    });
    expect(updated.edited?.user).toBe('U0BETABOT');
  });

  it('refuses a forged or replayed state, a code for another app and a channel the bot cannot post to, changing nothing', async () => {
    const { acme, beta } = accounts;
    const before = await p.models.SlackInstallation.findById(acme.id).lean();

    // Replayed: the same callback a second time (its state cookie is spent).
    const back = await consent(acme.jar, 'T0BETA');
    const first = await get(acme.jar, `${back.pathname}${back.search}`);
    expect(first.headers.get('location')).toBe('/manage');
    await p.models.SlackInstallation.replaceOne({ _id: acme.id }, before!);
    const replay = await get(acme.jar, `${back.pathname}${back.search}`);
    expect(replay.status).toBe(400);
    expect(await replay.text()).toContain('no longer valid');

    // Forged: a state started by another account's session, delivered to this one.
    const foreign = await consent(beta.jar, 'T0BETA');
    await get(acme.jar, '/slack/install'); // acme has a state cookie of its own
    const forged = await get(acme.jar, `${foreign.pathname}${foreign.search}`);
    expect(forged.status).toBe(400);

    // A code the stand-in issued to another app: Slack refuses it to ours.
    const other = p.slack.standIn.workspaces.addApp({ appId: 'A0OTHER', clientId: '77.77', clientSecret: 'other', redirectUrls: [p.ingressUrl] });
    const start = new URL((await get(acme.jar, '/slack/install')).headers.get('location')!);
    const code = p.slack.standIn.workspaces.issueCode({
      clientId: other.clientId,
      teamId: 'T0BETA',
      scopes: ['chat:write'],
      userId: 'U0X',
      redirectUri: start.searchParams.get('redirect_uri')!,
    });
    const wrongApp = await get(
      acme.jar,
      `/slack/oauth/callback?code=${encodeURIComponent(code)}&state=${encodeURIComponent(start.searchParams.get('state')!)}`,
    );
    expect(wrongApp.status).toBe(502);
    expect(await wrongApp.text()).toContain('Nothing was changed');

    // A channel not in the workspace's list (another workspace's, or made up).
    for (const channel of ['C0BETAGEN', 'C0NOPE', '#general']) {
      const res = await pickChannel(acme.jar, channel);
      expect(res.status).toBe(400);
    }
    expect(await p.models.SlackInstallation.findById(acme.id).lean()).toEqual(before);
  });

  it('two installs racing for one account leave exactly one installation', async () => {
    const { beta } = accounts;
    const [a, b] = await Promise.all([consent(beta.jar, 'T0BETA'), Promise.resolve(undefined)]);
    expect(b).toBeUndefined();
    const c = await consent(beta.jar, 'T0BETA'); // a second tab: its own state cookie wins the jar
    const results = await Promise.all([get(beta.jar, `${a.pathname}${a.search}`), get(beta.jar, `${c.pathname}${c.search}`)]);
    expect(results.map((r) => r.status).sort()).toEqual([302, 400]);
    expect(await p.models.SlackInstallation.countDocuments({ _id: beta.id })).toBe(1);
    await pickChannel(beta.jar, 'C0BETAGEN');
  });

  it('events need a good, fresh signature; app_uninstalled forgets the tokens, alerts are kept and shown, a reinstall resumes', async () => {
    const { acme, beta } = accounts;
    const url = `${p.ingressUrl}/slack/events`;
    const challenge = await p.slack.standIn.sendEvent('T0ACME', { type: 'app_uninstalled' }, { signingSecret: 'not-the-secret' });
    expect(challenge.status).toBe(401);
    const old = await p.slack.standIn.sendEvent('T0ACME', { type: 'app_uninstalled' }, { timestamp: Math.floor(Date.now() / 1000) - 3600 });
    expect(old.status).toBe(401);
    expect(await p.models.SlackInstallation.findById(acme.id).lean()).toMatchObject({ status: 'active' });
    const body = JSON.stringify({ type: 'url_verification', challenge: 'ch4llenge', token: 'x' });
    const ts = Math.floor(Date.now() / 1000);
    const verify = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-slack-request-timestamp': String(ts),
        'x-slack-signature': signSlackRequest(body, ts, SLACK_SIGNING_SECRET),
      },
      body,
    });
    expect(await verify.json()).toEqual({ challenge: 'ch4llenge' });

    // The user removes the app in Slack: the tokens die there and Slack tells us.
    expect((await p.slack.standIn.uninstallFromSlack('T0ACME'))!.status).toBe(200);
    const gone = await p.models.SlackInstallation.findById(acme.id).lean();
    expect(gone).toMatchObject({ status: 'uninstalled' });
    expect(gone!.botToken).toBeUndefined();

    await newJob(acme.id, 'Acme after uninstall');
    await waitFor(async () => ((await p.models.SlackUndelivered.countDocuments({ accountId: acme.id })) > 0 ? true : undefined));
    expect(messagesWith('Acme after uninstall')).toEqual([]);
    const page = await manage(acme.jar);
    expect(page).toContain('Slack disconnected');
    expect(page).toContain('1 alert not delivered');
    // The other business is untouched.
    await newJob(beta.id, 'Beta still posting');
    await waitFor(() => (messagesWith('Beta still posting').length ? true : undefined));

    // Reinstall: the same channel again, and alerts flow.
    await install(acme.jar, 'T0ACME');
    expect(await manage(acme.jar)).toMatch(/alerts go to <strong id="slack-channel">#alerts<\/strong>/);
    await newJob(acme.id, 'Acme after reinstall');
    const resumed = await waitFor(() => (messagesWith('Acme after reinstall').length ? messagesWith('Acme after reinstall') : undefined));
    expect(resumed.map((m) => m.team)).toEqual(['T0ACME']);
  });

  it('a token Slack refuses marks the installation broken instead of retrying; Disconnect Slack uninstalls and forgets', async () => {
    const { acme } = accounts;
    p.slack.standIn.addFault({ method: 'chat.postMessage', error: 'account_inactive' });
    await newJob(acme.id, 'Acme inactive');
    await waitFor(async () => ((await p.models.SlackInstallation.findById(acme.id).lean())?.status === 'broken' ? true : undefined));
    expect(await manage(acme.jar)).toContain('Slack disconnected');

    await install(acme.jar, 'T0ACME');
    const html = await manage(acme.jar);
    const res = await post(acme.jar, '/slack/disconnect', { csrf: csrfOf(html) });
    expect(res.headers.get('location')).toBe('/manage');
    expect(await p.models.SlackInstallation.findById(acme.id).lean()).toBeNull();
    expect(p.slack.standIn.state.calls.filter((c) => c.method === 'apps.uninstall').at(-1)).toMatchObject({ ok: true });
    expect(await manage(acme.jar)).toContain('Add to Slack');
  });

  it('disconnecting Jobber leaves the Slack installation in place but stops the alerts', async () => {
    const { beta } = accounts;
    const uninstalls = () => p.slack.standIn.state.calls.filter((c) => c.method === 'apps.uninstall').length;
    const before = uninstalls();
    const res = await disconnectFromManagePage(p.ingressUrl, beta.jar.header());
    expect(res.status).toBe(200);
    await waitFor(async () => ((await p.models.Connection.findById(beta.id).lean())?.status === 'disconnected' ? true : undefined));
    expect(await p.models.SlackInstallation.findById(beta.id).lean()).toMatchObject({ status: 'active', teamId: 'T0BETA' });
    expect(uninstalls()).toBe(before);

    const store = p.jobber.sandbox.store;
    const client = store.createClient(beta.id, { companyName: 'After disconnect client' }, { webhook: false });
    const { webhookIds } = p.jobber.sandbox.webhooks.capture(() =>
      store.createJob(beta.id, { clientId: client.id, title: 'Beta after Jobber disconnect', total: 10 }),
    );
    if (webhookIds.length) await p.outcomes(webhookIds).catch(() => undefined);
    expect(messagesWith('Beta after Jobber disconnect')).toEqual([]);
  });
});
