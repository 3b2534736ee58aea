import type { KnownBlock } from '@slack/types';
import { SLASH_COMMAND } from '../scopes';
import { escapeMrkdwn, plainReply, reply, section, type SlackReply } from '../format';

/** The ops CLI command that links a workspace to an account (the CLI itself lives in src/bin/ops.ts). */
export const LINK_COMMAND = 'npm run ops -- slack link';

/** `/jobber help`, and the answer to anything it does not understand (with a preface saying what). */
export function helpReply(command = SLASH_COMMAND, preface?: string): SlackReply {
  const lines: [string, string][] = [
    [`${command} status`, 'linked Jobber accounts: connection, last webhook, last sync'],
    [`${command} jobs [recent|today|upcoming]`, 'jobs, newest first by default; today and upcoming by start time'],
    [`${command} invoices [unpaid|overdue|paid]`, 'invoices, unpaid by default'],
    [`${command} requests [new|all]`, 'requests (leads), new ones by default, newest first'],
    [`${command} quotes [pending|approved]`, 'quotes waiting on the client by default, or approved ones'],
    [`${command} visits [today|tomorrow|week]`, "visits by start time, today's by default"],
    [`${command} payments [recent]`, 'the newest payments, with the last 30 days received'],
    [`${command} client <name>`, 'find a client by name: contact details, jobs and invoices, open requests and quotes, upcoming visits'],
    [`${command} sync`, 'ask Jobber Sync to reconcile every linked account with Jobber now'],
    [`${command} help`, 'this list'],
  ];
  const text = [preface, 'Jobber Sync commands:', ...lines.map(([c, d]) => `${c} — ${d}`)].filter(Boolean).join('\n');
  const blocks: KnownBlock[] = [];
  if (preface) blocks.push(section(escapeMrkdwn(preface)));
  blocks.push(section(['*Jobber Sync commands*', ...lines.map(([c, d]) => `\`${escapeMrkdwn(c)}\` ${escapeMrkdwn(d)}`)].join('\n')));
  return reply(text, blocks);
}

/** What a workspace that no operator linked sees, whatever it asked. */
export function unlinkedReply(teamId: string, installUrl?: string): SlackReply {
  const install = installUrl ? `To connect your Jobber account, sign in at ${installUrl} and use Add to Slack. ` : '';
  const text =
    `This Slack workspace (${teamId}) is not linked to a Jobber account, so Jobber Sync shows it nothing. ` +
    install +
    `An operator links it with: ${LINK_COMMAND} ${teamId} <accountId>`;
  const mrkdwn =
    `This Slack workspace (\`${escapeMrkdwn(teamId)}\`) is not linked to a Jobber account, so Jobber Sync shows it nothing.\n` +
    (installUrl ? `To connect your Jobber account, sign in at <${installUrl}|Manage App> and use *Add to Slack*.\n` : '') +
    `An operator links it with:\n\`${escapeMrkdwn(`${LINK_COMMAND} ${teamId} <accountId>`)}\``;
  return plainReply(text, mrkdwn);
}
