import { WithStartWorkflowOperation, WorkflowUpdateFailedError, type Client } from '@temporalio/client';
import { TypedSearchAttributes } from '@temporalio/common';
import type { slackInstallationWorkflow } from '../../workflows';
import {
  SEARCH_ATTRIBUTES,
  slackInstallationSignal,
  slackInstallationUpdate,
  slackInstallationWorkflowId,
  type SlackInstallationRequest,
  type SlackInstallationResult,
  type SlackInstallationWorkflowInput,
} from '../../workflows/definitions';
import type { InstallationInfo, InstallationWriter, SlackRevocation } from '../slack/installations';

/** How long a caller waits for its request to be honoured (a human at the page, an alert's activity). */
const ASK_WAIT_MS = 30_000;
/** The Events API handler waits this long at most for a revocation to be honoured (Slack waits 3 s). */
const FORGET_WAIT_MS = 1_500;

/**
 * The ingress's and the worker's way to an installation's one writer, the account's Slack
 * installation workflow: an Update (with start) for what the caller waits for, a signal (with
 * start) for what it does not. Only ids cross: the grant's random id, a channel id, versions.
 */
export class SlackInstallationControl implements InstallationWriter {
  constructor(
    private readonly client: Client,
    /** The main task queue of the worker pair (a function: an activity learns it from its context). */
    private readonly taskQueue: string | (() => string),
    private readonly waitMs = ASK_WAIT_MS,
  ) {}

  private startOptions(accountId: string) {
    return {
      workflowId: slackInstallationWorkflowId(accountId),
      taskQueue: typeof this.taskQueue === 'string' ? this.taskQueue : this.taskQueue(),
      args: [{ accountId }] as [SlackInstallationWorkflowInput],
      typedSearchAttributes: new TypedSearchAttributes([{ key: SEARCH_ATTRIBUTES.accountId, value: accountId }]),
      staticSummary: `Slack installation of Jobber account ${accountId}`,
    };
  }

  private startOperation(accountId: string) {
    return new WithStartWorkflowOperation<typeof slackInstallationWorkflow>('slackInstallationWorkflow', {
      ...this.startOptions(accountId),
      workflowIdConflictPolicy: 'USE_EXISTING',
    });
  }

  /** Asks and waits for the answer. A run that was just ending is asked again (a new run then starts). */
  private async ask(accountId: string, request: SlackInstallationRequest): Promise<SlackInstallationResult> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.client.connection.withDeadline(Date.now() + this.waitMs, () =>
          this.client.workflow.executeUpdateWithStart(slackInstallationUpdate, {
            args: [request],
            startWorkflowOperation: this.startOperation(accountId),
          }),
        );
      } catch (err) {
        // Every request is idempotent (a grant is adopted once, a refresh names its version).
        if (err instanceof WorkflowUpdateFailedError || attempt >= 3) throw err;
      }
    }
  }

  private async tell(accountId: string, request: SlackInstallationRequest): Promise<void> {
    await this.client.workflow.signalWithStart<typeof slackInstallationWorkflow, [SlackInstallationRequest]>('slackInstallationWorkflow', {
      ...this.startOptions(accountId),
      signal: slackInstallationSignal,
      signalArgs: [request],
    });
  }

  async install(accountId: string, grantId: string): Promise<boolean> {
    return (await this.ask(accountId, { grantId })).done;
  }

  async chooseChannel(accountId: string, channelId: string): Promise<boolean> {
    return (await this.ask(accountId, { channelId })).done;
  }

  async refresh(accountId: string, staleVersion: number): Promise<InstallationInfo> {
    return (await this.ask(accountId, { refreshVersion: staleVersion })).info;
  }

  /** Waited for: an alert whose token was replaced meanwhile (a refresh, a reinstall) is retried with the new one. */
  async markBroken(accountId: string, tokenVersion: number, slackError: string): Promise<InstallationInfo> {
    return (await this.ask(accountId, { refusedVersion: tokenVersion, slackError })).info;
  }

  /**
   * Waits a moment for the tokens to be forgotten (so the page says so at once), but never past
   * Slack's 3 s: then the request is left as a signal, which the workflow honours in turn.
   */
  async forget(accountId: string, teamId: string, event: SlackRevocation): Promise<void> {
    const request: SlackInstallationRequest = { revoked: event, teamId };
    try {
      await this.client.connection.withDeadline(Date.now() + FORGET_WAIT_MS, () =>
        this.client.workflow.executeUpdateWithStart(slackInstallationUpdate, { args: [request], startWorkflowOperation: this.startOperation(accountId) }),
      );
    } catch {
      // Honoured twice at worst: forgetting is idempotent.
      await this.tell(accountId, request);
    }
  }

  async disconnect(accountId: string): Promise<void> {
    await this.ask(accountId, { disconnect: true });
  }
}
