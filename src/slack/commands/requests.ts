import { escapeMrkdwn, LIST_CAP, link, listReply, plainDate, slackDate, truncate, type ListItem, type SlackReply } from '../format';
import { filterWord, labelOf, liveIn, oneOf, QUERY_MAX_MS, scopeOf, type CommandDeps, type ListQuery, type Scope } from './common';
import { helpReply } from './help';

export const REQUEST_FILTERS = ['new', 'all'] as const;
type RequestFilter = (typeof REQUEST_FILTERS)[number];

/** Jobber's request statuses that are still open: not converted to a quote or job, archived or completed. */
export const OPEN_REQUEST_STATUSES = ['new', 'assessment_completed', 'upcoming', 'overdue', 'unscheduled', 'today'];

/** `/jobber requests [new|all]`: new requests (leads nobody has acted on) by default, newest first. */
export async function requests(deps: CommandDeps, accountIds: string[], arg: string, command: string): Promise<SlackReply> {
  const filter = filterWord(arg, REQUEST_FILTERS, 'new');
  if (!filter) return helpReply(command, `Unknown requests filter "${truncate(arg, 40)}": use ${oneOf(REQUEST_FILTERS)}.`);
  return listRequests(deps, await scopeOf(deps, accountIds), filter);
}

export function requestsQuery(accountIds: string[], filter: RequestFilter): ListQuery {
  return filter === 'new'
    ? { kind: 'request', filter: { ...liveIn(accountIds), requestStatus: 'new' }, sort: { createdAt: -1, _id: 1 } }
    : { kind: 'request', filter: liveIn(accountIds), sort: { createdAt: -1, _id: 1 } };
}

const words = (status: string | null | undefined): string => (status ? status.replace(/_/g, ' ') : 'unknown');

async function listRequests(deps: CommandDeps, scope: Scope, filter: RequestFilter): Promise<SlackReply> {
  const q = requestsQuery(scope.accountIds, filter);
  const [docs, total] = await Promise.all([
    deps.models.Request.find(q.filter).sort(q.sort!).limit(LIST_CAP).maxTimeMS(QUERY_MAX_MS).lean(),
    deps.models.Request.countDocuments(q.filter).maxTimeMS(QUERY_MAX_MS),
  ]);
  const items: ListItem[] = docs.map((r) => {
    const title = truncate(r.title || 'Untitled request', 80);
    const who = truncate(r.clientName || r.companyName || r.contactName || 'Unknown client', 80);
    const contact = [r.email, r.phone].filter((s): s is string => Boolean(s)).map((s) => truncate(s, 80));
    const account = labelOf(scope, r.accountId);
    const status = filter === 'all' ? words(r.requestStatus) : undefined;
    const detail = [`received ${slackDate(r.createdAt)}`, ...(r.source ? [escapeMrkdwn(`from ${r.source}`)] : []), ...contact.map(escapeMrkdwn)];
    const detailPlain = [`received ${plainDate(r.createdAt)}`, ...(r.source ? [`from ${r.source}`] : []), ...contact];
    return {
      mrkdwn:
        `*${link(r.jobberWebUri, title)}* · ${escapeMrkdwn(who)}${status ? ` · ${escapeMrkdwn(status)}` : ''}\n` +
        `${detail.join(' · ')}${account ? ` · _${escapeMrkdwn(account)}_` : ''}`,
      plain: `${title} — ${who}${status ? ` — ${status}` : ''} — ${detailPlain.join(' — ')}${account ? ` — ${account}` : ''}`,
    };
  });
  return listReply(filter === 'new' ? 'New requests' : 'Requests', items, total, filter === 'new' ? 'no new requests.' : 'no requests synced yet.');
}
