/**
 * Where an account's alerts go: the channel its business picked in its own workspace, else the
 * operator's workspace. A disconnected workspace never falls back to the operator's: those alerts
 * are kept as undelivered and shown on the Manage App page.
 */
import type { WebClient } from '@slack/web-api';
import type { Models } from '../db/models';
import { alertChannelFor, sendAlertOnce, type AlertMessage } from './alerts';
import { DEAD_TOKEN_ERRORS, slackWebClient, type SlackInstallations } from './installations';

export type AlertTarget =
  | {
      client: WebClient;
      channel: string;
      /** Set for the account's own workspace. */
      teamId?: string;
      /**
       * The account's own workspace: Slack refused its token for good. The installation's writer
       * marks it broken, unless a newer token replaced this one meanwhile (then its state is 'active').
       */
      refused?: (slackError: string) => Promise<{ status: string }>;
    }
  | { undelivered: string; teamId?: string };

export type SlackFor = (accountId: string) => Promise<AlertTarget>;

/** The operator's workspace serves accounts without one of their own, when it is configured. */
export function slackForAccounts(
  models: Models,
  installations: Pick<SlackInstallations, 'get' | 'versionedToken' | 'markBroken'>,
  apiUrl: string,
  operator: { botToken?: string; alertChannel?: string },
): SlackFor {
  const operatorClient = operator.botToken ? slackWebClient(apiUrl, operator.botToken) : undefined;
  return async (accountId) => {
    const inst = await installations.get(accountId);
    if (!inst) {
      const connection = await models.Connection.findById(accountId, { slackChannel: 1 }).lean();
      const channel = alertChannelFor(connection, operator.alertChannel ?? '');
      return operatorClient && channel ? { client: operatorClient, channel } : { undelivered: 'no Slack workspace' };
    }
    if (inst.status !== 'active') return { undelivered: 'Slack disconnected', teamId: inst.teamId };
    if (!inst.channel) return { undelivered: 'no Slack channel chosen', teamId: inst.teamId };
    const held = await installations.versionedToken(inst);
    if (!held) return { undelivered: 'Slack disconnected', teamId: inst.teamId };
    const { tokenVersion } = held;
    return {
      client: slackWebClient(apiUrl, held.token),
      channel: inst.channel,
      teamId: inst.teamId,
      refused: (slackError) => installations.markBroken(accountId, tokenVersion, slackError),
    };
  };
}

/**
 * Posts one alert of an account once (sendAlertOnce) with that account's workspace. When the
 * workspace is gone, or Slack refuses its token for good (the installation is marked broken), the
 * alert is kept as undelivered instead of retried for ever. Other errors are thrown for the caller
 * to classify.
 */
export async function sendAccountAlert(
  deps: { models: Models; slackFor: SlackFor },
  /** `channel`: a per-fact channel from the account's alert rules, in the account's workspace. */
  input: { key: string; accountId: string; owner: string; message: AlertMessage; channel?: string },
): Promise<{ sent: boolean; reason?: string }> {
  const target = await deps.slackFor(input.accountId);
  const keep = async (reason: string, teamId?: string) => {
    await deps.models.SlackUndelivered.updateOne(
      { _id: input.key },
      { $setOnInsert: { accountId: input.accountId, teamId, reason, at: new Date(), owner: input.owner } },
      { upsert: true },
    );
    return { sent: false, reason };
  };
  if ('undelivered' in target) return keep(target.undelivered, target.teamId);
  try {
    const result = await sendAlertOnce({ models: deps.models, slack: target.client }, { ...input, channel: input.channel ?? target.channel });
    return { sent: result.sent, reason: result.reason };
  } catch (err) {
    const code = (err as { data?: { error?: string } }).data?.error;
    if (target.refused && code && DEAD_TOKEN_ERRORS.has(code)) {
      // A token replaced meanwhile (a refresh, a reinstall): the caller retries with the new one.
      if ((await target.refused(code)).status === 'active')
        throw new Error(`Slack refused a bot token replaced meanwhile (${code}): try again`, { cause: err });
      return keep('Slack disconnected', target.teamId);
    }
    throw err;
  }
}

/** Deps built without slackFor (older wiring): the operator's client and channel only. */
export function operatorOnly(deps: { models: Models; slack: WebClient; alertChannel: string }): SlackFor {
  return async (accountId) => {
    const connection = await deps.models.Connection.findById(accountId, { slackChannel: 1 }).lean();
    const channel = alertChannelFor(connection, deps.alertChannel);
    return channel ? { client: deps.slack, channel } : { undelivered: 'no Slack workspace' };
  };
}
