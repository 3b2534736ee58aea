import type { Models } from '../../db/models';
import { clientName } from '../alerts';
import { counted, escapeMrkdwn, LIST_CAP, link, listReply, truncate, type ListItem, type SlackReply } from '../format';
import { labelOf, QUERY_MAX_MS, scopeOf, type CommandDeps, type Scope } from './common';
import { helpReply } from './help';

const MAX_SEARCH_LENGTH = 100;

/** `/jobber client <name>`: clients whose name contains it, with contact details and counts. */
export async function clients(deps: CommandDeps, accountIds: string[], name: string, command: string): Promise<SlackReply> {
  if (!name) return helpReply(command, `Name the client to look for, e.g. ${command} client smith`);
  return findClients(deps, await scopeOf(deps, accountIds), name);
}

/** Regex metacharacters as literals: a search for `(a+)+` looks for those five characters. */
export const escapeRegex = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

async function countBy(model: Models['Job'] | Models['Invoice'], scope: Scope, clientIds: string[]): Promise<Map<string, number>> {
  const rows = await (model as Models['Job'])
    .aggregate<{ _id: string; n: number }>([
      { $match: { accountId: { $in: scope.accountIds }, clientId: { $in: clientIds }, deletedAt: null } },
      { $group: { _id: '$clientId', n: { $sum: 1 } } },
    ])
    .option({ maxTimeMS: QUERY_MAX_MS });
  return new Map(rows.map((r) => [r._id, r.n]));
}

async function findClients(deps: CommandDeps, scope: Scope, name: string): Promise<SlackReply> {
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
