import { linkWorkspace } from '../../src/db/slack-links';
import { SLACK_PATHS } from '../../src/ingress/slack-routes';
import { signSlackRequest, verifySlackSignature } from '../../src/slack/verify';
import { commandBody, interactionBody, SIGNING_SECRET, slackPost, startSlackEnv, type SlackEnv } from './helpers';

// Slack's worked example (docs.slack.dev/authentication/verifying-requests-from-slack): pins the
// base string and the encoding to Slack's, not to our own signer.
const DOC = {
  secret: '8f742231b10e8888abcd99yyyzzz85a5',
  timestamp: '1531420618',
  body:
    'token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar' +
    '&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com' +
    '%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c',
  signature: 'v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503',
};

describe('Slack request signatures', () => {
  it("accepts Slack's documented example and refuses it once tampered with", () => {
    const at = new Date(Number(DOC.timestamp) * 1000);
    const check = (body: string, signature = DOC.signature) =>
      verifySlackSignature({ rawBody: Buffer.from(body), timestamp: DOC.timestamp, signature, signingSecret: DOC.secret, now: at });
    expect(signSlackRequest(DOC.body, DOC.timestamp, DOC.secret)).toBe(DOC.signature);
    expect(check(DOC.body)).toBeUndefined();
    expect(check(DOC.body.replace('roadrunner', 'coyote'))).toBe('mismatch');
    expect(check(DOC.body, DOC.signature.toUpperCase())).toBe('malformed');
  });

  describe('over HTTP', () => {
    let env: SlackEnv;
    const TEAM = 'T0SIGNED';
    const ACCOUNT = 'acct-signed';

    beforeAll(async () => {
      env = await startSlackEnv('slack_signature');
      await env.models.Connection.create({ _id: ACCOUNT, name: 'Signed Gardens', status: 'connected' });
      await linkWorkspace(env.models.SlackLink, TEAM, ACCOUNT);
      await env.models.Alert.create({
        _id: 'job-created/job-signed',
        accountId: ACCOUNT,
        status: 'sent',
        owner: 'test',
        claimedAt: new Date(),
        channel: 'C0ALERTS',
        ts: '1.000001',
      });
    });
    afterAll(() => env.close());
    beforeEach(() => env.slack.standIn.reset());

    const sync = commandBody(TEAM, 'sync');
    const click = interactionBody({
      type: 'block_actions',
      team: { id: TEAM },
      user: { id: 'U0ALICE', team_id: TEAM },
      container: { type: 'message', channel_id: 'C0ALERTS', message_ts: '1.000001' },
      actions: [{ action_id: 'acknowledge', value: 'job-created/job-signed' }],
    });
    const sixMinutesAgo = () => Math.floor(Date.now() / 1000) - 6 * 60;
    const sixMinutesAhead = () => Math.floor(Date.now() / 1000) + 6 * 60;

    it.each([
      ['missing', { signature: null }],
      ['signed with another secret', { secret: 'not-the-signing-secret' }],
      ['of the wrong length', { signature: 'v0=abcd' }],
      ['without the v0= prefix', { signature: signSlackRequest(sync, Math.floor(Date.now() / 1000), SIGNING_SECRET).slice(3) }],
    ])('refuses a command whose signature is %s with 401, and does nothing', async (_what, options) => {
      const { app, syncs, lines } = env.app();
      const res = await slackPost(app, SLACK_PATHS.commands, sync, options);
      expect(res.status).toBe(401);
      expect(res.body).toMatchObject({ error: 'invalid signature' });
      expect(syncs).toEqual([]);
      expect(lines.join('\n')).toMatch(/slack request rejected: bad signature/);
      // The log says why, never the body (it may carry names).
      expect(lines.join('\n')).not.toContain('U0ALICE');
    });

    it.each([
      ['six minutes old (a replay)', sixMinutesAgo],
      ['six minutes in the future', sixMinutesAhead],
    ])('refuses a correctly signed command %s', async (_what, at) => {
      const { app, syncs } = env.app();
      const res = await slackPost(app, SLACK_PATHS.commands, sync, { timestamp: at() });
      expect(res.status).toBe(401);
      expect(syncs).toEqual([]);
    });

    it('refuses a missing timestamp', async () => {
      const { app, syncs } = env.app();
      const res = await slackPost(app, SLACK_PATHS.commands, sync).unset('X-Slack-Request-Timestamp');
      expect(res.status).toBe(401);
      expect(syncs).toEqual([]);
    });

    it('runs a correctly signed command', async () => {
      const { app, syncs } = env.app();
      const res = await slackPost(app, SLACK_PATHS.commands, sync);
      expect(res.status).toBe(200);
      expect(res.body.response_type).toBe('ephemeral');
      expect(syncs).toEqual([ACCOUNT]);
    });

    it('refuses an unsigned or stale click without touching the alert or Slack', async () => {
      const { app, router } = env.app();
      const unsigned = await slackPost(app, SLACK_PATHS.interactions, click, { signature: null });
      const stale = await slackPost(app, SLACK_PATHS.interactions, click, { timestamp: sixMinutesAgo() });
      const forged = await slackPost(app, SLACK_PATHS.interactions, click, { secret: 'guessed' });
      expect([unsigned.status, stale.status, forged.status]).toEqual([401, 401, 401]);
      await router.drain();
      expect((await env.models.Alert.findById('job-created/job-signed').lean())?.acknowledgedBy ?? null).toBeNull();
      expect(env.slack.standIn.state.calls).toEqual([]);
    });

    it('refuses a body over the size cap with 413 before looking at it', async () => {
      const { app, syncs } = env.app();
      const huge = commandBody(TEAM, `sync ${'x'.repeat(20_000)}`);
      const res = await slackPost(app, SLACK_PATHS.commands, huge);
      expect(res.status).toBe(413);
      expect(syncs).toEqual([]);
    });
  });
});
