import type { WebClient } from '@slack/web-api';
import type { KnownBlock } from '@slack/types';
import type { Models } from '../db/models';
import { linkedAccounts } from '../db/slack-links';
import type { Logger } from '../logger';
import type { RecordKind } from '../../workflows/definitions';
import * as alerts from './alerts';
import type { AlertMessage } from './alerts';
import { factByName, type FactName } from '../records';
import { context, escapeMrkdwn, slackDate } from './format';
import { LINK_COMMAND } from './commands/help';
import { claimAcknowledgement } from './acknowledgements';
import { ACTION_IDS, actionIdOf } from './buttons';

/** A claim this old whose alert still says nobody acknowledged it was left by a crashed request. */
const ACKNOWLEDGEMENT_CLAIM_STALE_MS = 60_000;

/** Fetches one record from Jobber and upserts it (the worker's fetch + upsertRecord). */
export type RefreshRecord = (accountId: string, kind: RecordKind, itemId: string) => Promise<void>;

/** The parts of Slack's `block_actions` payload we read. */
export interface BlockActionsPayload {
  type: 'block_actions';
  team?: { id?: string } | null;
  user: { id: string; team_id?: string };
  channel?: { id?: string } | null;
  container?: { channel_id?: string; message_ts?: string } | null;
  message?: { ts?: string; text?: string; blocks?: unknown } | null;
  actions: { action_id?: string; value?: string }[];
}

export interface InteractionDeps {
  models: Models;
  slack: WebClient;
  /** Which accounts a workspace sees: its installations, else the operator's links. */
  accountsOfWorkspace?: (teamId: string) => Promise<string[]>;
  /** The clicking workspace's own bot client; the operator's (`slack`) when it has none. */
  clientOfTeam?: (teamId: string) => Promise<WebClient | undefined>;
  refreshRecord?: RefreshRecord;
  logger: Logger;
  now?: () => Date;
}

const USER_ID = /^[UW][A-Z0-9]{2,30}$/;
const mention = (userId: string): string => (USER_ID.test(userId) ? `<@${userId}>` : escapeMrkdwn(userId));

/** The Acknowledge button gives way to "Acknowledged by @user", where the button was. */
export function withAcknowledgement(blocks: KnownBlock[], userId: string): KnownBlock[] {
  const out: KnownBlock[] = [];
  let placed = false;
  const note = context(`:white_check_mark: Acknowledged by ${mention(userId)}`);
  for (const block of blocks) {
    if (block.type === 'context' && JSON.stringify(block).includes('Acknowledged by')) continue;
    if (block.type !== 'actions' || !block.elements.some((e) => actionIdOf(e) === ACTION_IDS.acknowledge)) {
      out.push(block);
      continue;
    }
    const elements = block.elements.filter((e) => actionIdOf(e) !== ACTION_IDS.acknowledge);
    if (elements.length) out.push({ ...block, elements });
    out.push(note);
    placed = true;
  }
  if (!placed) out.push(note);
  return out;
}

/**
 * `job-created/<id>` → its fact, the record's kind and Jobber id; undefined for keys that are not
 * record alerts (or of a fact no type declares).
 */
export function parseAlertKey(key: string): { kind: FactName; recordKind: RecordKind; itemId: string } | undefined {
  const slash = key.indexOf('/');
  if (slash < 0) return undefined;
  const declared = factByName(key.slice(0, slash));
  const itemId = key.slice(slash + 1);
  if (!declared || !itemId) return undefined;
  return { kind: declared.fact.name, recordKind: declared.type.kind, itemId };
}

/** An alert as MongoDB has it now: the record's latest synced data and the acknowledgement. */
export async function renderAlert(models: Models, alert: { _id: string; acknowledgedBy?: string | null }): Promise<AlertMessage | undefined> {
  const parsed = parseAlertKey(alert._id);
  if (!parsed) return undefined;
  const found = await factByName(parsed.kind)?.fact.message?.({ models, alerts }, parsed.itemId);
  if (!found) return undefined;
  const { message, record } = found;
  return decorate(message, alert, record);
}

function decorate(
  message: AlertMessage,
  alert: { _id: string; acknowledgedBy?: string | null },
  record?: { deletedAt?: Date | null; syncedAt?: Date | null },
): AlertMessage {
  // The message already has its Refresh button (alerts.ts); only what changed since is added.
  let blocks = message.blocks;
  if (alert.acknowledgedBy) blocks = withAcknowledgement(blocks, alert.acknowledgedBy);
  const notes: string[] = [];
  if (record?.deletedAt) notes.push(`:wastebasket: Deleted in Jobber ${slackDate(record.deletedAt)}`);
  if (record?.syncedAt) notes.push(`Last synced from Jobber ${slackDate(record.syncedAt)}`);
  if (notes.length) blocks = [...blocks, context(notes.join(' · '))];
  const text = [message.text, record?.deletedAt ? '(deleted in Jobber)' : '', alert.acknowledgedBy ? `(acknowledged by ${mention(alert.acknowledgedBy)})` : '']
    .filter(Boolean)
    .join(' ');
  return { text, blocks };
}

/** For alerts we cannot render from MongoDB: the message Slack showed, with the new state applied. */
function fromPayload(payload: BlockActionsPayload, alert: { _id: string; acknowledgedBy?: string | null }): AlertMessage | undefined {
  const blocks = payload.message?.blocks;
  if (!Array.isArray(blocks) || blocks.length === 0) return undefined;
  const cleaned = (blocks as KnownBlock[]).filter((b) => !(b.type === 'context' && JSON.stringify(b).includes('Last synced from Jobber')));
  return decorate({ text: payload.message?.text || alert._id, blocks: cleaned }, alert);
}

type Task = () => Promise<void>;

/**
 * Acknowledge and Refresh. What must be decided before Slack hears "OK" (who acknowledged first)
 * is done inline; the Slack and Jobber calls run after the answer, one at a time per alert, so a
 * refresh and an acknowledgement cannot leave an older rendering on top.
 */
export function createInteractionHandler(deps: InteractionDeps) {
  const { models, logger } = deps;
  /** Answers go back to the workspace that clicked, with its own token. */
  const slackFor = async (payload: BlockActionsPayload): Promise<WebClient> => {
    const teamId = payload.team?.id ?? payload.user.team_id;
    return (teamId && (await deps.clientOfTeam?.(teamId))) || deps.slack;
  };
  const now = deps.now ?? (() => new Date());
  const chains = new Map<string, Promise<void>>();
  const running = new Set<Promise<void>>();
  const refreshing = new Set<string>();

  /** Runs after the HTTP answer, in order per alert key; failures are logged, never thrown. */
  const later = (log: Logger, key: string, what: string, task: Task): void => {
    const previous = chains.get(key) ?? Promise.resolve();
    const next = previous.then(task).catch((err: unknown) => {
      const data = (err as { data?: { error?: string } }).data;
      log.error({ key, what, err: (err as Error).message, slackError: data?.error }, 'slack interaction follow-up failed');
    });
    chains.set(key, next);
    running.add(next);
    void next.finally(() => {
      running.delete(next);
      if (chains.get(key) === next) chains.delete(key);
    });
  };

  /** The actions, logging with the request's logger (its request id) even after the answer. */
  const actionsFor = (log: Logger) => {
    const tell = async (payload: BlockActionsPayload, fallbackChannel: string | null | undefined, text: string) => {
      const channel = payload.container?.channel_id ?? payload.channel?.id ?? fallbackChannel;
      if (!channel) {
        log.warn({ user: payload.user.id }, 'slack interaction: no channel to answer in');
        return;
      }
      await (await slackFor(payload)).chat.postEphemeral({ channel, user: payload.user.id, text });
    };

    /** Re-renders the alert from MongoDB (its latest state, read now) into its Slack message. */
    const updateMessage = async (key: string, payload: BlockActionsPayload) => {
      const alert = await models.Alert.findById(key).lean();
      if (!alert) return;
      const message = (await renderAlert(models, alert)) ?? fromPayload(payload, alert);
      const channel = alert.channel ?? payload.container?.channel_id ?? payload.channel?.id;
      const ts = alert.ts ?? payload.container?.message_ts ?? payload.message?.ts;
      if (!message || !channel || !ts) {
        log.warn({ key, hasMessage: Boolean(message), hasTarget: Boolean(channel && ts) }, 'slack interaction: nothing to update');
        return;
      }
      await (await slackFor(payload)).chat.update({ channel, ts, text: message.text, blocks: message.blocks });
    };

    /** The alert, when the clicking workspace is linked to its account; else tells the user why not. */
    const alertFor = async (payload: BlockActionsPayload, key: string) => {
      const alert = await models.Alert.findById(key).lean();
      if (!alert) {
        later(log, key, 'unknown alert', () => tell(payload, undefined, 'Jobber Sync no longer keeps this alert, so it cannot be changed.'));
        return undefined;
      }
      const teamId = payload.team?.id ?? payload.user.team_id;
      const accounts = !teamId ? [] : deps.accountsOfWorkspace ? await deps.accountsOfWorkspace(teamId) : await linkedAccounts(models.SlackLink, teamId);
      if (!accounts.includes(alert.accountId)) {
        log.warn({ key, teamId, accountId: alert.accountId }, 'slack interaction refused: workspace not linked to the account');
        later(log, key, 'not linked', () =>
          tell(
            payload,
            alert.channel,
            `This Slack workspace is not linked to this alert's Jobber account. An operator links it with: ${LINK_COMMAND} ${teamId ?? '<teamId>'} ${alert.accountId}`,
          ),
        );
        return undefined;
      }
      return alert;
    };

    const acknowledge = async (payload: BlockActionsPayload, key: string) => {
      const alert = await alertFor(payload, key);
      if (!alert) return;
      const userId = payload.user.id;
      const told = (by: string) => {
        const text = by === userId ? 'You already acknowledged this alert.' : `This alert was already acknowledged by ${mention(by)}.`;
        later(log, key, 'already acknowledged', () => tell(payload, alert.channel, text));
      };
      if (alert.acknowledgedBy) return told(alert.acknowledgedBy);

      const claim = await claimAcknowledgement(models.AlertAcknowledgement, key, userId, now());
      if (claim.won) {
        await models.Alert.updateOne({ _id: key, acknowledgedBy: null }, { $set: { acknowledgedBy: userId } });
        log.info({ key, user: userId }, 'alert acknowledged');
        later(log, key, 'acknowledge', () => updateMessage(key, payload));
        return;
      }
      if (now().getTime() - claim.at.getTime() > ACKNOWLEDGEMENT_CLAIM_STALE_MS) {
        // The winner died between its claim and its write: finish its work (same user, same result).
        const { modifiedCount } = await models.Alert.updateOne({ _id: key, acknowledgedBy: null }, { $set: { acknowledgedBy: claim.userId } });
        if (modifiedCount === 1) later(log, key, 'acknowledge (completed)', () => updateMessage(key, payload));
      }
      told(claim.userId);
    };

    const refresh = (payload: BlockActionsPayload, key: string) => {
      // A refresh already queued for this alert will render the newest data: clicks coalesce.
      if (refreshing.has(key)) return;
      refreshing.add(key);
      later(log, key, 'refresh', async () => {
        try {
          const alert = await alertFor(payload, key);
          if (!alert) return;
          const parsed = parseAlertKey(key);
          if (parsed && deps.refreshRecord) {
            try {
              await deps.refreshRecord(alert.accountId, parsed.recordKind, parsed.itemId);
            } catch (err) {
              log.error({ key, err: (err as Error).message }, 'alert refresh: Jobber fetch failed');
              await tell(
                payload,
                alert.channel,
                'Could not fetch this record from Jobber right now; the message shows the last synced data. Try again in a minute.',
              );
              return;
            }
          }
          await updateMessage(key, payload);
        } finally {
          refreshing.delete(key);
        }
      });
    };

    return { acknowledge, refresh };
  };

  return {
    /** Handles one `block_actions` payload; resolves once Slack may be answered. */
    async handle(payload: BlockActionsPayload, log: Logger = logger): Promise<void> {
      const { acknowledge, refresh } = actionsFor(log);
      for (const action of payload.actions) {
        const key = action.value ?? '';
        switch (action.action_id) {
          case ACTION_IDS.acknowledge:
            if (key) await acknowledge(payload, key);
            break;
          case ACTION_IDS.refresh:
            if (key) refresh(payload, key);
            break;
          case ACTION_IDS.openInJobber:
            // A url button: Slack opens the link and tells us too. Nothing to do.
            break;
          default:
            log.info({ actionId: action.action_id }, 'slack interaction ignored: unknown action');
        }
      }
    },
    /** Waits for the follow-ups started so far (for shutdown and tests). */
    async drain(): Promise<void> {
      while (running.size) await Promise.allSettled([...running]);
    },
  };
}
