import type { KnownBlock } from '@slack/types';
import { accountActivity } from '../../accounts/activity';
import { connectionStatusLabel } from '../../../workflows/definitions';
import { escapeMrkdwn, plainDate, reply, section, slackDate, type SlackReply } from '../format';
import { QUERY_MAX_MS, type CommandDeps } from './common';

/** `/jobber status`: each linked account's connection, last webhook and last sync. */
export async function status(deps: CommandDeps, accountIds: string[]): Promise<SlackReply> {
  const connections = await deps.models.Connection.find({ _id: { $in: accountIds } }, { name: 1, status: 1, statusReason: 1, lastWebhookAt: 1, lastSyncAt: 1 })
    .maxTimeMS(QUERY_MAX_MS)
    .lean();
  const activity = new Map(await Promise.all(connections.map(async (c) => [c._id, await accountActivity(deps.models, c._id, c)] as const)));
  const byId = new Map(connections.map((c) => [c._id, { ...c, ...activity.get(c._id) }]));
  const blocks: KnownBlock[] = [section('*Jobber accounts linked to this workspace*')];
  const plain: string[] = ['Jobber accounts linked to this workspace:'];
  for (const id of accountIds) {
    const c = byId.get(id);
    if (!c) {
      blocks.push(section(`*${escapeMrkdwn(id)}*\n:grey_question: Unknown: no connection is stored for this account. Connect it from the Manage App.`));
      plain.push(`• ${id}: unknown (no connection stored; connect it from the Manage App)`);
      continue;
    }
    const name = c.name || id;
    const state = connectionStatusLabel(c.status);
    const icon = c.status === 'connected' ? ':large_green_circle:' : c.status === 'broken' ? ':red_circle:' : ':white_circle:';
    const reason = c.status !== 'connected' && c.statusReason ? ` (${c.statusReason})` : '';
    blocks.push(
      section(
        `*${escapeMrkdwn(name)}*\n${icon} ${state}${escapeMrkdwn(reason)}\n` +
          `Last webhook: ${slackDate(c.lastWebhookAt)} · Last sync: ${slackDate(c.lastSyncAt)}`,
      ),
    );
    plain.push(`• ${name}: ${state}${reason}; last webhook ${plainDate(c.lastWebhookAt)}; last sync ${plainDate(c.lastSyncAt)}`);
  }
  return reply(plain.join('\n'), blocks.slice(0, 50));
}
