import { escapeMrkdwn, LIST_CAP, listReply, plainDate, slackDate, truncate, type ListItem, type SlackReply } from '../format';
import { filterWord, labelOf, liveIn, oneOf, QUERY_MAX_MS, scopeOf, type CommandDeps, type ListQuery, type Scope } from './common';
import { helpReply } from './help';
import { dayBounds } from './jobs';

export const VISIT_FILTERS = ['today', 'tomorrow', 'week'] as const;
type VisitFilter = (typeof VISIT_FILTERS)[number];

/** `/jobber visits [today|tomorrow|week]`: visits by start time, today's by default (the business's day). */
export async function visits(deps: CommandDeps, accountIds: string[], arg: string, command: string): Promise<SlackReply> {
  const filter = filterWord(arg, VISIT_FILTERS, 'today');
  if (!filter) return helpReply(command, `Unknown visits filter "${truncate(arg, 40)}": use ${oneOf(VISIT_FILTERS)}.`);
  return listVisits(deps, await scopeOf(deps, accountIds), filter);
}

/** The instants a filter covers: today, tomorrow, or seven days from the start of today (calendar days in `timeZone`). */
export function visitWindow(now: Date, timeZone: string, filter: VisitFilter): { start: Date; end: Date } {
  const today = dayBounds(now, timeZone);
  if (filter === 'today') return today;
  if (filter === 'tomorrow') return dayBounds(today.end, timeZone);
  let end = today.end;
  for (let day = 1; day < 7; day++) end = dayBounds(end, timeZone).end;
  return { start: today.start, end };
}

export function visitsQuery(accountIds: string[], window: { start: Date; end: Date }): ListQuery {
  return { kind: 'visit', filter: { ...liveIn(accountIds), startAt: { $gte: window.start, $lt: window.end } }, sort: { startAt: 1, _id: 1 } };
}

const TITLES: Record<VisitFilter, string> = { today: 'Visits today', tomorrow: 'Visits tomorrow', week: 'Visits in the next 7 days' };
const EMPTY: Record<VisitFilter, string> = { today: 'no visits today.', tomorrow: 'no visits tomorrow.', week: 'no visits in the next 7 days.' };

async function listVisits(deps: CommandDeps, scope: Scope, filter: VisitFilter): Promise<SlackReply> {
  const q = visitsQuery(scope.accountIds, visitWindow(deps.now(), deps.timeZone ?? 'UTC', filter));
  const [docs, total] = await Promise.all([
    deps.models.Visit.find(q.filter).sort(q.sort!).limit(LIST_CAP).maxTimeMS(QUERY_MAX_MS).lean(),
    deps.models.Visit.countDocuments(q.filter).maxTimeMS(QUERY_MAX_MS),
  ]);
  // Where each goes: its property's address, read by _id (the scope's accounts only).
  const propertyIds = [...new Set(docs.map((v) => v.propertyId).filter((id): id is string => Boolean(id)))];
  const properties = propertyIds.length
    ? await deps.models.Property.find({ _id: { $in: propertyIds }, ...liveIn(scope.accountIds) }, { street: 1, city: 1 })
        .maxTimeMS(QUERY_MAX_MS)
        .lean()
    : [];
  const addressOf = new Map(properties.map((p) => [p._id, [p.street, p.city].filter(Boolean).join(', ')]));
  const items: ListItem[] = docs.map((v) => {
    const name = `${truncate(v.title || 'Visit', 80)} (job #${v.jobNumber ?? '?'})`;
    const client = truncate(v.clientName || 'Unknown client', 80);
    const account = labelOf(scope, v.accountId);
    const where = v.propertyId ? addressOf.get(v.propertyId) : undefined;
    const done = v.isComplete || v.completedAt ? 'completed' : 'to do';
    const whereText = where ? truncate(where, 120) : undefined;
    return {
      mrkdwn:
        `*${escapeMrkdwn(name)}* · ${escapeMrkdwn(client)}\n` +
        `${slackDate(v.startAt)} · ${done}${whereText ? ` · ${escapeMrkdwn(whereText)}` : ''}${account ? ` · _${escapeMrkdwn(account)}_` : ''}`,
      plain: `${name} — ${client} — ${plainDate(v.startAt)} — ${done}${whereText ? ` — ${whereText}` : ''}${account ? ` — ${account}` : ''}`,
    };
  });
  return listReply(TITLES[filter], items, total, EMPTY[filter]);
}
