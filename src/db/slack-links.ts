/** Operator links of Slack workspaces to Jobber accounts: the `slack_links` collection (schema in ./models). */
import type { Models } from './models';

const TEAM_ID = /^[TE][A-Z0-9]{2,30}$/;
const ACCOUNT_ID = /^[A-Za-z0-9+/=_:.-]{1,200}$/;

export class SlackLinkInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SlackLinkInputError';
  }
}

function check(teamId: string, accountId?: string): void {
  // Swapped arguments are the likely operator slip; a Slack team id never looks like an EncodedId.
  if (!TEAM_ID.test(teamId)) throw new SlackLinkInputError(`"${teamId}" is not a Slack team id (like T0123ABCD)`);
  if (accountId !== undefined && !ACCOUNT_ID.test(accountId)) throw new SlackLinkInputError(`"${accountId}" is not a Jobber account id`);
}

/** Lets the workspace see the account; idempotent. Returns the accounts linked afterwards. */
export async function linkWorkspace(
  model: Models['SlackLink'],
  teamId: string,
  accountId: string,
  options: { linkedBy?: string; now?: Date } = {},
): Promise<{ teamId: string; accountIds: string[] }> {
  check(teamId, accountId);
  const doc = await model
    .findOneAndUpdate(
      { _id: teamId },
      { $addToSet: { accountIds: accountId }, $set: { linkedAt: options.now ?? new Date(), linkedBy: options.linkedBy ?? 'ops' } },
      { upsert: true, returnDocument: 'after' },
    )
    .lean();
  return { teamId, accountIds: doc?.accountIds ?? [accountId] };
}

/**
 * Takes the account away from the workspace, or every account when none is named (the row goes).
 * Returns whether anything changed.
 */
export async function unlinkWorkspace(model: Models['SlackLink'], teamId: string, accountId?: string): Promise<boolean> {
  check(teamId, accountId);
  if (accountId === undefined) return (await model.deleteOne({ _id: teamId })).deletedCount > 0;
  const result = await model.updateOne({ _id: teamId, accountIds: accountId }, { $pull: { accountIds: accountId } });
  return result.modifiedCount > 0;
}

/** The accounts a workspace may see; empty when it is not linked. */
export async function linkedAccounts(model: Models['SlackLink'], teamId: string): Promise<string[]> {
  const doc = await model.findById(teamId, { accountIds: 1 }).lean();
  return doc?.accountIds ?? [];
}
