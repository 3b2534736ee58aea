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
