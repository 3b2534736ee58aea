import { Client, Connection, WorkflowUpdateFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { accountWorkflowId, refreshAccessTokenUpdate } from '../../workflows/definitions';
import { followConnectFlow } from '../../src/dev/connect-flow';
import type { FaultSpec } from '../../src/sandbox/jobber/faults';
import { refreshGrants, startPipeline, waitFor, type Pipeline } from '../helpers/pipeline';

describe('a temporary refusal never costs the user their connection (sandbox token endpoint over HTTP)', () => {
  let p: Pipeline;

  beforeAll(async () => {
    // Tokens live an hour: the only refreshes are the ones a test asks for.
    p = await startPipeline('refusals', { sandbox: { accessTokenTtlSeconds: 3600 }, accountTiming: { brokenAlertGraceMs: 1000 } });
  });
  afterAll(async () => {
    await p?.close();
  });

  const stored = async (accountId: string) => (await p.models.Connection.findById(accountId).lean())!;
  const connect = async (name: string) => {
    const account = p.jobber.sandbox.store.createAccount({ name });
    await followConnectFlow(p.ingressUrl, account.id);
    await waitFor(async () => ((await p.control.state(account.id))?.backfill === 'done' ? true : undefined), 120_000);
    return account.id;
  };
  const refuse = (accountId: string, token: Partial<FaultSpec>) => p.jobber.sandbox.faults.add({ token, accountId });
  const refresh = async (accountId: string) =>
    p.temporal.client.workflow
      .getHandle(accountWorkflowId(accountId))
      .executeUpdate(refreshAccessTokenUpdate, { args: [{ staleVersion: (await stored(accountId)).tokenVersion }] });
  const credentialAlerts = () => p.slack.standIn.state.messages.filter((m) => m.text.includes('client credentials'));

  it('429, 408, 502, a network reset and invalid_client are retried with the refresh token kept; only invalid_grant ends the connection', async () => {
    const accountId = await connect('Patient Co');
    const other = await connect('Bystander Co');

    for (const fault of [{ status: 429, retryAfterSeconds: 5 }, { status: 408 }, { status: 502 }, { drop: true }]) {
      const before = await stored(accountId);
      const seen = refreshGrants(p, accountId).length;
      refuse(accountId, fault);
      const { version } = await refresh(accountId);
      // Refused once, then the same refresh token was accepted: rotated, still connected.
      const grants = refreshGrants(p, accountId).slice(seen);
      expect(grants.map((g) => g.outcome)).toEqual(['injected', 'accepted']);
      expect(grants[1]!.refreshToken).toBe(grants[0]!.refreshToken);
      expect(version).toBe(before.tokenVersion + 1);
      expect(await stored(accountId)).toMatchObject({ status: 'connected' });
      if (fault.status === 429) {
        // The retry waited as long as Jobber's Retry-After asked (more than the 2-second backoff).
        expect(Date.parse(grants[1]!.at) - Date.parse(grants[0]!.at)).toBeGreaterThanOrEqual(4900);
      }
    }

    // A misconfigured app: two accounts refused, one of them twice. Nobody is purged, both
    // refreshes go through once the credentials are accepted, operators hear of it once.
    const alertsBefore = credentialAlerts().length;
    refuse(accountId, { error: 'invalid_client', times: 2 });
    refuse(other, { error: 'invalid_client' });
    const versions = await Promise.all([refresh(accountId), refresh(other)]);
    expect(versions.every((v) => v.version > 0)).toBe(true);
    expect(
      refreshGrants(p, accountId)
        .slice(-3)
        .map((g) => g.outcome),
    ).toEqual(['injected', 'injected', 'accepted']);
    expect(
      refreshGrants(p, other)
        .slice(-2)
        .map((g) => g.outcome),
    ).toEqual(['injected', 'accepted']);
    expect(credentialAlerts()).toHaveLength(alertsBefore + 1);
    expect(await stored(accountId)).toMatchObject({ status: 'connected' });
    expect(await stored(other)).toMatchObject({ status: 'connected' });

    // Jobber's real refusal of the refresh token ends this connection, and only this one.
    refuse(accountId, { error: 'invalid_grant' });
    const refused = await refresh(accountId).catch((err: unknown) => err);
    expect(refused).toBeInstanceOf(WorkflowUpdateFailedError);
    expect(((refused as WorkflowUpdateFailedError).cause as ApplicationFailure).type).toBe('AccountDisconnected');
    const ended = await stored(accountId);
    expect(ended).toMatchObject({ status: 'broken' });
    expect(ended.refreshToken).toBeUndefined();
    expect((await p.temporal.client.workflow.getHandle(accountWorkflowId(accountId)).result()).status).toBe('broken');
    expect(p.slack.standIn.state.messages.filter((m) => m.text.includes('Patient Co'))).toHaveLength(1);
    expect(await stored(other)).toMatchObject({ status: 'connected' });
    expect(credentialAlerts()).toHaveLength(alertsBefore + 1);
  }, 180_000);

  it('a refusal after a 429 is reported as what it is, not as an interrupted refresh', async () => {
    const accountId = await connect('Honest Reason Co');
    refuse(accountId, { status: 429, retryAfterSeconds: 1 });
    refuse(accountId, { error: 'invalid_grant' });
    await expect(refresh(accountId)).rejects.toThrow(WorkflowUpdateFailedError);
    const ended = await stored(accountId);
    expect(ended).toMatchObject({ status: 'broken' });
    expect(ended.statusReason).toMatch(/Jobber refused the refresh token/);
  }, 120_000);

  it('a refresh Update that fails for any reason but a disconnect is retried: the event syncs, never "disconnected"', async () => {
    const accountId = await connect('Unlucky Timing Co');
    p.jobber.sandbox.oauth.expireAccessTokens(p.jobber.sandbox.store.accountNumber(accountId)!);
    // Temporal unreachable for the activities while they ask for the refresh.
    const real = p.deps.temporal;
    const nowhere = Connection.lazy({ address: '127.0.0.1:1' });
    p.deps.temporal = new Client({ connection: nowhere });
    try {
      const { webhookIds, result: client } = p.jobber.sandbox.webhooks.capture(() =>
        p.jobber.sandbox.store.createClient(accountId, { firstName: 'Persistent' }),
      );
      const workflowId = p.workflowOf(p.jobber.sandbox.webhooks.get(webhookIds[0]!)!);
      // Until the first attempt has failed, or the event has ended.
      await waitFor(async () => {
        const d = await p.temporal.client.workflow
          .getHandle(workflowId)
          .describe()
          .catch(() => undefined);
        if (!d) return undefined;
        return d.status.name !== 'RUNNING' || (d.raw.pendingActivities ?? []).some((a) => (a.attempt ?? 0) >= 2) ? true : undefined;
      }, 90_000);
      p.deps.temporal = real;
      expect(await p.outcomes(webhookIds)).toEqual([expect.objectContaining({ status: 'synced' })]);
      expect((await p.models.Client.findById(client.id).lean())?.firstName).toBe('Persistent');
      expect(await stored(accountId)).toMatchObject({ status: 'connected' });
    } finally {
      p.deps.temporal = real;
      await nowhere.close();
    }
  }, 180_000);

  it('no account workflow running while MongoDB says connected: the event is retried until one refreshes, not failed', async () => {
    const accountId = await connect('Restarted Co');
    await p.temporal.client.workflow.getHandle(accountWorkflowId(accountId)).terminate('an operator stopped it');
    p.jobber.sandbox.oauth.expireAccessTokens(p.jobber.sandbox.store.accountNumber(accountId)!);
    const { webhookIds, result: client } = p.jobber.sandbox.webhooks.capture(() => p.jobber.sandbox.store.createClient(accountId, { firstName: 'Waited' }));
    const workflowId = p.workflowOf(p.jobber.sandbox.webhooks.get(webhookIds[0]!)!);
    await waitFor(async () => {
      const d = await p.temporal.client.workflow
        .getHandle(workflowId)
        .describe()
        .catch(() => undefined);
      if (!d) return undefined;
      return d.status.name !== 'RUNNING' || (d.raw.pendingActivities ?? []).some((a) => (a.attempt ?? 0) >= 2) ? true : undefined;
    }, 90_000);
    // The account workflow is started again, as an operator would (docs/OPERATIONS.md's runbook).
    await p.temporal.client.workflow.start('accountWorkflow', {
      taskQueue: p.worker.taskQueue,
      workflowId: accountWorkflowId(accountId),
      args: [{ accountId }],
    });
    expect(await p.outcomes(webhookIds)).toEqual([expect.objectContaining({ status: 'synced' })]);
    expect((await p.models.Client.findById(client.id).lean())?.firstName).toBe('Waited');
  }, 180_000);

  it('when Jobber says the user disconnected, the account workflow forgets the tokens (one writer) and operators hear once', async () => {
    const accountId = await connect('Quiet Leaver Co');
    const { result: client } = p.jobber.sandbox.webhooks.capture(() =>
      p.jobber.sandbox.store.createClient(accountId, { firstName: 'Left' }, { webhook: false }),
    );
    p.jobber.sandbox.disconnect(accountId, { hold: true }); // the APP_DISCONNECT is late
    const first = p.jobber.sandbox.webhooks.capture(() => p.jobber.sandbox.store.updateClient(client.id, { firstName: 'Left 2' }));
    const second = p.jobber.sandbox.webhooks.capture(() => p.jobber.sandbox.store.updateClient(client.id, { firstName: 'Left 3' }));
    const outcomes = await p.outcomes([...first.webhookIds, ...second.webhookIds]);
    expect(outcomes.every((o) => o.status === 'disconnected' || (o.status === 'recorded' && o.reason === 'account disconnected'))).toBe(true);
    // The purge was the account workflow's: it ended 'disconnected' with the tokens gone.
    const final = await p.temporal.client.workflow.getHandle(accountWorkflowId(accountId)).result();
    expect(final.status).toBe('disconnected');
    const connection = await stored(accountId);
    expect(connection).toMatchObject({ status: 'disconnected', statusReason: 'Jobber says the user disconnected this app' });
    expect(connection.accessToken).toBeUndefined();
    expect(connection.refreshToken).toBeUndefined();
    expect(p.slack.standIn.state.messages.filter((m) => m.text.includes('Quiet Leaver Co'))).toHaveLength(1);
  }, 120_000);
});
