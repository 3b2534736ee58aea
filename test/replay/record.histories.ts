/**
 * Records the histories that test/replay/replay.test.ts replays. Run after an intended change to
 * workflow code has been made safe (patched or versioned): `npm run record-histories`.
 * Not part of `npm test` (its name does not end in .test.ts).
 */
import { writeFileSync } from 'node:fs';
import { historyToJSON } from '@temporalio/common/lib/proto-utils';
import path from 'node:path';
import { followConnectFlow } from '../../src/dev/connect-flow';
import { accountWorkflowId, recordWorkflowId, refreshAccessTokenUpdate } from '../../workflows/definitions';
import { refreshRecordThroughWorkflow } from '../../src/workflow-client/refresh-record';
import { startPipeline, waitFor, type Pipeline } from '../helpers/pipeline';

const OUT = path.join(__dirname, 'histories');
/**
 * Bump with each recording and keep the older files: together they are the shapes of histories
 * that may still be running somewhere. v1: before the account-status-in-activities patch;
 * v2: before broken-alert-after-grace; v3: before the tokens-*, accounts-* and events-* patches
 * (accounts queue, scaled refresh-ahead, grants and the request queue, fetch after the second);
 * v4: before events-outcome-local-activity, records-registry, backfill-kinds-from-registry and the
 * OpenTelemetry interceptors (v5 histories carry their trace header); v6: the first with the record
 * workflow (jobberRecordWorkflow), which takes every record's webhooks since; event workflows keep
 * APP_DISCONNECT and the topics not synced; v7: settled-keys (a resend after its record's run
 * ended is checked against the outcomes before any fetch); v8: outcomes-with-sync (a batch that
 * ends with its fetch, no alert due, has its outcomes written by syncRecord, with no local activity).
 */
const VERSION = 'v8';

describe('record workflow histories', () => {
  let p: Pipeline;
  beforeAll(async () => {
    p = await startPipeline('record');
  });
  afterAll(async () => {
    await p?.close();
  });

  const save = async (name: string, workflowId: string) => {
    const history = await p.temporal.client.workflow.getHandle(workflowId).fetchHistory();
    // Temporal's proto JSON, the format `temporal workflow show --output json` writes too.
    writeFileSync(path.join(OUT, `${VERSION}-${name}.json`), historyToJSON(history));
  };

  it('records an event lifecycle, a failed event, and an account workflow', async () => {
    const account = p.jobber.sandbox.store.createAccount({ name: 'Replay Co' });
    await followConnectFlow(p.ingressUrl, account.id);
    await waitFor(async () => ((await p.control.state(account.id))?.backfill === 'done' ? true : undefined));

    const client = p.jobber.sandbox.webhooks.capture(() => p.jobber.sandbox.store.createClient(account.id, { companyName: 'Replay Lawns' }));
    const job = p.jobber.sandbox.webhooks.capture(() => p.jobber.sandbox.store.createJob(account.id, { clientId: client.result.id, title: 'Replay' }));
    p.jobber.sandbox.faults.add({ graphql: { status: 503, times: 1, operationName: 'Job' } });
    await p.outcomes([...client.webhookIds, ...job.webhookIds]);
    await save('record-job-create-with-retry-and-alert', recordWorkflowId(account.id, 'job', job.result.id));

    const request = p.jobber.sandbox.webhooks.capture(() =>
      p.jobber.sandbox.store.createRequest(account.id, { clientId: client.result.id, title: 'Replay request' }),
    );
    await p.outcomes(request.webhookIds);
    await save('record-request-create', recordWorkflowId(account.id, 'request', request.result.id));

    // Jobber sends the request's webhook again after its run ended: a new run that fetches nothing.
    const requestRecord = p.temporal.client.workflow.getHandle(recordWorkflowId(account.id, 'request', request.result.id));
    await requestRecord.result();
    const { runId: firstRun } = await requestRecord.describe();
    const resend = p.jobber.sandbox.webhooks.enqueue(p.jobber.sandbox.webhooks.get(request.webhookIds[0]!)!.event);
    await waitFor(() => (p.jobber.sandbox.webhooks.get(resend[0]!)!.attempts.at(-1)?.status === 202 ? true : undefined));
    await waitFor(async () => {
      const run = await requestRecord.describe();
      return run.runId !== firstRun && run.status.name === 'COMPLETED' ? true : undefined;
    });
    await save('record-request-resend-settled', recordWorkflowId(account.id, 'request', request.result.id));

    // A burst: three changes in about two seconds, served together; then a Slack Refresh (an Update).
    const burst: string[] = [];
    for (let i = 1; i <= 3; i++) {
      burst.push(...p.jobber.sandbox.webhooks.capture(() => p.jobber.sandbox.store.updateJob(job.result.id, { title: `Replay ${i}` })).webhookIds);
      await new Promise((resolve) => setTimeout(resolve, 700));
    }
    await p.outcomes(burst);
    await p.temporal.client.workflow.getHandle(recordWorkflowId(account.id, 'job', job.result.id)).result();
    await save('record-job-burst', recordWorkflowId(account.id, 'job', job.result.id));
    await refreshRecordThroughWorkflow(p.temporal.client, p.worker.taskQueue)(account.id, 'job', job.result.id);
    await save('record-job-refresh', recordWorkflowId(account.id, 'job', job.result.id));

    const gone = p.jobber.sandbox.webhooks.capture(() => p.jobber.sandbox.store.deleteClient(client.result.id));
    await p.outcomes(gone.webhookIds.slice(0, 1));
    await save('record-client-destroy', recordWorkflowId(account.id, 'client', client.result.id));

    p.jobber.sandbox.faults.add({ graphql: { status: 400, times: 1, operationName: 'Client' } });
    const failed = p.jobber.sandbox.webhooks.capture(() => p.jobber.sandbox.store.createClient(account.id, { firstName: 'Fails' }));
    await p.outcomes(failed.webhookIds).catch(() => undefined);
    await p.temporal.client.workflow
      .getHandle(recordWorkflowId(account.id, 'client', failed.result.id))
      .result()
      .catch(() => undefined);
    await save('record-failed-dead-letter', recordWorkflowId(account.id, 'client', failed.result.id));

    // Event workflows remain for what is not a record's: a topic the service does not sync.
    const unsynced = p.jobber.sandbox.webhooks.enqueue({
      topic: 'PAYOUT_CREATE',
      accountId: account.id,
      itemId: 'UGF5b3V0',
      occurredAt: new Date().toISOString(),
    });
    await p.outcomes(unsynced);
    await save('event-topic-not-synced', p.workflowIdOf(p.jobber.sandbox.webhooks.get(unsynced[0]!)!));

    const handle = p.temporal.client.workflow.getHandle(accountWorkflowId(account.id));
    const { tokenVersion } = (await p.models.Connection.findById(account.id).lean())!;
    await handle.executeUpdate(refreshAccessTokenUpdate, { args: [{ staleVersion: tokenVersion }] });
    p.jobber.sandbox.disconnect(account.id);
    await handle.result();
    await save('account-connect-backfill-refresh-disconnect', accountWorkflowId(account.id));
  });
});
