import { allHandlersFinished, condition, continueAsNew, log, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { Activities } from '../activities';
import {
  accountsTaskQueue,
  slackInstallationSignal,
  slackInstallationUpdate,
  type SlackInstallationInfo,
  type SlackInstallationRequest,
  type SlackInstallationResult,
  type SlackInstallationWorkflowInput,
} from './definitions';
import { summarized } from './summaries';

/** Continue as new past this many history events (the server may suggest it sooner). */
const MAX_HISTORY_EVENTS = 2000;

/**
 * One per Slack installation (per account), id `slack-installation/<account>`: the only writer of
 * the account's installation document. The OAuth callback, the channel choice, Disconnect Slack
 * and the Events API (ingress) and the alerts that need a token refresh or saw it refused
 * (worker) ask it, by Update or signal (with start), and it honours their requests one at a time,
 * in the order they came, each in one activity. So no two writes of the document overlap (FerretDB
 * applies updates as read-modify-writes) and a rotating refresh token is used once whatever
 * process needed it. Only ids, versions and states cross Temporal: the activities read and write
 * tokens, names and channel names in MongoDB.
 *
 * Its activities run on the accounts queue: an alert that waits for a refresh holds a slot of the
 * main queue, and the refresh must never wait for such a slot. It ends once the installation is
 * gone or unusable and nothing is pending; the next request starts a new run.
 */
export async function slackInstallationWorkflow(input: SlackInstallationWorkflowInput): Promise<void> {
  const { accountId } = input;
  const { adoptSlackGrant, chooseSlackChannel, refreshSlackToken, markSlackRefused, forgetSlackInstallation, disconnectSlack } = proxyActivities<Activities>({
    startToCloseTimeout: '30 seconds',
    retry: { initialInterval: '1 second', maximumInterval: '1 minute', backoffCoefficient: 2 },
    taskQueue: accountsTaskQueue(workflowInfo().taskQueue),
  });
  // Kept alerts are posted best effort: a failure leaves them kept (and listed) for the next chance.
  const { deliverKeptAlerts } = proxyActivities<Activities>({
    startToCloseTimeout: '2 minutes',
    retry: { initialInterval: '2 seconds', maximumInterval: '1 minute', backoffCoefficient: 2, maximumAttempts: 5 },
    taskQueue: accountsTaskQueue(workflowInfo().taskQueue),
  });

  const queue: { request: SlackInstallationRequest; ticket: number }[] = [];
  let issued = 0;
  let honoured = 0;
  const results = new Map<number, SlackInstallationResult>();
  const enqueue = (request: SlackInstallationRequest): number => {
    const ticket = ++issued;
    queue.push({ request, ticket });
    return ticket;
  };
  for (const request of input.pending ?? []) enqueue(request);

  setHandler(slackInstallationSignal, (request) => {
    enqueue(request);
  });
  setHandler(
    slackInstallationUpdate,
    async (request) => {
      const ticket = enqueue(request);
      results.set(ticket, { done: false, info: { status: 'none', tokenVersion: 0, hasChannel: false } });
      await condition(() => honoured >= ticket);
      const result = results.get(ticket)!;
      results.delete(ticket);
      return result;
    },
    {
      validator: (request) => {
        if (!request || typeof request !== 'object') throw new Error('a request is an object');
        if ('refreshVersion' in request && !Number.isInteger(request.refreshVersion)) throw new Error('refreshVersion must be an integer');
        if ('channelId' in request && !/^[CG][A-Z0-9]{2,}$/.test(request.channelId)) throw new Error('channelId must be a Slack channel id');
      },
    },
  );

  let info: SlackInstallationInfo | undefined;

  const honour = async (request: SlackInstallationRequest): Promise<SlackInstallationResult> => {
    if ('grantId' in request) {
      const { installed, info } = await summarized(adoptSlackGrant, 'install: adopt the Slack grant of the OAuth callback', {
        accountId,
        grantId: request.grantId,
      });
      return { done: installed, info };
    }
    if ('channelId' in request) {
      const { chosen, info } = await summarized(chooseSlackChannel, `choose the alert channel ${request.channelId}`, {
        accountId,
        channelId: request.channelId,
      });
      return { done: chosen, info };
    }
    if ('refreshVersion' in request) {
      const info = await summarized(refreshSlackToken, `refresh the bot token (version ${request.refreshVersion})`, {
        accountId,
        staleVersion: request.refreshVersion,
      });
      return { done: info.status === 'active' && info.tokenVersion !== request.refreshVersion, info };
    }
    if ('refusedVersion' in request) {
      const info = await summarized(markSlackRefused, `Slack refused the bot token (version ${request.refusedVersion}, ${request.slackError})`, {
        accountId,
        tokenVersion: request.refusedVersion,
        slackError: request.slackError,
      });
      return { done: info.status !== 'active', info };
    }
    if ('revoked' in request) {
      const info = await summarized(forgetSlackInstallation, `forget the tokens (${request.revoked})`, {
        accountId,
        teamId: request.teamId,
        event: request.revoked,
      });
      return { done: info.status !== 'active', info };
    }
    const gone = await summarized(disconnectSlack, 'Disconnect Slack: uninstall the app and forget the installation', { accountId });
    return { done: true, info: gone };
  };

  for (;;) {
    await condition(() => queue.length > 0 || (info !== undefined && info.status !== 'active'));
    while (queue.length > 0) {
      const { request, ticket } = queue[0]!;
      const result = await honour(request);
      info = result.info;
      if (results.has(ticket)) results.set(ticket, result);
      queue.shift();
      honoured = ticket;
      // A usable installation with a channel: alerts kept while it was not are posted now, once each.
      if (result.done && info.status === 'active' && info.hasChannel && ('grantId' in request || 'channelId' in request)) {
        try {
          for (let round = 0; round < 100; round++) {
            const { remaining } = await summarized(deliverKeptAlerts, 'post the alerts kept while Slack was not connected', { accountId });
            if (remaining === 0) break;
          }
        } catch (err) {
          log.warn('kept alerts not posted; they stay kept', { accountId, error: (err as Error).message });
        }
      }
    }
    if (info && info.status !== 'active') {
      // Gone or unusable: nothing to write until someone asks again (a new run then).
      await condition(() => queue.length > 0 || allHandlersFinished());
      if (queue.length === 0) return;
      continue;
    }
    if (workflowInfo().continueAsNewSuggested || workflowInfo().historyLength > MAX_HISTORY_EVENTS) {
      await condition(() => queue.length > 0 || allHandlersFinished());
      if (queue.length > 0) continue;
      await continueAsNew<typeof slackInstallationWorkflow>({ accountId });
    }
  }
}
