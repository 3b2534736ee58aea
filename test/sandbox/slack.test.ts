import { ErrorCode, LogLevel, WebClient, WebClientEvent, retryPolicies, type WebAPIPlatformError, type WebAPIRateLimitedError } from '@slack/web-api';
import { startSlackStandIn, type StartedSlackStandIn } from '../../src/sandbox/slack';
import { admin } from './helpers';

const TOKEN = 'xoxb-sandbox';

describe('Slack stand-in with the real @slack/web-api WebClient', () => {
  let slack: StartedSlackStandIn;
  let origin: string;
  let web: WebClient;

  beforeAll(async () => {
    slack = await startSlackStandIn();
    origin = slack.url.replace(/\/api\/$/, '');
    web = new WebClient(TOKEN, { slackApiUrl: slack.url, retryConfig: retryPolicies.rapidRetryPolicy, logLevel: LogLevel.ERROR });
  });
  afterAll(() => slack.close());
  beforeEach(() => slack.standIn.reset());

  it('auth.test identifies the bot', async () => {
    const res = await web.auth.test();
    expect(res).toMatchObject({ ok: true, team_id: 'T0SANDBOX', user_id: 'U0SANDBOXBOT', bot_id: 'B0SANDBOX' });
  });

  it('rejects a wrong token with invalid_auth and a missing one with not_authed, as Slack does', async () => {
    const wrong = new WebClient('xoxb-wrong', { slackApiUrl: slack.url, retryConfig: { retries: 0 }, logLevel: LogLevel.ERROR });
    await expect(wrong.auth.test()).rejects.toMatchObject({ code: ErrorCode.PlatformError, data: { ok: false, error: 'invalid_auth' } });
    const res = await fetch(`${slack.url}auth.test`, { method: 'POST' });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: false, error: 'not_authed' });
  });

  it('answers unknown methods with unknown_method', async () => {
    await expect(web.apiCall('chat.teleport', { channel: 'C1' })).rejects.toMatchObject({ data: { error: 'unknown_method' } });
  });

  it('posts, updates and lists messages newest first, with metadata only when asked', async () => {
    const metadata = { event_type: 'jobber_alert', event_payload: { alertKey: 'acct-1:disconnected' } };
    const first = await web.chat.postMessage({ channel: 'C0ALERTS', text: 'first', metadata });
    const second = await web.chat.postMessage({
      channel: 'C0ALERTS',
      text: 'second',
      blocks: [{ type: 'section', text: { type: 'mrkdwn', text: '*second*' } }],
    });
    expect(first).toMatchObject({ ok: true, channel: 'C0ALERTS', message: { text: 'first', metadata } });
    expect(Number(second.ts)).toBeGreaterThan(Number(first.ts));

    const updated = await web.chat.update({ channel: 'C0ALERTS', ts: first.ts!, text: 'first (resolved)' });
    expect(updated).toMatchObject({ ok: true, ts: first.ts, text: 'first (resolved)' });

    const history = await web.conversations.history({ channel: 'C0ALERTS', limit: 10, include_all_metadata: true });
    expect(history.messages?.map((m) => m.text)).toEqual(['second', 'first (resolved)']);
    expect(history.messages?.[1]).toMatchObject({ metadata, edited: { user: 'U0SANDBOXBOT' } });
    expect(history.messages?.[0]?.blocks).toHaveLength(1);

    const plain = await web.conversations.history({ channel: 'C0ALERTS' });
    expect(plain.messages?.[1]?.metadata).toBeUndefined();
    const older = await web.conversations.history({ channel: 'C0ALERTS', oldest: first.ts });
    expect(older.messages?.map((m) => m.ts)).toEqual([second.ts]);
  });

  it('chat.update of an unknown message fails with message_not_found', async () => {
    await expect(web.chat.update({ channel: 'C0ALERTS', ts: '1.000001', text: 'x' })).rejects.toMatchObject({
      data: { error: 'message_not_found' },
    });
  });

  it('chat.postEphemeral and users.info', async () => {
    const eph = await web.chat.postEphemeral({ channel: 'C0ALERTS', user: 'U123ABC', text: 'only you' });
    expect(eph.ok).toBe(true);
    expect((await web.conversations.history({ channel: 'C0ALERTS' })).messages).toEqual([]);
    const user = await web.users.info({ user: 'U123ABC' });
    expect(user.user).toMatchObject({ id: 'U123ABC', is_bot: false });
  });

  it('keeps what it received for tests (GET /admin/messages), without tokens', async () => {
    await web.chat.postMessage({ channel: '#alerts', text: 'by name' });
    const { body } = await admin<{ messages: { channel: string; channelName?: string; text: string }[] }>(origin, 'GET', '/admin/messages');
    expect(body.messages).toEqual([expect.objectContaining({ channel: expect.stringMatching(/^C/), channelName: 'alerts', text: 'by name' })]);
    const calls = await admin<unknown[]>(origin, 'GET', '/admin/calls');
    expect(JSON.stringify(calls.body)).not.toContain(TOKEN);
    await admin(origin, 'DELETE', '/admin/messages');
    expect((await admin<{ messages: unknown[] }>(origin, 'GET', '/admin/messages')).body.messages).toEqual([]);
  });

  it('injected errors come back as { ok: false, error }', async () => {
    await admin(origin, 'POST', '/admin/faults', { method: 'chat.postMessage', error: 'channel_not_found' });
    const err = (await web.chat.postMessage({ channel: 'C0GONE', text: 'x' }).catch((e: unknown) => e)) as WebAPIPlatformError;
    expect(err.code).toBe(ErrorCode.PlatformError);
    expect(err.data.error).toBe('channel_not_found');
    expect((await web.chat.postMessage({ channel: 'C0GONE', text: 'x' })).ok).toBe(true);
  });

  it('rate limits are HTTP 429 with Retry-After, which WebClient waits out and retries', async () => {
    await admin(origin, 'POST', '/admin/faults', { method: 'chat.postMessage', rateLimited: { retryAfterSeconds: 0, times: 2 } });
    const limited: number[] = [];
    web.on(WebClientEvent.RATE_LIMITED, (seconds: number) => limited.push(seconds));
    const res = await web.chat.postMessage({ channel: 'C0ALERTS', text: 'eventually' });
    web.removeAllListeners(WebClientEvent.RATE_LIMITED);
    expect(res.ok).toBe(true);
    expect(limited).toEqual([0, 0]);
    const calls = slack.standIn.state.calls.filter((c) => c.method === 'chat.postMessage').map((c) => c.status);
    expect(calls).toEqual([429, 429, 200]);
  });

  it('a client that rejects rate-limited calls sees the Retry-After value', async () => {
    const strict = new WebClient(TOKEN, {
      slackApiUrl: slack.url,
      rejectRateLimitedCalls: true,
      retryConfig: { retries: 0 },
      logLevel: LogLevel.ERROR,
    });
    await admin(origin, 'POST', '/admin/faults', { rateLimited: { retryAfterSeconds: 30 } });
    const err = (await strict.chat.postMessage({ channel: 'C0ALERTS', text: 'x' }).catch((e: unknown) => e)) as WebAPIRateLimitedError;
    expect(err.code).toBe(ErrorCode.RateLimitedError);
    expect(err.retryAfter).toBe(30);
  });
});

describe('Slack stand-in: OAuth v2 install, workspaces, uninstall and Events API callbacks', () => {
  const REDIRECT = 'https://jobber-sync.example/slack/oauth/callback';
  let slack: StartedSlackStandIn;
  let origin: string;
  let events: { headers: Record<string, string>; body: string }[];
  let eventsServer: import('node:http').Server;

  beforeAll(async () => {
    slack = await startSlackStandIn({ app: { redirectUrls: [REDIRECT] } });
    origin = slack.url.replace(/\/api\/$/, '');
    slack.standIn.addTeam({
      id: 'T0ACME',
      name: 'Acme Lawns',
      channels: [
        { id: 'C0ACMEGEN', name: 'general' },
        { id: 'C0ACMEOPS', name: 'ops', isPrivate: true, botIsMember: true },
        { id: 'C0ACMESECRET', name: 'secret', isPrivate: true },
        { id: 'C0ACMEOLD', name: 'old', isArchived: true },
      ],
    });
    slack.standIn.addTeam({ id: 'T0BETA', name: 'Beta Gardens' });
    events = [];
    const http = await import('node:http');
    eventsServer = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        events.push({ headers: req.headers as Record<string, string>, body });
        res.end('ok');
      });
    });
    await new Promise<void>((r) => eventsServer.listen(0, '127.0.0.1', r));
    slack.standIn.setEventsUrl(`http://127.0.0.1:${(eventsServer.address() as import('node:net').AddressInfo).port}/slack/events`);
  });
  afterAll(async () => {
    await slack.close();
    await new Promise((r) => eventsServer.close(r));
  });

  const app = () => slack.standIn.slackApp;
  const form = (fields: Record<string, string>) => ({
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields).toString(),
    redirect: 'manual' as const,
  });
  /** The user opens the consent page and clicks Allow (or Cancel) for `team`. */
  const consent = async (team: string, decision = 'allow', overrides: Record<string, string> = {}) => {
    const params = { client_id: app().clientId, scope: 'chat:write,chat:write.public,commands', redirect_uri: REDIRECT, state: 'st4te', ...overrides };
    const page = await fetch(`${origin}/oauth/v2/authorize?${new URLSearchParams(params)}`);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('Allow');
    expect(html).toContain('Acme Lawns');
    const res = await fetch(`${origin}/oauth/v2/authorize`, form({ ...params, team, decision }));
    expect(res.status).toBe(302);
    return new URL(res.headers.get('location')!);
  };
  const access = async (fields: Record<string, string>) =>
    (await fetch(`${slack.url}oauth.v2.access`, form(fields))).json() as Promise<Record<string, unknown>>;
  const install = async (team: string) => {
    const back = await consent(team);
    return access({ client_id: app().clientId, client_secret: app().clientSecret, code: back.searchParams.get('code')!, redirect_uri: REDIRECT });
  };
  const client = (token: string) => new WebClient(token, { slackApiUrl: slack.url, retryConfig: { retries: 0 }, logLevel: LogLevel.ERROR });

  it('the consent page redirects to the redirect_uri with a code and the state; Cancel gives access_denied', async () => {
    const back = await consent('T0ACME');
    expect(back.origin + back.pathname).toBe(REDIRECT);
    expect(back.searchParams.get('state')).toBe('st4te');
    expect(back.searchParams.get('code')).toBeTruthy();
    const denied = await consent('T0ACME', 'deny');
    expect(denied.searchParams.get('error')).toBe('access_denied');
    expect(denied.searchParams.get('code')).toBeNull();
  });

  it('refuses an authorize link for an unknown app or a redirect_uri the app did not set up', async () => {
    const bad = await fetch(`${origin}/oauth/v2/authorize?${new URLSearchParams({ client_id: 'nope', scope: 'chat:write', redirect_uri: REDIRECT })}`);
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain('invalid_client_id');
    const elsewhere = await fetch(
      `${origin}/oauth/v2/authorize?${new URLSearchParams({ client_id: app().clientId, scope: 'chat:write', redirect_uri: 'https://evil.example/cb' })}`,
    );
    expect(elsewhere.status).toBe(400);
    expect(await elsewhere.text()).toContain('bad_redirect_uri');
  });

  it('oauth.v2.access: checks the client, then a single-use code bound to its app and redirect_uri', async () => {
    const code = () => consent('T0ACME').then((u) => u.searchParams.get('code')!);
    const c1 = await code();
    expect(await access({ client_id: 'nope', client_secret: app().clientSecret, code: c1, redirect_uri: REDIRECT })).toEqual({
      ok: false,
      error: 'invalid_client_id',
    });
    expect(await access({ client_id: app().clientId, client_secret: 'wrong', code: c1, redirect_uri: REDIRECT })).toEqual({
      ok: false,
      error: 'bad_client_secret',
    });
    expect(await access({ client_id: app().clientId, client_secret: app().clientSecret, code: c1, redirect_uri: `${REDIRECT}x` })).toEqual({
      ok: false,
      error: 'bad_redirect_uri',
    });
    const granted = await access({ client_id: app().clientId, client_secret: app().clientSecret, code: c1, redirect_uri: REDIRECT });
    expect(granted).toMatchObject({
      ok: true,
      token_type: 'bot',
      team: { id: 'T0ACME', name: 'Acme Lawns' },
      bot_user_id: 'U0ACMEBOT',
      access_token: expect.stringMatching(/^xoxb-/),
    });
    expect(granted.refresh_token).toBeUndefined();
    // Used once: a replay is refused.
    expect(await access({ client_id: app().clientId, client_secret: app().clientSecret, code: c1, redirect_uri: REDIRECT })).toEqual({
      ok: false,
      error: 'invalid_code',
    });
    // A code for another app is refused to this one, and the other app's own credentials do not take this app's code.
    const other = slack.standIn.workspaces.addApp({ appId: 'A0OTHER', clientId: '9.9', clientSecret: 'other-secret', redirectUrls: [REDIRECT] });
    const c2 = await code();
    expect(await access({ client_id: other.clientId, client_secret: other.clientSecret, code: c2, redirect_uri: REDIRECT })).toEqual({
      ok: false,
      error: 'invalid_code',
    });
    expect(JSON.stringify(slack.standIn.state.calls)).not.toContain(c1);
    expect(JSON.stringify(slack.standIn.state.calls)).not.toContain(app().clientSecret);
  });

  it('tokens are per workspace: a token for one team is refused in another, and sees only its own channels', async () => {
    const acme = await install('T0ACME');
    const beta = await install('T0BETA');
    const acmeWeb = client(acme.access_token as string);
    expect(await acmeWeb.auth.test()).toMatchObject({ team_id: 'T0ACME', user_id: 'U0ACMEBOT' });
    await expect(acmeWeb.apiCall('auth.test', { team_id: 'T0BETA' })).rejects.toMatchObject({ data: { error: 'invalid_auth' } });
    await expect(acmeWeb.chat.postMessage({ channel: 'C0BETAALR', text: 'wrong workspace' })).rejects.toMatchObject({ data: { error: 'channel_not_found' } });
    await expect(acmeWeb.chat.postMessage({ channel: 'C0ACMESECRET', text: 'not invited' })).rejects.toMatchObject({ data: { error: 'channel_not_found' } });
    await expect(acmeWeb.chat.postMessage({ channel: 'C0ACMEOLD', text: 'archived' })).rejects.toMatchObject({ data: { error: 'is_archived' } });
    const posted = await client(beta.access_token as string).chat.postMessage({ channel: 'C0BETAALR', text: 'in beta' });
    expect(slack.standIn.state.messages.find((m) => m.ts === posted.ts)).toMatchObject({ team: 'T0BETA', channel: 'C0BETAALR', bot_id: 'B0BETA' });

    // Without chat:write.public the bot posts only where it was invited.
    const narrow = await consent('T0ACME', 'allow', { scope: 'chat:write' });
    const invitedOnly = await access({
      client_id: app().clientId,
      client_secret: app().clientSecret,
      code: narrow.searchParams.get('code')!,
      redirect_uri: REDIRECT,
    });
    await expect(client(invitedOnly.access_token as string).chat.postMessage({ channel: 'C0ACMEGEN', text: 'x' })).rejects.toMatchObject({
      data: { error: 'not_in_channel' },
    });
    expect((await client(invitedOnly.access_token as string).chat.postMessage({ channel: 'C0ACMEOPS', text: 'x' })).ok).toBe(true);

    const list = await acmeWeb.conversations.list({ types: 'public_channel,private_channel', exclude_archived: true });
    expect(list.channels?.map((c) => c.id)).toEqual(['C0ACMEGEN', 'C0ACMEOPS']);
    const paged = await acmeWeb.conversations.list({ limit: 1 });
    expect(paged.channels?.map((c) => c.name)).toEqual(['general']);
    expect(paged.response_metadata?.next_cursor).toBeTruthy();
  });

  it('with token rotation: an expiring token and a single-use refresh token', async () => {
    const rotating = await startSlackStandIn({ app: { redirectUrls: [REDIRECT], tokenRotation: true } });
    try {
      rotating.standIn.addTeam({ id: 'T0ROT', name: 'Rotating' });
      const ra = rotating.standIn.slackApp;
      const o = rotating.url.replace(/\/api\/$/, '');
      const params = { client_id: ra.clientId, scope: 'chat:write', redirect_uri: REDIRECT, team: 'T0ROT', decision: 'allow' };
      const back = new URL((await fetch(`${o}/oauth/v2/authorize`, form(params))).headers.get('location')!);
      const post = async (fields: Record<string, string>) =>
        (await fetch(`${rotating.url}oauth.v2.access`, form(fields))).json() as Promise<Record<string, unknown>>;
      const granted = await post({ client_id: ra.clientId, client_secret: ra.clientSecret, code: back.searchParams.get('code')!, redirect_uri: REDIRECT });
      expect(granted).toMatchObject({
        ok: true,
        expires_in: 43200,
        refresh_token: expect.stringMatching(/^xoxe-1-/),
        access_token: expect.stringMatching(/^xoxe\.xoxb-/),
      });
      const refreshed = await post({
        client_id: ra.clientId,
        client_secret: ra.clientSecret,
        grant_type: 'refresh_token',
        refresh_token: granted.refresh_token as string,
      });
      expect(refreshed).toMatchObject({ ok: true, team: { id: 'T0ROT' }, expires_in: 43200 });
      expect(
        await post({ client_id: ra.clientId, client_secret: ra.clientSecret, grant_type: 'refresh_token', refresh_token: granted.refresh_token as string }),
      ).toEqual({
        ok: false,
        error: 'invalid_refresh_token',
      });
    } finally {
      await rotating.close();
    }
  });

  it('apps.uninstall needs the app credentials, revokes the workspace tokens and sends a signed app_uninstalled', async () => {
    const acme = await install('T0ACME');
    const token = acme.access_token as string;
    const web = client(token);
    await expect(web.apiCall('apps.uninstall', { client_id: app().clientId, client_secret: 'wrong' })).rejects.toMatchObject({
      data: { error: 'bad_client_secret' },
    });
    events.length = 0;
    expect(await web.apiCall('apps.uninstall', { client_id: app().clientId, client_secret: app().clientSecret })).toMatchObject({ ok: true });
    await expect(web.auth.test()).rejects.toMatchObject({ data: { error: 'token_revoked' } });
    // The other workspace's install is untouched.
    const beta = await install('T0BETA');
    expect((await client(beta.access_token as string).auth.test()).ok).toBe(true);

    const deadline = Date.now() + 10_000;
    while (events.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const [delivered] = events;
    const body = JSON.parse(delivered!.body) as { type: string; team_id: string; event: { type: string } };
    expect(body).toMatchObject({ type: 'event_callback', team_id: 'T0ACME', event: { type: 'app_uninstalled' } });
    const { signSlackRequest } = await import('../../src/slack/verify');
    expect(delivered!.headers['x-slack-signature']).toBe(
      signSlackRequest(delivered!.body, delivered!.headers['x-slack-request-timestamp']!, slack.standIn.signingSecret),
    );
  });

  it('tokens_revoked names the bot user, and the tokens stop working', async () => {
    const beta = await install('T0BETA');
    events.length = 0;
    const delivery = await slack.standIn.revokeTokens('T0BETA');
    expect(delivery).toMatchObject({ type: 'tokens_revoked', status: 200 });
    expect(JSON.parse(events[0]!.body)).toMatchObject({ event: { type: 'tokens_revoked', tokens: { bot: ['U0BETABOT'] } } });
    await expect(client(beta.access_token as string).auth.test()).rejects.toMatchObject({ data: { error: 'token_revoked' } });
  });
});
