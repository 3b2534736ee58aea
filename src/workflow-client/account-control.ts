import { withDeadline } from '../deadline';
import type { Client } from '@temporalio/client';
import type { SignalDefinition } from '@temporalio/common';
import { TypedSearchAttributes } from '@temporalio/common';
import type { accountWorkflow } from '../../workflows';
import {
  accountStateQuery,
  accountWorkflowId,
  disconnectSignal,
  grantSignal,
  SEARCH_ATTRIBUTES,
  syncNowSignal,
  type AccountTiming,
  type AccountWorkflowInput,
  type DisconnectRequest,
  type AccountWorkflowState,
} from '../../workflows/definitions';

/** Signals the account's workflow, starting it first if none runs (the same options wherever it starts). */
export async function signalWithStartAccount<Arg>(
  client: Client,
  taskQueue: string,
  accountId: string,
  signal: SignalDefinition<[Arg]>,
  arg: Arg,
  timing?: AccountTiming,
) {
  return client.workflow.signalWithStart<typeof accountWorkflow, [Arg]>('accountWorkflow', {
    taskQueue,
    workflowId: accountWorkflowId(accountId),
    args: [{ accountId, timing }] as [AccountWorkflowInput],
    typedSearchAttributes: new TypedSearchAttributes([{ key: SEARCH_ATTRIBUTES.accountId, value: accountId }]),
    staticSummary: `Jobber account ${accountId}`,
    signal,
    signalArgs: [arg],
  });
}

/** What the web surfaces (OAuth callback, Manage App, Slack) ask of an account's workflow. */
export class AccountControl {
  constructor(
    private readonly client: Client,
    private readonly taskQueue: string,
    private readonly timing?: AccountTiming,
  ) {}

  /** After the OAuth callback stored a grant: the account's workflow (started if need be) adopts it. */
  async connected(accountId: string, grantId: string): Promise<void> {
    await signalWithStartAccount(this.client, this.taskQueue, accountId, grantSignal, { grantId }, this.timing);
  }

  /** Disconnect from our UI: the workflow calls appDisconnect, then purges. Waits for it (bounded). */
  async disconnect(accountId: string, reason: string, waitMs = 15_000): Promise<void> {
    const handle = await signalWithStartAccount<DisconnectRequest>(
      this.client,
      this.taskQueue,
      accountId,
      disconnectSignal,
      { callJobber: true, reason },
      this.timing,
    );
    await withDeadline(
      handle.result().catch(() => undefined),
      waitMs,
    );
  }

  async syncNow(accountId: string): Promise<void> {
    await this.client.workflow.getHandle(accountWorkflowId(accountId)).signal(syncNowSignal);
  }

  async state(accountId: string): Promise<AccountWorkflowState | undefined> {
    try {
      const handle = this.client.workflow.getHandle(accountWorkflowId(accountId));
      // A closed (terminated, failed, ended) workflow still answers queries from its history:
      // that state is stale, and the account gets no refreshes, so it counts as not running.
      if ((await handle.describe()).status.name !== 'RUNNING') return undefined;
      return await handle.query(accountStateQuery);
    } catch {
      return undefined;
    }
  }
}
