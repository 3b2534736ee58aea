import type mongoose from 'mongoose';
import { ApplicationFailure } from '@temporalio/activity';
import { createModels, type Models } from '../../src/db/models';
import { alertChannelFor, AlertInFlightError, ALERT_CLAIM_STALE_MS, sendAlertOnce, type AlertMessage } from '../../src/slack/alerts';
import { createSlackClient } from '../../src/services';
import { startSlackStandIn, type StartedSlackStandIn } from '../../src/sandbox/slack';
import { slackFailure } from '../../activities/failures';
import { SEND_ALERT_RETRY } from '../../workflows/definitions';
import { connectMongo } from '../helpers/env';

const CHANNEL = 'C0ALERTS';
const message: AlertMessage = { text: 'Invoice #7 paid', blocks: [{ type: 'section', text: { type: 'mrkdwn', text: '*Invoice #7 paid*' } }] };

/** The alert messages for `key` in the stand-in's channel. */
const postedFor = (slack: StartedSlackStandIn, key: string) =>
  slack.standIn.state.messages.filter((m) => m.channel === CHANNEL && (m.metadata?.event_payload as { alert_key?: string } | undefined)?.alert_key === key);

describe('Slack alerts go out once', () => {
  let mongo: mongoose.Connection;
  let models: Models;
  let slack: StartedSlackStandIn;

  beforeAll(async () => {
    mongo = await connectMongo('alerts');
    models = await createModels(mongo);
    slack = await startSlackStandIn();
  });
  afterAll(async () => {
    await slack?.close();
    await mongo?.dropDatabase();
    await mongo?.close();
  });

  // The worker's own client, as src/services.ts builds it.
  const client = () => createSlackClient({ slack: { botToken: slack.standIn.botToken, signingSecret: 's', apiUrl: slack.url, alertChannel: CHANNEL } });

  /** What the activity does: sendAlertOnce, retried (as Temporal would) while it throws. */
  const sendWithRetries = async (key: string, owner: string, attempts = 3) => {
    const errors: string[] = [];
    for (let i = 0; i < attempts; i++) {
      try {
        return { result: await sendAlertOnce({ models, slack: client() }, { key, accountId: 'acct', channel: CHANNEL, owner, message }), errors };
      } catch (err) {
        errors.push((err as Error).message);
      }
    }
    throw new Error(`still failing: ${errors.join('; ')}`);
  };

  it('a post Slack took but answered with a 5xx is not posted again', async () => {
    slack.standIn.addFault({ method: 'chat.postMessage', applied: true, status: 503 });
    const { result, errors } = await sendWithRetries('invoice-paid/i-503', 'wf-1');
    expect(postedFor(slack, 'invoice-paid/i-503')).toHaveLength(1);
    expect(errors).toHaveLength(1);
    expect(result).toMatchObject({ sent: false, reason: 'found in channel history' });
  });

  it('a post Slack took but answered after the client gave up is not posted again', async () => {
    // Longer than the client's 10 s timeout.
    slack.standIn.addFault({ method: 'chat.postMessage', applied: true, delayMs: 11_000 });
    const { result, errors } = await sendWithRetries('invoice-paid/i-slow', 'wf-2');
    expect(postedFor(slack, 'invoice-paid/i-slow')).toHaveLength(1);
    expect(errors).toHaveLength(1);
    expect(result.sent).toBe(false);
  }, 60_000);

  it('finds its posted alert behind more than a page of newer messages', async () => {
    const key = 'invoice-paid/i-busy';
    // An attempt claimed the alert and posted it, then died before recording it.
    await models.Alert.create({ _id: key, accountId: 'acct', status: 'pending', owner: 'wf-3', claimedAt: new Date() });
    const web = client();
    await web.chat.postMessage({ channel: CHANNEL, text: message.text, metadata: { event_type: 'jobber_alert', event_payload: { alert_key: key } } });
    // A busy channel: 250 messages after ours before the activity's retry looks.
    for (let i = 0; i < 250; i++) await web.chat.postMessage({ channel: CHANNEL, text: `chatter ${i}` });
    const result = await sendAlertOnce({ models, slack: web }, { key, accountId: 'acct', channel: CHANNEL, owner: 'wf-3', message });
    expect(result).toMatchObject({ sent: false, reason: 'found in channel history' });
    expect(postedFor(slack, key)).toHaveLength(1);
  }, 60_000);

  it('a second claimant keeps waiting until a dead owner\u2019s claim can be taken over, then posts once', async () => {
    const key = 'invoice-paid/i-dead-owner';
    const claimedAt = new Date(Date.now() - 1_000);
    await models.Alert.create({ _id: key, accountId: 'acct', status: 'pending', owner: 'wf-dead', claimedAt });
    // The activity's retries as Temporal schedules them: the failure's nextRetryDelay each time.
    let at = Date.now();
    let result: Awaited<ReturnType<typeof sendAlertOnce>> | undefined;
    for (let attempt = 1; attempt <= SEND_ALERT_RETRY.maximumAttempts && !result; attempt++) {
      try {
        result = await sendAlertOnce(
          { models, slack: client() },
          { key, accountId: 'acct', channel: CHANNEL, owner: 'wf-second', message },
          () => new Date(at),
        );
      } catch (err) {
        expect(err).toBeInstanceOf(AlertInFlightError);
        const failure = slackFailure(err) as ApplicationFailure;
        at += Number(failure.nextRetryDelay);
      }
    }
    expect(result).toMatchObject({ sent: true });
    expect(at - claimedAt.getTime()).toBeGreaterThanOrEqual(ALERT_CLAIM_STALE_MS);
    expect(postedFor(slack, key)).toHaveLength(1);
  });
});

describe('where alerts go', () => {
  it("goes to the account's own Slack channel when it has one, else to the operators' default", () => {
    expect(alertChannelFor({ slackChannel: 'C0OWN' }, 'C0DEFAULT')).toBe('C0OWN');
    expect(alertChannelFor({ slackChannel: '' }, 'C0DEFAULT')).toBe('C0DEFAULT');
    expect(alertChannelFor({ slackChannel: null }, 'C0DEFAULT')).toBe('C0DEFAULT');
    expect(alertChannelFor({}, 'C0DEFAULT')).toBe('C0DEFAULT');
    expect(alertChannelFor(null, 'C0DEFAULT')).toBe('C0DEFAULT');
  });
});
