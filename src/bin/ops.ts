import { parseArgs } from 'node:util';
import { loadStoresConfig } from '../config';
import { connectDatabase } from '../db/models';
import { connectClient } from '../workflow-client/connection';
import { AccountControl } from '../workflow-client/account-control';
import { listDeadLetters, replayDeadLetter, showAccount, type OpsDeps } from '../ops/operations';
import { linkedAccounts, linkWorkspace, unlinkWorkspace } from '../db/slack-links';

const USAGE = `Usage: npm run ops -- <command>

  dead-letters list [--status open|replayed|resolved|all]   events that failed for good
  dead-letters replay <id>... | --all                       run them again
  account show <accountId>                                   connection, workflow state, backlog
  account resync <accountId>                                 reconcile with Jobber now
  slack link <teamId> <accountId>                            let a Slack workspace see an account
  slack unlink <teamId> [accountId]                          take it back (all accounts without one)

Reads MONGO_URL and TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_TASK_QUEUE (see .env.example).`;

async function run(deps: OpsDeps, positionals: string[], values: { status?: string; all?: boolean }): Promise<unknown> {
  const [group, command, ...args] = positionals;
  if (group === 'dead-letters' && command === 'list') {
    const status = (values.status ?? 'open') as 'open' | 'replayed' | 'resolved' | 'all';
    if (!['open', 'replayed', 'resolved', 'all'].includes(status)) throw new UsageError(`unknown status ${status}`);
    return (await listDeadLetters(deps.models, status)).map((d) => ({
      id: d._id,
      status: d.status,
      topic: (d.event as { topic?: string } | undefined)?.topic ?? (d.webhook ? 'malformed webhook' : undefined),
      error: d.error,
      errorType: d.errorType,
      attempts: d.attempts,
      failedAt: d.failedAt,
    }));
  }
  if (group === 'dead-letters' && command === 'replay') {
    // `--all` with nothing open is not a mistake: the runbook runs it whether or not any failed.
    if (values.all) {
      if (args.length) throw new UsageError('give workflow ids or --all, not both');
    } else if (args.length === 0) throw new UsageError('name the dead letters to replay, or --all');
    const ids = values.all ? (await listDeadLetters(deps.models, 'open')).map((d) => d._id) : args;
    const results = [];
    for (const id of ids) results.push(await replayDeadLetter(deps, id).catch((err: Error) => ({ deadLetter: id, status: `error: ${err.message}` })));
    return results;
  }
  if (group === 'account' && command === 'show' && args[0]) return showAccount(deps, args[0]);
  if (group === 'account' && command === 'resync' && args[0]) {
    await deps.control.syncNow(args[0]);
    return { accountId: args[0], status: 'sync requested' };
  }
  if (group === 'slack' && command === 'link' && args[0] && args[1]) {
    if (!(await deps.models.Connection.exists({ _id: args[1] }))) throw new Error(`no connection for account ${args[1]}: connect it first`);
    await linkWorkspace(deps.models.SlackLink, args[0], args[1], { linkedBy: 'ops cli' });
    return { teamId: args[0], accounts: await linkedAccounts(deps.models.SlackLink, args[0]) };
  }
  if (group === 'slack' && command === 'unlink' && args[0]) {
    const removed = await unlinkWorkspace(deps.models.SlackLink, args[0], args[1]);
    return { teamId: args[0], removed, accounts: await linkedAccounts(deps.models.SlackLink, args[0]) };
  }
  throw new UsageError(positionals.length ? `unknown command: ${positionals.join(' ')}` : 'no command');
}

class UsageError extends Error {}

async function main() {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: { status: { type: 'string' }, all: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help || positionals.length === 0) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const config = loadStoresConfig();
  const { connection: mongo, models } = await connectDatabase(config.mongoUrl);
  const { client, connection } = await connectClient(config.temporal);
  try {
    const deps = {
      models,
      client,
      taskQueue: config.temporal.taskQueue,
      control: new AccountControl(client, config.temporal.taskQueue),
    };
    process.stdout.write(`${JSON.stringify(await run(deps, positionals, values), null, 2)}\n`);
  } finally {
    await connection.close();
    await mongo.close();
  }
}

main().catch((err) => {
  console.error(err instanceof UsageError ? `${err.message}\n\n${USAGE}` : err instanceof Error ? err.message : err);
  process.exit(err instanceof UsageError ? 2 : 1);
});
