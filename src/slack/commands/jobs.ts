import { escapeMrkdwn, LIST_CAP, link, listReply, money, plainDate, slackDate, truncate, type ListItem, type SlackReply } from '../format';
import { labelOf, QUERY_MAX_MS, scopeOf, type CommandDeps, type Scope } from './common';
import { helpReply } from './help';

export const JOB_FILTERS = ['recent', 'today', 'upcoming'] as const;
type JobFilter = (typeof JOB_FILTERS)[number];

/** `/jobber jobs [recent|today|upcoming]`: newest first, or today's and upcoming ones by start time. */
export async function jobs(deps: CommandDeps, accountIds: string[], arg: string, command: string): Promise<SlackReply> {
  const filter = (arg.toLowerCase() || 'recent') as JobFilter;
  if (!JOB_FILTERS.includes(filter)) return helpReply(command, `Unknown jobs filter "${truncate(arg, 40)}": use recent, today or upcoming.`);
  return listJobs(deps, await scopeOf(deps, accountIds), filter);
}

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

async function listJobs(deps: CommandDeps, scope: Scope, filter: JobFilter): Promise<SlackReply> {
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
