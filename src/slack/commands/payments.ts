import { escapeMrkdwn, LIST_CAP, link, listReply, money, plainDate, slackDate, truncate, type ListItem, type SlackReply } from '../format';
import { filterWord, labelOf, liveIn, oneOf, QUERY_MAX_MS, scopeOf, type CommandDeps, type ListQuery, type Scope } from './common';
import { helpReply } from './help';

export const PAYMENT_FILTERS = ['recent'] as const;
type PaymentFilter = (typeof PAYMENT_FILTERS)[number];

/** The footer's sum covers this many days back from now. */
export const PAYMENT_SUM_DAYS = 30;

/** `/jobber payments [recent]`: the newest payments first, with what came in over the last 30 days. */
export async function payments(deps: CommandDeps, accountIds: string[], arg: string, command: string): Promise<SlackReply> {
  const filter = filterWord(arg, PAYMENT_FILTERS, 'recent');
  if (!filter) return helpReply(command, `Unknown payments filter "${truncate(arg, 40)}": use ${oneOf(PAYMENT_FILTERS)}.`);
  return listPayments(deps, await scopeOf(deps, accountIds), filter);
}

export function paymentsQuery(accountIds: string[]): ListQuery {
  return { kind: 'payment', filter: liveIn(accountIds), sort: { entryDate: -1, _id: 1 } };
}

/** The payments the footer sums: entered since `since`. */
export function paymentsSinceQuery(accountIds: string[], since: Date): ListQuery {
  return { kind: 'payment', filter: { ...liveIn(accountIds), entryDate: { $gte: since } } };
}

/** How it was paid: Jobber's payment type, else its record type without the suffix (CashPaymentRecord → cash). */
function method(p: { paymentType?: string | null; recordType?: string | null }): string {
  if (p.paymentType) return p.paymentType.replace(/_/g, ' ').toLowerCase();
  const named = p.recordType?.replace(/PaymentRecord$/, '').replace(/([a-z])([A-Z])/g, '$1 $2');
  return named ? named.toLowerCase() : 'unknown method';
}

async function listPayments(deps: CommandDeps, scope: Scope, _filter: PaymentFilter): Promise<SlackReply> {
  const q = paymentsQuery(scope.accountIds);
  const since = new Date(deps.now().getTime() - PAYMENT_SUM_DAYS * 86_400_000);
  const sinceQ = paymentsSinceQuery(scope.accountIds, since);
  const [docs, total, sums] = await Promise.all([
    deps.models.Payment.find(q.filter).sort(q.sort!).limit(LIST_CAP).maxTimeMS(QUERY_MAX_MS).lean(),
    deps.models.Payment.countDocuments(q.filter).maxTimeMS(QUERY_MAX_MS),
    deps.models.Payment.aggregate<{ amount: number }>([{ $match: sinceQ.filter }, { $group: { _id: null, amount: { $sum: '$amount' } } }]).option({
      maxTimeMS: QUERY_MAX_MS,
    }),
  ]);
  // A payment has no page of its own in Jobber: its line opens its invoice (read by _id, in scope).
  const invoiceIds = [...new Set(docs.map((p) => p.invoiceId).filter((id): id is string => Boolean(id)))];
  const invoices = invoiceIds.length
    ? await deps.models.Invoice.find({ _id: { $in: invoiceIds }, accountId: { $in: scope.accountIds } }, { jobberWebUri: 1 })
        .maxTimeMS(QUERY_MAX_MS)
        .lean()
    : [];
  const invoiceUri = new Map(invoices.map((i) => [i._id, i.jobberWebUri]));
  const items: ListItem[] = docs.map((p) => {
    const adjustment = p.adjustmentType && p.adjustmentType !== 'PAYMENT' ? ` (${p.adjustmentType.replace(/_/g, ' ').toLowerCase()})` : '';
    const name = `${money(p.amount)}${adjustment}`;
    const client = truncate(p.clientName || 'Unknown client', 80);
    const invoice = p.invoiceNumber ? `Invoice #${p.invoiceNumber}` : 'no invoice';
    const account = labelOf(scope, p.accountId);
    const how = method(p);
    return {
      mrkdwn:
        `*${escapeMrkdwn(name)}* · ${escapeMrkdwn(client)}\n` +
        `${slackDate(p.entryDate, false)} · ${escapeMrkdwn(how)} · ${link(p.invoiceId ? invoiceUri.get(p.invoiceId) : undefined, invoice)}${account ? ` · _${escapeMrkdwn(account)}_` : ''}`,
      plain: `${name} — ${client} — ${plainDate(p.entryDate, false)} — ${how} — ${invoice}${account ? ` — ${account}` : ''}`,
    };
  });
  const footer = total === 0 ? undefined : `${money(sums[0]?.amount ?? 0)} received in the last ${PAYMENT_SUM_DAYS} days`;
  return listReply('Recent payments', items, total, 'no payments synced yet.', footer);
}
