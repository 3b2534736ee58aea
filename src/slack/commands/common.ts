/** What every subcommand shares: its dependencies, the query time limit, the accounts it reads. */
import type { Models } from '../../db/models';
import type { AccountControl } from '../../workflow-client/account-control';
import type { Logger } from '../../logger';

export interface CommandDeps {
  models: Models;
  control: Pick<AccountControl, 'syncNow'>;
  logger: Logger;
  now: () => Date;
  /** IANA zone that "today" means (the business's); default UTC. */
  timeZone?: string;
  /** Which accounts a workspace sees: its installations, else the operator's links. */
  accountsOfWorkspace?: (teamId: string) => Promise<string[]>;
  /** Where a business adds Jobber Sync to its workspace (the Manage App page). */
  installUrl?: string;
}

/** Reads from MongoDB answer within Slack's 3 seconds or give up (the router answers meanwhile). */
export const QUERY_MAX_MS = 2_500;

export interface Scope {
  accountIds: string[];
  /** Account names, only when more than one account is linked (else items need no label). */
  labels?: Map<string, string>;
}

/** The accounts a command reads, with their names when there is more than one to tell apart. */
export async function scopeOf(deps: CommandDeps, accountIds: string[]): Promise<Scope> {
  if (accountIds.length < 2) return { accountIds };
  const connections = await deps.models.Connection.find({ _id: { $in: accountIds } }, { name: 1 })
    .maxTimeMS(QUERY_MAX_MS)
    .lean();
  return { accountIds, labels: new Map(connections.map((c) => [c._id, c.name || c._id])) };
}

export const labelOf = (scope: Scope, accountId: string): string | undefined => (scope.labels ? (scope.labels.get(accountId) ?? accountId) : undefined);

/**
 * One list a subcommand reads: the collection (a record kind), the filter and the sort. Built apart
 * from running it so that test/slack/command-indexes.test.ts can check an index serves each one.
 */
export interface ListQuery {
  kind: string;
  filter: Record<string, unknown>;
  sort?: Record<string, 1 | -1>;
}

/** What every list starts from: the scope's accounts, tombstones left out. */
export const liveIn = (accountIds: string[]): { accountId: { $in: string[] }; deletedAt: null } => ({ accountId: { $in: accountIds }, deletedAt: null });

/** A filter word of a subcommand, lowercased, or its default; undefined when it is none of `allowed`. */
export function filterWord<T extends string>(arg: string, allowed: readonly T[], fallback: T): T | undefined {
  const word = (arg.trim().toLowerCase() || fallback) as T;
  return allowed.includes(word) ? word : undefined;
}

/** `a, b or c` for a bad-filter answer. */
export const oneOf = (words: readonly string[]): string =>
  words.length < 2 ? words.join('') : `${words.slice(0, -1).join(', ')} or ${words[words.length - 1]}`;
