import { escapeMrkdwn, LIST_CAP, link, listReply, money, plainDate, slackDate, truncate, type ListItem, type SlackReply } from '../format';
import { filterWord, labelOf, liveIn, oneOf, QUERY_MAX_MS, scopeOf, type CommandDeps, type ListQuery, type Scope } from './common';
import { helpReply } from './help';

export const QUOTE_FILTERS = ['pending', 'approved'] as const;
type QuoteFilter = (typeof QUOTE_FILTERS)[number];

/** Sent and waiting on the client: no answer yet, or changes asked for. */
export const PENDING_QUOTE_STATUSES = ['awaiting_response', 'changes_requested'];
/** Approved by the client, and those since converted to a job. */
export const APPROVED_QUOTE_STATUSES = ['approved', 'converted'];

/** `/jobber quotes [pending|approved]`: pending by default, longest waiting first; approved newest first. */
export async function quotes(deps: CommandDeps, accountIds: string[], arg: string, command: string): Promise<SlackReply> {
  const filter = filterWord(arg, QUOTE_FILTERS, 'pending');
  if (!filter) return helpReply(command, `Unknown quotes filter "${truncate(arg, 40)}": use ${oneOf(QUOTE_FILTERS)}.`);
  return listQuotes(deps, await scopeOf(deps, accountIds), filter);
}

export function quotesQuery(accountIds: string[], filter: QuoteFilter): ListQuery {
  return filter === 'pending'
    ? { kind: 'quote', filter: { ...liveIn(accountIds), quoteStatus: { $in: PENDING_QUOTE_STATUSES } }, sort: { sentAt: 1, _id: 1 } }
    : { kind: 'quote', filter: { ...liveIn(accountIds), quoteStatus: { $in: APPROVED_QUOTE_STATUSES } }, sort: { transitionedAt: -1, _id: 1 } };
}

async function listQuotes(deps: CommandDeps, scope: Scope, filter: QuoteFilter): Promise<SlackReply> {
  const q = quotesQuery(scope.accountIds, filter);
  const [docs, total, sums] = await Promise.all([
    deps.models.Quote.find(q.filter).sort(q.sort!).limit(LIST_CAP).maxTimeMS(QUERY_MAX_MS).lean(),
    deps.models.Quote.countDocuments(q.filter).maxTimeMS(QUERY_MAX_MS),
    // One accumulator per $group (FerretDB sums to 0 beside a `$sum: 1`).
    deps.models.Quote.aggregate<{ total: number }>([{ $match: q.filter }, { $group: { _id: null, total: { $sum: '$total' } } }]).option({
      maxTimeMS: QUERY_MAX_MS,
    }),
  ]);
  const items: ListItem[] = docs.map((doc) => {
    const name = `Quote #${doc.quoteNumber ?? '?'}${doc.title ? ` ${truncate(doc.title, 80)}` : ''}`;
    const client = truncate(doc.clientName || 'Unknown client', 80);
    const account = labelOf(scope, doc.accountId);
    let detail: string;
    let detailPlain: string;
    if (filter === 'pending') {
      const waiting = doc.quoteStatus === 'changes_requested' ? 'changes requested' : 'awaiting response';
      detail = `${money(doc.total)} · ${waiting}${doc.sentAt ? ` · sent ${slackDate(doc.sentAt, false)}` : ''}`;
      detailPlain = `${money(doc.total)} — ${waiting}${doc.sentAt ? ` — sent ${plainDate(doc.sentAt, false)}` : ''}`;
    } else {
      const state = doc.quoteStatus === 'converted' ? 'approved, converted to a job' : 'approved';
      detail = `${money(doc.total)} · ${state}${doc.transitionedAt ? ` ${slackDate(doc.transitionedAt, false)}` : ''}`;
      detailPlain = `${money(doc.total)} — ${state}${doc.transitionedAt ? ` ${plainDate(doc.transitionedAt, false)}` : ''}`;
    }
    return {
      mrkdwn: `*${link(doc.jobberWebUri, name)}* · ${escapeMrkdwn(client)}\n${detail}${account ? ` · _${escapeMrkdwn(account)}_` : ''}`,
      plain: `${name} — ${client} — ${detailPlain}${account ? ` — ${account}` : ''}`,
    };
  });
  const sum = sums[0]?.total ?? 0;
  const footer = total === 0 ? undefined : filter === 'pending' ? `${money(sum)} awaiting approval in all` : `${money(sum)} approved in all`;
  return listReply(
    filter === 'pending' ? 'Quotes awaiting the client' : 'Approved quotes',
    items,
    total,
    filter === 'pending' ? 'no quote is waiting on a client.' : 'no approved quotes synced yet.',
    footer,
  );
}
