import { WorkflowNotFoundError } from '@temporalio/client';
import type { KnownBlock } from '@slack/types';
import type { Models } from '../db/models';
import { linkedAccounts } from '../db/slack-links';
import type { AccountControl } from '../accounts/control';
import { accountActivity } from '../accounts/activity';
import type { Logger } from '../logger';
import { clientName } from './alerts';
import { SLASH_COMMAND } from './scopes';
import { connectionStatusLabel } from '../../workflows/definitions';
import {
  context,
  decodeSlackText,
  escapeMrkdwn,
  link,
  counted,
  LIST_CAP,
  listReply,
  money,
  plainDate,
  plainReply,
  reply,
  section,
  slackDate,
  truncate,
  type ListItem,
  type SlackReply,
} from './format';

export interface CommandDeps {
  models: Models;
  control: Pick<AccountControl, 'syncNow'>;
  logger: Logger;
  now: () => Date;
  /** IANA zone that "today" means (the business's); default UTC. */
  timeZone?: string;
}

/** The fields of Slack's slash-command POST that the answers depend on. */
export interface SlashCommand {
  teamId: string;
  userId: string;
  channelId?: string;
  /** As typed, e.g. `/jobber`; used in the help text. */
  command: string;
  text: string;
}

export const JOB_FILTERS = ['recent', 'today', 'upcoming'] as const;
export const INVOICE_FILTERS = ['unpaid', 'overdue', 'paid'] as const;
type JobFilter = (typeof JOB_FILTERS)[number];
type InvoiceFilter = (typeof INVOICE_FILTERS)[number];

/** The ops CLI command that links a workspace to an account (the CLI itself lives in src/bin/ops.ts). */
export const LINK_COMMAND = 'npm run ops -- slack link';

/** Reads from MongoDB answer within Slack's 3 seconds or give up (the router answers meanwhile). */
const QUERY_MAX_MS = 2_500;
const MAX_SEARCH_LENGTH = 100;

export function helpReply(command = SLASH_COMMAND, preface?: string): SlackReply {
  const lines: [string, string][] = [
    [`${command} status`, 'linked Jobber accounts: connection, last webhook, last sync'],
    [`${command} jobs [recent|today|upcoming]`, 'jobs, newest first by default; today and upcoming by start time'],
    [`${command} invoices [unpaid|overdue|paid]`, 'invoices, unpaid by default'],
    [`${command} client <name>`, 'find a client by name: contact details, jobs and invoices'],
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
export function unlinkedReply(teamId: string): SlackReply {
  const text =
    `This Slack workspace (${teamId}) is not linked to a Jobber account, so Jobber Sync shows it nothing. ` +
    `An operator links it with: ${LINK_COMMAND} ${teamId} <accountId>`;
  const mrkdwn =
    `This Slack workspace (\`${escapeMrkdwn(teamId)}\`) is not linked to a Jobber account, so Jobber Sync shows it nothing.\n` +
    `An operator links it with:\n\`${escapeMrkdwn(`${LINK_COMMAND} ${teamId} <accountId>`)}\``;
  return plainReply(text, mrkdwn);
}

/** Regex metacharacters as literals: a search for `(a+)+` looks for those five characters. */
export const escapeRegex = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Start and end of the calendar day containing `now` in `timeZone`, as instants. */
export function dayBounds(now: Date, timeZone: string): { start: Date; end: Date } {
  const offsetAt = (instant: number): number => {
    const parts = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    }).formatToParts(new Date(instant));
    const get = (type: Intl.DateTimeFormatPartTypes) => Number(parts.find((p) => p.type === type)?.value);
    const wall = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'));
    return wall - Math.floor(instant / 1000) * 1000;
  };
  const wallNow = new Date(now.getTime() + offsetAt(now.getTime()));
  const midnight = Date.UTC(wallNow.getUTCFullYear(), wallNow.getUTCMonth(), wallNow.getUTCDate());
  // A wall-clock time to an instant: guess with the offset there, then use the offset at the guess
  // (they differ only when a DST change falls between).
  const toInstant = (wall: number) => wall - offsetAt(wall - offsetAt(wall));
  return { start: new Date(toInstant(midnight)), end: new Date(toInstant(midnight + 86_400_000)) };
}

const words = (status: string | null | undefined): string => (status ? status.replace(/_/g, ' ') : 'unknown');

interface Scope {
  accountIds: string[];
  /** Account names, only when more than one account is linked (else items need no label). */
  labels?: Map<string, string>;
}

async function scopeOf(deps: CommandDeps, accountIds: string[]): Promise<Scope> {
  if (accountIds.length < 2) return { accountIds };
  const connections = await deps.models.Connection.find({ _id: { $in: accountIds } }, { name: 1 }).maxTimeMS(QUERY_MAX_MS).lean();
  return { accountIds, labels: new Map(connections.map((c) => [c._id, c.name || c._id])) };
}

const labelOf = (scope: Scope, accountId: string): string | undefined => (scope.labels ? (scope.labels.get(accountId) ?? accountId) : undefined);

/** Answers one `/jobber …` from MongoDB only: nothing on this path calls Jobber. */
export async function runCommand(deps: CommandDeps, cmd: SlashCommand): Promise<SlackReply> {
  const accountIds = await linkedAccounts(deps.models.SlackLink, cmd.teamId);
  if (accountIds.length === 0) return unlinkedReply(cmd.teamId);

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
    case 'jobs': {
      const filter = (arg.toLowerCase() || 'recent') as JobFilter;
      if (!JOB_FILTERS.includes(filter)) return helpReply(command, `Unknown jobs filter "${truncate(arg, 40)}": use recent, today or upcoming.`);
      return jobs(deps, await scopeOf(deps, accountIds), filter);
    }
    case 'invoices': {
      const filter = (arg.toLowerCase() || 'unpaid') as InvoiceFilter;
      if (!INVOICE_FILTERS.includes(filter)) return helpReply(command, `Unknown invoices filter "${truncate(arg, 40)}": use unpaid, overdue or paid.`);
      return invoices(deps, await scopeOf(deps, accountIds), filter);
    }
    case 'client':
    case 'clients': {
      if (!arg) return helpReply(command, `Name the client to look for, e.g. ${command} client smith`);
      return clients(deps, await scopeOf(deps, accountIds), arg);
    }
    case 'sync':
      return sync(deps, accountIds);
    default:
      return helpReply(command, `Unknown command "${truncate(first, 40)}".`);
  }
}

async function status(deps: CommandDeps, accountIds: string[]): Promise<SlackReply> {
  const connections = await deps.models.Connection.find(
    { _id: { $in: accountIds } },
    { name: 1, status: 1, statusReason: 1, lastWebhookAt: 1, lastSyncAt: 1 },
  )
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

async function jobs(deps: CommandDeps, scope: Scope, filter: JobFilter): Promise<SlackReply> {
  const now = deps.now();
  const base = { accountId: { $in: scope.accountIds }, deletedAt: null };
  let query: Record<string, unknown>;
  let sort: Record<string, 1 | -1>;
  let title: string;
  if (filter === 'today') {
    const { start, end } = dayBounds(now, deps.timeZone ?? 'UTC');
    query = { ...base, startAt: { $gte: start, $lt: end } };
    sort = { startAt: 1, _id: 1 };
    title = 'Jobs starting today';
  } else if (filter === 'upcoming') {
    query = { ...base, startAt: { $gte: now } };
    sort = { startAt: 1, _id: 1 };
    title = 'Upcoming jobs';
  } else {
    query = base;
    sort = { createdAt: -1, _id: 1 };
    title = 'Recent jobs';
  }
  const [docs, total] = await Promise.all([
    deps.models.Job.find(query).sort(sort).limit(LIST_CAP).maxTimeMS(QUERY_MAX_MS).lean(),
    deps.models.Job.countDocuments(query).maxTimeMS(QUERY_MAX_MS),
  ]);
  const items: ListItem[] = docs.map((j) => {
    const name = `#${j.jobNumber ?? '?'} ${truncate(j.title || 'Untitled', 80)}`;
    const client = truncate(j.clientName || 'Unknown client', 80);
    const account = labelOf(scope, j.accountId);
    const when = j.startAt ? `starts ${slackDate(j.startAt)}` : 'unscheduled';
    const whenPlain = j.startAt ? `starts ${plainDate(j.startAt)}` : 'unscheduled';
    return {
      mrkdwn:
        `*${link(j.jobberWebUri, name)}* · ${escapeMrkdwn(client)}\n` +
        `${when} · ${money(j.total)} · ${escapeMrkdwn(words(j.jobStatus))}${account ? ` · _${escapeMrkdwn(account)}_` : ''}`,
      plain: `${name} — ${client} — ${whenPlain} — ${money(j.total)} — ${words(j.jobStatus)}${account ? ` — ${account}` : ''}`,
    };
  });
  const empty = filter === 'today' ? 'no jobs start today.' : filter === 'upcoming' ? 'no upcoming jobs.' : 'no jobs synced yet.';
  return listReply(title, items, total, empty);
}

const UNPAID = ['awaiting_payment', 'past_due'];

async function invoices(deps: CommandDeps, scope: Scope, filter: InvoiceFilter): Promise<SlackReply> {
  const now = deps.now();
  const base = { accountId: { $in: scope.accountIds }, deletedAt: null };
  let query: Record<string, unknown>;
  let sort: Record<string, 1 | -1>;
  let title: string;
  if (filter === 'paid') {
    query = { ...base, invoiceStatus: 'paid' };
    sort = { receivedDate: -1, _id: 1 };
    title = 'Paid invoices';
  } else if (filter === 'overdue') {
    // Past due by Jobber's word, or past its due date while still awaiting payment (Jobber flips
    // the status on its own schedule). Drafts are not sent yet and bad debt is written off.
    query = { ...base, $or: [{ invoiceStatus: 'past_due' }, { invoiceStatus: 'awaiting_payment', dueDate: { $lt: now } }] };
    sort = { dueDate: 1, _id: 1 };
    title = 'Overdue invoices';
  } else {
    query = { ...base, invoiceStatus: { $in: UNPAID } };
    sort = { dueDate: 1, _id: 1 };
    title = 'Unpaid invoices';
  }
  const [docs, total, owed] = await Promise.all([
    deps.models.Invoice.find(query).sort(sort).limit(LIST_CAP).maxTimeMS(QUERY_MAX_MS).lean(),
    deps.models.Invoice.countDocuments(query).maxTimeMS(QUERY_MAX_MS),
    // One accumulator per $group: FerretDB sums a field to 0 when a `$sum: 1` sits beside it.
    filter === 'paid'
      ? Promise.resolve([])
      : deps.models.Invoice.aggregate<{ balance: number }>([
          { $match: query },
          { $group: { _id: null, balance: { $sum: '$invoiceBalance' } } },
        ]).option({ maxTimeMS: QUERY_MAX_MS }),
  ]);
  const items: ListItem[] = docs.map((i) => {
    const name = `Invoice #${i.invoiceNumber ?? '?'}`;
    const client = truncate(i.clientName || 'Unknown client', 80);
    const account = labelOf(scope, i.accountId);
    const late = i.invoiceStatus === 'past_due' || (i.invoiceStatus === 'awaiting_payment' && i.dueDate && i.dueDate < now);
    let detail: string;
    let detailPlain: string;
    if (i.invoiceStatus === 'paid') {
      detail = `paid ${money(i.paymentsTotal ?? i.total)}${i.receivedDate ? ` on ${slackDate(i.receivedDate, false)}` : ''}`;
      detailPlain = `paid ${money(i.paymentsTotal ?? i.total)}${i.receivedDate ? ` on ${plainDate(i.receivedDate, false)}` : ''}`;
    } else {
      const due = i.dueDate ? `due ${slackDate(i.dueDate, false)}` : 'no due date';
      const duePlain = i.dueDate ? `due ${plainDate(i.dueDate, false)}` : 'no due date';
      detail = `${money(i.invoiceBalance)} owed of ${money(i.total)} · ${due}${late ? ' · :warning: overdue' : ''}`;
      detailPlain = `${money(i.invoiceBalance)} owed of ${money(i.total)} — ${duePlain}${late ? ' — overdue' : ''}`;
    }
    return {
      mrkdwn: `*${link(i.jobberWebUri, name)}* · ${escapeMrkdwn(client)}\n${detail}${account ? ` · _${escapeMrkdwn(account)}_` : ''}`,
      plain: `${name} — ${client} — ${detailPlain}${account ? ` — ${account}` : ''}`,
    };
  });
  const footer = filter === 'paid' || total === 0 ? undefined : `${money(owed[0]?.balance ?? 0)} outstanding in all`;
  const empty = filter === 'paid' ? 'no paid invoices synced yet.' : filter === 'overdue' ? 'nothing is overdue.' : 'nothing is unpaid.';
  return listReply(title, items, total, empty, footer);
}

async function countBy(model: Models['Job'] | Models['Invoice'], scope: Scope, clientIds: string[]): Promise<Map<string, number>> {
  const rows = await (model as Models['Job']).aggregate<{ _id: string; n: number }>([
    { $match: { accountId: { $in: scope.accountIds }, clientId: { $in: clientIds }, deletedAt: null } },
    { $group: { _id: '$clientId', n: { $sum: 1 } } },
  ]).option({ maxTimeMS: QUERY_MAX_MS });
  return new Map(rows.map((r) => [r._id, r.n]));
}

async function clients(deps: CommandDeps, scope: Scope, name: string): Promise<SlackReply> {
  const needle = name.toLowerCase().replace(/\s+/g, ' ').slice(0, MAX_SEARCH_LENGTH);
  // searchName is stored lowercased, so a lowercased literal pattern is the case-insensitive match.
  const query = { accountId: { $in: scope.accountIds }, deletedAt: null, searchName: { $regex: escapeRegex(needle) } };
  const [docs, total] = await Promise.all([
    deps.models.Client.find(query).sort({ searchName: 1, _id: 1 }).limit(LIST_CAP).maxTimeMS(QUERY_MAX_MS).lean(),
    deps.models.Client.countDocuments(query).maxTimeMS(QUERY_MAX_MS),
  ]);
  const ids = docs.map((c) => c._id);
  const [jobCounts, invoiceCounts] = ids.length
    ? await Promise.all([countBy(deps.models.Job, scope, ids), countBy(deps.models.Invoice, scope, ids)])
    : [new Map<string, number>(), new Map<string, number>()];
  const items: ListItem[] = docs.map((c) => {
    const person = [c.firstName, c.lastName].filter(Boolean).join(' ');
    const display = truncate(c.companyName && person ? `${c.companyName} (${person})` : clientName(c), 120);
    const email = (c.emails.find((e) => e.primary) ?? c.emails[0])?.address;
    const phone = (c.phones.find((p) => p.primary) ?? c.phones[0])?.number;
    const a = c.billingAddress;
    const address = a ? [a.street, a.city, a.province, a.postalCode].filter(Boolean).join(', ') : '';
    const tags = [c.isLead ? 'lead' : '', c.isArchived ? 'archived' : ''].filter(Boolean);
    const jobsN = jobCounts.get(c._id) ?? 0;
    const invoicesN = invoiceCounts.get(c._id) ?? 0;
    const counts = `${counted(jobsN, 'job')} · ${counted(invoicesN, 'invoice')}`;
    const contact = [email, phone, address].filter((s): s is string => Boolean(s)).map((s) => truncate(s, 120));
    const account = labelOf(scope, c.accountId);
    return {
      mrkdwn:
        `*${link(c.jobberWebUri, display)}*${tags.length ? ` _(${tags.join(', ')})_` : ''}\n` +
        `${contact.length ? escapeMrkdwn(contact.join(' · ')) : '_no contact details_'}\n${counts}${account ? ` · _${escapeMrkdwn(account)}_` : ''}`,
      plain: `${display}${tags.length ? ` (${tags.join(', ')})` : ''} — ${contact.join(' — ') || 'no contact details'} — ${counts}${account ? ` — ${account}` : ''}`,
    };
  });
  return listReply(`Clients matching "${needle}"`, items, total, 'no client by that name.');
}

async function sync(deps: CommandDeps, accountIds: string[]): Promise<SlackReply> {
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
