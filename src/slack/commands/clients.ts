import type { Models } from '../../db/models';
import { recordType } from '../../records';
import { clientName } from '../alerts';
import { counted, escapeMrkdwn, LIST_CAP, link, listReply, money, plainDate, slackDate, truncate, type ListItem, type SlackReply } from '../format';
import { labelOf, liveIn, QUERY_MAX_MS, scopeOf, type CommandDeps, type ListQuery, type Scope } from './common';
import { helpReply } from './help';
import { OPEN_REQUEST_STATUSES } from './requests';

const MAX_SEARCH_LENGTH = 100;

/** `/jobber client <name>`: clients whose name contains it, with contact details and counts. */
export async function clients(deps: CommandDeps, accountIds: string[], name: string, command: string): Promise<SlackReply> {
  if (!name) return helpReply(command, `Name the client to look for, e.g. ${command} client smith`);
  return findClients(deps, await scopeOf(deps, accountIds), name);
}

/** Quotes still in play: not archived, not yet converted to a job. */
export const OPEN_QUOTE_STATUSES = ['draft', 'awaiting_response', 'changes_requested', 'approved'];

/** How many open requests, quotes and upcoming visits a client's entry names (then "and N more"). */
export const CLIENT_ITEMS_CAP = 3;
/** At most this many of each are read for one answer (up to LIST_CAP clients). */
const OPEN_ITEMS_READ = 300;

/** What `client <name>` reads beside the clients: their open requests and quotes, their visits still to come. */
export function clientOpenQueries(accountIds: string[], clientIds: string[], now: Date): { requests: ListQuery; quotes: ListQuery; visits: ListQuery } {
  const mine = { ...liveIn(accountIds), clientId: { $in: clientIds } };
  return {
    requests: { kind: 'request', filter: { ...mine, requestStatus: { $in: OPEN_REQUEST_STATUSES } } },
    quotes: { kind: 'quote', filter: { ...mine, quoteStatus: { $in: OPEN_QUOTE_STATUSES } } },
    visits: { kind: 'visit', filter: { ...mine, startAt: { $gte: now }, completedAt: null }, sort: { startAt: 1 } },
  };
}

interface OpenItem {
  mrkdwn: string;
  plain: string;
}

type OpenItems = Map<string, { requests: OpenItem[]; quotes: OpenItem[]; visits: OpenItem[] }>;

/** Each client's open requests and quotes and upcoming visits, as lines (oldest request first, next visit first). */
async function openItemsOf(deps: CommandDeps, scope: Scope, clientIds: string[]): Promise<OpenItems> {
  const q = clientOpenQueries(scope.accountIds, clientIds, deps.now());
  const [requests, quotes, visits] = await Promise.all([
    deps.models.Request.find(q.requests.filter, { title: 1, contactName: 1, requestStatus: 1, clientId: 1, createdAt: 1, jobberWebUri: 1 })
      .limit(OPEN_ITEMS_READ)
      .maxTimeMS(QUERY_MAX_MS)
      .lean(),
    deps.models.Quote.find(q.quotes.filter, { quoteNumber: 1, title: 1, quoteStatus: 1, total: 1, clientId: 1, createdAt: 1, jobberWebUri: 1 })
      .limit(OPEN_ITEMS_READ)
      .maxTimeMS(QUERY_MAX_MS)
      .lean(),
    deps.models.Visit.find(q.visits.filter, { title: 1, jobNumber: 1, startAt: 1, clientId: 1 })
      .sort(q.visits.sort!)
      .limit(OPEN_ITEMS_READ)
      .maxTimeMS(QUERY_MAX_MS)
      .lean(),
  ]);
  const out: OpenItems = new Map(clientIds.map((id) => [id, { requests: [], quotes: [], visits: [] }]));
  const byCreated = <T extends { createdAt?: Date | null; _id: string }>(a: T, b: T) =>
    (a.createdAt?.getTime() ?? 0) - (b.createdAt?.getTime() ?? 0) || a._id.localeCompare(b._id);
  const words = (s: string | null | undefined) => (s ? s.replace(/_/g, ' ') : 'unknown');
  const summary = (kind: string, doc: object) => truncate(recordType(kind)!.ask.summary(doc as Record<string, unknown>), 80);
  for (const r of [...requests].sort(byCreated)) {
    const label = summary('request', r);
    out
      .get(r.clientId ?? '')
      ?.requests.push({ mrkdwn: `${link(r.jobberWebUri, label)} (${escapeMrkdwn(words(r.requestStatus))})`, plain: `${label} (${words(r.requestStatus)})` });
  }
  for (const doc of [...quotes].sort(byCreated)) {
    const label = summary('quote', doc);
    const detail = `${money(doc.total)}, ${words(doc.quoteStatus)}`;
    out.get(doc.clientId ?? '')?.quotes.push({ mrkdwn: `${link(doc.jobberWebUri, label)} (${escapeMrkdwn(detail)})`, plain: `${label} (${detail})` });
  }
  for (const v of visits) {
    const label = summary('visit', v);
    out.get(v.clientId ?? '')?.visits.push({ mrkdwn: `${escapeMrkdwn(label)} ${slackDate(v.startAt)}`, plain: `${label} ${plainDate(v.startAt)}` });
  }
  return out;
}

/** `Open requests: a, b and 2 more` (mrkdwn and plain), or nothing when there are none. */
function openLine(heading: string, items: OpenItem[]): { mrkdwn: string; plain: string } | undefined {
  if (items.length === 0) return undefined;
  const shown = items.slice(0, CLIENT_ITEMS_CAP);
  const more = items.length > shown.length ? ` and ${items.length - shown.length} more` : '';
  return {
    mrkdwn: `${heading}: ${shown.map((i) => i.mrkdwn).join('; ')}${more}`,
    plain: `${heading}: ${shown.map((i) => i.plain).join('; ')}${more}`,
  };
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
  const [jobCounts, invoiceCounts, open] = ids.length
    ? await Promise.all([countBy(deps.models.Job, scope, ids), countBy(deps.models.Invoice, scope, ids), openItemsOf(deps, scope, ids)])
    : [new Map<string, number>(), new Map<string, number>(), new Map() as OpenItems];
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
    const mine = open.get(c._id);
    const lines = mine
      ? [openLine('Open requests', mine.requests), openLine('Open quotes', mine.quotes), openLine('Upcoming visits', mine.visits)].filter(
          (l): l is { mrkdwn: string; plain: string } => Boolean(l),
        )
      : [];
    return {
      mrkdwn:
        `*${link(c.jobberWebUri, display)}*${tags.length ? ` _(${tags.join(', ')})_` : ''}\n` +
        `${contact.length ? escapeMrkdwn(contact.join(' · ')) : '_no contact details_'}\n${counts}${account ? ` · _${escapeMrkdwn(account)}_` : ''}` +
        lines.map((l) => `\n${l.mrkdwn}`).join(''),
      plain:
        `${display}${tags.length ? ` (${tags.join(', ')})` : ''} — ${contact.join(' — ') || 'no contact details'} — ${counts}${account ? ` — ${account}` : ''}` +
        lines.map((l) => ` — ${l.plain}`).join(''),
    };
  });
  return listReply(`Clients matching "${needle}"`, items, total, 'no client by that name.');
}
