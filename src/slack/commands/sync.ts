import { WorkflowNotFoundError } from '@temporalio/client';
import { context, escapeMrkdwn, reply, section, type SlackReply } from '../format';
import { QUERY_MAX_MS, type CommandDeps } from './common';

/** `/jobber sync`: asks each linked, connected account's workflow to reconcile with Jobber now. */
export async function sync(deps: CommandDeps, accountIds: string[]): Promise<SlackReply> {
  const connections = await deps.models.Connection.find({ _id: { $in: accountIds } }, { name: 1, status: 1, statusReason: 1 })
    .maxTimeMS(QUERY_MAX_MS)
    .lean();
  const byId = new Map(connections.map((c) => [c._id, c]));
  const lines = await Promise.all(
    accountIds.map(async (id) => {
      const c = byId.get(id);
      const name = c?.name || id;
      if (!c) return `${name}: not synced, no connection is stored for it.`;
      if (c.status !== 'connected') {
        // Its token is gone or refused: a sync would only fail. Reconnecting starts one anyway.
        return `${name}: not synced, it is ${c.status}${c.statusReason ? ` (${c.statusReason})` : ''}. Reconnect it from the Manage App.`;
      }
      try {
        await deps.control.syncNow(id);
        return `${name}: sync requested. New data shows here within a few minutes.`;
      } catch (err) {
        deps.logger.error({ accountId: id, err: (err as Error).message }, 'slack sync: could not signal the account workflow');
        return err instanceof WorkflowNotFoundError
          ? `${name}: not synced, its sync workflow is not running. Reconnect it from the Manage App.`
          : `${name}: could not request a sync right now. Try again in a minute.`;
      }
    }),
  );
  return reply(lines.join('\n'), [section(lines.map((l) => escapeMrkdwn(l)).join('\n')), context('Jobber Sync reconciles with Jobber in the background.')]);
}
