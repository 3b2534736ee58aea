import { withDeadline } from '../deadline';
import type { Client } from '@temporalio/client';
import { TypedSearchAttributes } from '@temporalio/common';
import type { accountWorkflow } from '../../workflows';
import {
  accountStateQuery,
  accountWorkflowId,
  disconnectSignal,
  reconnectedSignal,
  SEARCH_ATTRIBUTES,
  syncNowSignal,
  type AccountTiming,
  type AccountWorkflowInput,
  type DisconnectRequest,
  type AccountWorkflowState,
} from '../../workflows/definitions';

/** What the web surfaces (OAuth callback, Manage App, Slack) ask of an account's workflow. */
export class AccountControl {
  constructor(
    private readonly client: Client,
    private readonly taskQueue: string,
    private readonly timing?: AccountTiming,
  ) {}

  private startOptions(accountId: string) {
    return {
      taskQueue: this.taskQueue,
      workflowId: accountWorkflowId(accountId),
      args: [{ accountId, timing: this.timing }] as [AccountWorkflowInput],
      typedSearchAttributes: new TypedSearchAttributes([{ key: SEARCH_ATTRIBUTES.accountId, value: accountId }]),
      staticSummary: `Jobber account ${accountId}`,
    };
  }

  /** After a connection is stored: start the account's workflow, or tell the running one. */
  async connected(accountId: string, tokenVersion: number): Promise<void> {
    await this.client.workflow.signalWithStart<typeof accountWorkflow, [{ tokenVersion: number }]>('accountWorkflow', {
      ...this.startOptions(accountId),
      signal: reconnectedSignal,
      signalArgs: [{ tokenVersion }],
    });
  }

  /** Disconnect from our UI: the workflow calls appDisconnect, then purges. Waits for it (bounded). */
  async disconnect(accountId: string, reason: string, waitMs = 15_000): Promise<void> {
    const handle = await this.client.workflow.signalWithStart<typeof accountWorkflow, [DisconnectRequest]>('accountWorkflow', {
      ...this.startOptions(accountId),
      signal: disconnectSignal,
      signalArgs: [{ callJobber: true, reason }],
    });
    await withDeadline(handle.result().catch(() => undefined), waitMs);
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
