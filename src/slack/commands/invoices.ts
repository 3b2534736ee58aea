import { escapeMrkdwn, LIST_CAP, link, listReply, money, plainDate, slackDate, truncate, type ListItem, type SlackReply } from '../format';
import { labelOf, QUERY_MAX_MS, scopeOf, type CommandDeps, type Scope } from './common';
import { helpReply } from './help';

export const INVOICE_FILTERS = ['unpaid', 'overdue', 'paid'] as const;
type InvoiceFilter = (typeof INVOICE_FILTERS)[number];

/** `/jobber invoices [unpaid|overdue|paid]`: unpaid by default, with what is owed in all. */
export async function invoices(deps: CommandDeps, accountIds: string[], arg: string, command: string): Promise<SlackReply> {
  const filter = (arg.toLowerCase() || 'unpaid') as InvoiceFilter;
  if (!INVOICE_FILTERS.includes(filter)) return helpReply(command, `Unknown invoices filter "${truncate(arg, 40)}": use unpaid, overdue or paid.`);
  return listInvoices(deps, await scopeOf(deps, accountIds), filter);
}

const UNPAID = ['awaiting_payment', 'past_due'];

async function listInvoices(deps: CommandDeps, scope: Scope, filter: InvoiceFilter): Promise<SlackReply> {
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
      : deps.models.Invoice.aggregate<{ balance: number }>([{ $match: query }, { $group: { _id: null, balance: { $sum: '$invoiceBalance' } } }]).option({
          maxTimeMS: QUERY_MAX_MS,
        }),
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
