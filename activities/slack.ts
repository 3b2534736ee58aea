import { log } from '@temporalio/activity';
import type { KnownBlock } from '@slack/types';
import type { Models } from '../src/db/models';
import { factByName } from '../src/records';
import * as alerts from '../src/slack/alerts';
import { AlertInFlightError, type AlertMessage } from '../src/slack/alerts';
import { sendAccountAlert, slackForAccounts } from '../src/slack/alert-targets';
import { alertRuleFor, recordTurnedOff } from '../src/slack/alert-rules';
import type { InstallationStore, SlackRevocation } from '../src/slack/installations';
import type { SlackInstallationInfo } from '../workflows/definitions';
import { slackFailure } from './failures';

export interface SlackInstallationDeps {
  models: Models;
  /** The installations' write side: only these activities (the installation workflow's) use it. */
  slackStore?: InstallationStore;
}

/** Kept alerts posted per activity attempt at most for this long: the rest go in the next round. */
const DELIVERY_BUDGET_MS = 60_000;

/** A kept alert says so when it is posted late: since when it waited. */
export function heldNote(message: AlertMessage, keptAt: Date): AlertMessage {
  const at = Math.floor(keptAt.getTime() / 1000);
  const note: KnownBlock = {
    type: 'context',
    elements: [{ type: 'mrkdwn', text: `Held while Slack was disconnected, since <!date^${at}^{date_short_pretty} {time}|${keptAt.toISOString()}>` }],
  };
  const [first, ...rest] = message.blocks;
  return { text: message.text, blocks: first ? [first, note, ...rest] : [note] };
}

/**
 * The Slack installation workflow's activities (workflows/slack-installation.ts): the only code
 * that writes `slack_installations`. Each takes and returns ids, versions and states only.
 */
export function createSlackInstallationActivities(deps: SlackInstallationDeps) {
  const store = (): InstallationStore => {
    if (!deps.slackStore) throw new Error('Slack installations are not configured in this worker');
    return deps.slackStore;
  };
  return {
    async adoptSlackGrant(input: { accountId: string; grantId: string }): Promise<{ installed: boolean; info: SlackInstallationInfo }> {
      return store().adoptGrant(input.accountId, input.grantId);
    },

    async chooseSlackChannel(input: { accountId: string; channelId: string }): Promise<{ chosen: boolean; info: SlackInstallationInfo }> {
      return store().chooseChannel(input.accountId, input.channelId);
    },

    async refreshSlackToken(input: { accountId: string; staleVersion: number }): Promise<SlackInstallationInfo> {
      return store().refresh(input.accountId, input.staleVersion);
    },

    async markSlackRefused(input: { accountId: string; tokenVersion: number; slackError: string }): Promise<SlackInstallationInfo> {
      return store().markBroken(input.accountId, input.tokenVersion, input.slackError);
    },

    async forgetSlackInstallation(input: { accountId: string; teamId: string; event: SlackRevocation }): Promise<SlackInstallationInfo> {
      return store().forget(input.accountId, input.teamId, input.event);
    },

    async disconnectSlack(input: { accountId: string }): Promise<SlackInstallationInfo> {
      return store().disconnect(input.accountId);
    },

    /**
     * Posts the alerts kept while the account's Slack was disconnected (or had no channel), oldest
     * first, each once (its alert key), with a note of since when it waited; a posted one is no
     * longer kept. Stops when Slack is unusable again. Returns how many are left for another round.
     */
    async deliverKeptAlerts(input: { accountId: string }): Promise<{ delivered: number; remaining: number }> {
      const { models } = deps;
      const { accountId } = input;
      // This activity runs inside the installation workflow, the one writer: a token refresh here is its own.
      const slackFor = slackForAccounts(models, store().asWriterReader(), store().apiUrl, {});
      const kept = await models.SlackUndelivered.find({ accountId }).sort({ at: 1 }).lean();
      const started = Date.now();
      let delivered = 0;
      let remaining = kept.length;
      for (const row of kept) {
        if (Date.now() - started > DELIVERY_BUDGET_MS) break;
        remaining--;
        const key = row._id;
        const slash = key.indexOf('/');
        const fact = key.slice(0, slash);
        const itemId = key.slice(slash + 1);
        const forget = () => models.SlackUndelivered.deleteOne({ _id: key });
        const declared = slash > 0 ? factByName(fact) : undefined;
        const found = declared?.fact.message ? await declared.fact.message({ models, alerts }, itemId) : undefined;
        if (!found) {
          // No message to build any more (the record is gone): nothing to post.
          await forget();
          continue;
        }
        const owner = row.owner ?? `kept/${key}`;
        const rule = await alertRuleFor(models, accountId, fact);
        if (!rule.on && (await recordTurnedOff(models, { key, accountId, owner, fact }))) {
          await forget();
          continue;
        }
        let result;
        try {
          result = await sendAccountAlert({ models, slackFor }, { key, accountId, owner, channel: rule.channel, message: heldNote(found.message, row.at) });
        } catch (err) {
          if (err instanceof AlertInFlightError) continue; // another claimant is posting it now
          throw slackFailure(err);
        }
        const alert = await models.Alert.findById(key, { status: 1 }).lean();
        if (alert?.status === 'sent' || alert?.status === 'off') {
          await forget();
          if (result.sent) delivered++;
          continue;
        }
        // Slack is unusable again: the rest stay kept.
        log.info('kept alerts wait for Slack again', { accountId, reason: result.reason });
        return { delivered, remaining: 0 };
      }
      return { delivered, remaining };
    },
  };
}
