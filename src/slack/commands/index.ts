/** `/jobber …`: reads the subcommand and hands it to its module (help, status, jobs, invoices, requests, quotes, visits, payments, clients, sync). */
import { linkedAccounts } from '../../db/slack-links';
import { SLASH_COMMAND } from '../scopes';
import { decodeSlackText, truncate, type SlackReply } from '../format';
import type { CommandDeps } from './common';
import { helpReply, unlinkedReply } from './help';
import { status } from './status';
import { jobs } from './jobs';
import { invoices } from './invoices';
import { clients } from './clients';
import { requests } from './requests';
import { quotes } from './quotes';
import { visits } from './visits';
import { payments } from './payments';
import { sync } from './sync';

/** The fields of Slack's slash-command POST that the answers depend on. */
export interface SlashCommand {
  teamId: string;
  userId: string;
  channelId?: string;
  /** As typed, e.g. `/jobber`; used in the help text. */
  command: string;
  text: string;
}

/** Answers one `/jobber …` from MongoDB only: nothing on this path calls Jobber. */
export async function runCommand(deps: CommandDeps, cmd: SlashCommand): Promise<SlackReply> {
  const accountIds = deps.accountsOfWorkspace ? await deps.accountsOfWorkspace(cmd.teamId) : await linkedAccounts(deps.models.SlackLink, cmd.teamId);
  if (accountIds.length === 0) return unlinkedReply(cmd.teamId, deps.installUrl);

  const text = decodeSlackText(cmd.text).trim();
  const [first = '', ...rest] = text.split(/\s+/);
  const sub = first.toLowerCase();
  const arg = rest.join(' ');
  const command = cmd.command || SLASH_COMMAND;

  switch (sub) {
    case '':
    case 'help':
      return helpReply(command);
    case 'status':
      return status(deps, accountIds);
    case 'jobs':
      return jobs(deps, accountIds, arg, command);
    case 'invoices':
      return invoices(deps, accountIds, arg, command);
    case 'requests':
      return requests(deps, accountIds, arg, command);
    case 'quotes':
      return quotes(deps, accountIds, arg, command);
    case 'visits':
      return visits(deps, accountIds, arg, command);
    case 'payments':
      return payments(deps, accountIds, arg, command);
    case 'client':
    case 'clients':
      return clients(deps, accountIds, arg, command);
    case 'sync':
      return sync(deps, accountIds);
    default:
      return helpReply(command, `Unknown command "${truncate(first, 40)}".`);
  }
}
