import { startPipeline, waitFor, type Pipeline } from '../helpers/pipeline';
import { runsOf } from '../helpers/env';
import { listDeadLetters, replayDeadLetter } from '../../src/ops/operations';
import { refreshRecordThroughWorkflow } from '../../src/workflow-client/refresh-record';
import { defaultPayloadConverter } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import { accountWorkflowId, recordWorkflowId } from '../../workflows/definitions';
import { readableId } from '../../workflows/ids';
import { accountActivity } from '../../src/accounts/activity';

/** Waits until the wall clock is in the next whole second (the sandbox stamps whole seconds, as Jobber does). */
const nextSecond = () => new Promise((resolve) => setTimeout(resolve, 1005 - (Date.now() % 1000)));

describe('webhook → workflow → record → alert, over HTTP with real Temporal and FerretDB', () => {
  let p: Pipeline;
  let account: string;
  const capture = <T>(fn: () => T) => p.jobber.sandbox.webhooks.capture(fn);
  const store = () => p.jobber.sandbox.store;
  /** Each step of a run's history: an activity task, or a local activity (its marker carries the summary and the type). */
  const stepsOf = (history: temporal.api.history.v1.IHistory) => {
    const steps = (history.events ?? []).filter(
      (e) => e.activityTaskScheduledEventAttributes || e.markerRecordedEventAttributes?.markerName === 'core_local_activity',
    );
    return {
      summaries: steps.map((e) => (e.userMetadata?.summary ? defaultPayloadConverter.fromPayload<string>(e.userMetadata.summary) : undefined)),
      types: steps.map(
        (e) =>
          e.activityTaskScheduledEventAttributes?.activityType?.name ??
          defaultPayloadConverter.fromPayload<{ activity_type: string }>(e.markerRecordedEventAttributes!.details!.data!.payloads![0]!).activity_type,
      ),
    };
  };
  const requests = (operation: string) => p.jobber.sandbox.requests.filter((r) => r.operationName === operation);

  beforeAll(async () => {
    p = await startPipeline('events');
    account = await p.connectAccount();
  });
  afterAll(async () => {
    await p?.close();
  });
  afterEach(() => p.jobber.sandbox.faults.clear());

  it('syncs a new client into MongoDB with what Jobber holds', async () => {
    const { result: client, webhookIds } = capture(() =>
      store().createClient(account, { firstName: 'Grace', lastName: 'Hopper', emails: [{ address: 'grace@example.com', primary: true }] }),
    );
    const [outcome] = await p.outcomes(webhookIds);
    expect(outcome).toMatchObject({ status: 'synced', kind: 'client', applied: true });
    const stored = await p.models.Client.findById(client.id).lean();
    expect(stored).toMatchObject({ accountId: account, firstName: 'Grace', lastName: 'Hopper', emails: [{ address: 'grace@example.com', primary: true }] });
    expect(await p.models.Event.findById(p.workflowIdOf(p.jobber.sandbox.webhooks.get(webhookIds[0]!)!)).lean()).toMatchObject({ status: 'synced' });
  });

  it('turns the same event sent five times into one workflow, one Jobber request and one Slack alert', async () => {
    const { result: client } = capture(() => store().createClient(account, { companyName: 'Acme Lawns' }, { webhook: false }));
    const jobRequestsBefore = requests('Job').length;
    const { result: job, webhookIds } = capture(() =>
      store().createJob(account, { clientId: client.id, title: 'Hedge trimming', total: 240 }, { delivery: { duplicates: 4 } }),
    );
    expect(webhookIds).toHaveLength(5);
    const outcomes = await p.outcomes(webhookIds);
    // Jobber's five deliveries (sent at once), each accepted once Temporal has it; the record's
    // workflow takes the natural key once: one run, one fetch, one alert, one outcome.
    expect(webhookIds.map((id) => p.jobber.sandbox.webhooks.get(id)!.attempts.at(-1)?.status)).toEqual([202, 202, 202, 202, 202]);
    expect(await runsOf(p.temporal.client, recordWorkflowId(account, 'job', job.id))).toHaveLength(1);
    expect(await p.models.Event.countDocuments({ itemId: job.id })).toBe(1);
    expect(outcomes[0]).toMatchObject({ status: 'synced', kind: 'job', alerts: ['job-created'] });
    expect(requests('Job').length - jobRequestsBefore).toBe(1);
    const alerts = p.slack.standIn.state.messages.filter((m) => m.text.includes('Hedge trimming'));
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.text).toContain(`New job #${job.jobNumber}`);
    expect(alerts[0]!.channel).toBe(p.slack.standIn.state.channelId('C0ALERTS'));
    expect((await p.models.Job.findById(job.id).lean())?.clientId).toBe(client.id);
  });

  it("fetches nothing for a resend that comes after the record's run has ended: the first outcome and alert stand", async () => {
    const { result: client } = capture(() => store().createClient(account, { companyName: 'Late Resend Gutters' }, { webhook: false }));
    const jobRequestsBefore = requests('Job').length;
    const { result: job, webhookIds } = capture(() => store().createJob(account, { clientId: client.id, title: 'Gutter cleaning', total: 90 }));
    const [first] = await p.outcomes(webhookIds);
    expect(first).toMatchObject({ status: 'synced', kind: 'job', applied: true, alerts: ['job-created'] });
    const workflowId = recordWorkflowId(account, 'job', job.id);
    await p.temporal.client.workflow.getHandle(workflowId).result();
    const firstEvent = await p.models.Event.findById(p.workflowIdOf(p.jobber.sandbox.webhooks.get(webhookIds[0]!)!)).lean();

    // Jobber sends the same change again (same topic, item and second) after the run has ended.
    const [resend] = p.jobber.sandbox.webhooks.enqueue(p.jobber.sandbox.webhooks.get(webhookIds[0]!)!.event);
    await waitFor(() => (p.jobber.sandbox.webhooks.get(resend!)!.attempts.at(-1)?.status === 202 ? true : undefined));
    expect(p.workflowOf(p.jobber.sandbox.webhooks.get(resend!)!)).toBe(workflowId);
    const runs = await waitFor(async () => {
      const list: { runId: string; status: string }[] = [];
      for await (const wf of p.temporal.client.workflow.list({ query: `WorkflowId = "${workflowId}"` })) list.push({ runId: wf.runId, status: wf.status.name });
      return list.length === 2 && list.every((r) => r.status !== 'RUNNING') ? list : undefined;
    }, 60_000);
    expect(runs.map((r) => r.status)).toEqual(['COMPLETED', 'COMPLETED']);

    // One Jobber request, one alert, and the first run's outcome as it was written.
    expect(requests('Job').length - jobRequestsBefore).toBe(1);
    expect(p.slack.standIn.state.messages.filter((m) => m.text.includes('Gutter cleaning'))).toHaveLength(1);
    expect(await p.models.Event.countDocuments({ itemId: job.id })).toBe(1);
    expect(await p.models.Event.findById(firstEvent!._id).lean()).toEqual(firstEvent);

    // A resend that arrives with a new change of the record: the one fetch the change needs, and
    // only the change's outcome is written. The change comes first: its run waits for the change's
    // second to be over, so the resend, which comes meanwhile, is served by the same fetch.
    await nextSecond();
    const { webhookIds: changed } = capture(() => store().updateJob(job.id, { title: 'Gutter cleaning and repair' }, { delivery: { hold: true } }));
    const [resendAgain] = p.jobber.sandbox.webhooks.enqueue(p.jobber.sandbox.webhooks.get(webhookIds[0]!)!.event, { hold: true });
    await p.jobber.sandbox.webhooks.release([...changed, resendAgain!]);
    const [changeOutcome] = await p.outcomes(changed);
    expect(changeOutcome).toMatchObject({ status: 'synced', kind: 'job', applied: true });
    expect(requests('Job').length - jobRequestsBefore).toBe(2);
    expect((await p.models.Job.findById(job.id).lean())?.title).toBe('Gutter cleaning and repair');
    expect(await p.models.Event.findById(firstEvent!._id).lean()).toEqual(firstEvent);
    // One fetch served both events (the Web UI names it so): the resend did not stop the change's fetch.
    const mixed = p.temporal.client.workflow.getHandle(workflowId);
    await mixed.result();
    const fetchSteps = ((await mixed.fetchHistory()).events ?? [])
      .filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'syncRecord')
      .map((e) => (e.userMetadata?.summary ? defaultPayloadConverter.fromPayload<string>(e.userMetadata.summary) : undefined));
    expect(fetchSteps).toEqual([`fetch job ${readableId(job.id)} from Jobber and store it (2 events)`]);
  });

  it("fetches a webhook that comes after a reconciliation's run served its change, and records it as a webhook", async () => {
    const { result: client } = capture(() => store().createClient(account, { firstName: 'Late', lastName: 'Webhook' }, { webhook: false }));
    const created = capture(() => store().createInvoice(account, { clientId: client.id, subject: 'Late webhook', amounts: { subtotal: 50, total: 50 } }));
    await p.outcomes(created.webhookIds);
    const invoiceId = created.result.id;
    const paidAlerts = () => p.slack.standIn.state.messages.filter((m) => m.text.includes(`Invoice #${created.result.invoiceNumber} paid`));
    const fetches = () => requests('Invoice').filter((r) => r.variables?.id === invoiceId).length;
    const workflowId = recordWorkflowId(account, 'invoice', invoiceId);
    await p.temporal.client.workflow.getHandle(workflowId).result();

    // The invoice is paid in a later second; Jobber's webhook for it is late.
    await nextSecond();
    const paid = capture(() => store().updateInvoice(invoiceId, { invoiceStatus: 'paid', amounts: { paymentsTotal: 50 } }, { delivery: { hold: true } }));
    const key = p.workflowIdOf(p.jobber.sandbox.webhooks.get(paid.webhookIds[0]!)!);
    const { lastWebhookAt } = await accountActivity(p.models, account);

    // A reconciliation finds the older copy and hands the change to the record's workflow, under
    // the webhook's natural key; that run serves it and ends.
    await p.temporal.client.workflow.execute('backfillWorkflow', {
      taskQueue: p.worker.taskQueue,
      workflowId: `reconcile-${readableId(invoiceId)}-${Date.now()}`,
      args: [{ accountId: account, kinds: ['invoice'], updatedSince: new Date(Date.parse(paid.result.updatedAt) - 60_000).toISOString() }],
    });
    const reconciled = await waitFor(async () => {
      const event = await p.models.Event.findById(key).lean();
      return event?.status === 'synced' ? event : undefined;
    });
    expect(reconciled).toMatchObject({ status: 'synced', fromWebhook: false });
    await p.temporal.client.workflow.getHandle(workflowId).result();
    expect(await p.models.Invoice.findById(invoiceId).lean()).toMatchObject({ invoiceStatus: 'paid', paymentsTotal: 50 });
    expect(paidAlerts()).toHaveLength(1);
    // A reconciliation is no webhook: "Last webhook" has not moved.
    expect((await accountActivity(p.models, account)).lastWebhookAt).toEqual(lastWebhookAt);
    const fetchesBefore = fetches();

    // Now Jobber's webhook of that change arrives: a new run of the record's workflow.
    await p.jobber.sandbox.webhooks.release(paid.webhookIds);
    await waitFor(() => (p.jobber.sandbox.webhooks.get(paid.webhookIds[0]!)!.attempts.at(-1)?.status === 202 ? true : undefined));
    const runs = await waitFor(async () => {
      const list: { runId: string; status: string }[] = [];
      for await (const wf of p.temporal.client.workflow.list({ query: `WorkflowId = "${workflowId}"` })) list.push({ runId: wf.runId, status: wf.status.name });
      return list.length === 3 && list.every((r) => r.status !== 'RUNNING') ? list : undefined;
    }, 60_000);
    expect(runs.map((r) => r.status)).toEqual(['COMPLETED', 'COMPLETED', 'COMPLETED']);

    // The webhook is served like any other: fetched from Jobber, its outcome kept as a webhook's.
    expect(fetches() - fetchesBefore).toBe(1);
    expect(await p.models.Event.findById(key).lean()).toMatchObject({ status: 'synced', fromWebhook: true, outcome: { status: 'synced', kind: 'invoice' } });
    // "Last webhook" (and the silence alert) now count it.
    expect((await accountActivity(p.models, account)).lastWebhookAt).toEqual(new Date(p.jobber.sandbox.webhooks.get(paid.webhookIds[0]!)!.event.occurredAt));
    // And nothing is done twice or left failed.
    expect(paidAlerts()).toHaveLength(1);
    expect(await p.models.Event.countDocuments({ itemId: invoiceId })).toBe(2);
    expect(await p.models.DeadLetter.countDocuments({ 'event.itemId': invoiceId })).toBe(0);
  });

  it('names each step of an event in the Web UI: every activity, local or not, carries a summary', async () => {
    const { result: client } = capture(() => store().createClient(account, { companyName: 'Summary Lawns' }, { webhook: false }));
    const { result: job, webhookIds } = capture(() => store().createJob(account, { clientId: client.id, title: 'Edging' }));
    await p.outcomes(webhookIds);
    // The Web UI reads the same history: each activity's summary is its user metadata.
    // The outcome is written inside the workflow task whose completion records its marker: read the finished run.
    const run = p.temporal.client.workflow.getHandle(recordWorkflowId(account, 'job', job.id));
    await run.result();
    const { summaries, types } = stepsOf(await run.fetchHistory());
    const jobNumber = readableId(job.id);
    expect(summaries).toEqual([`fetch job ${jobNumber} from Jobber and store it`, `Slack alert: new job ${jobNumber}`, 'record the outcome: synced']);
    expect(types).toEqual(['syncRecord', 'sendAlert', 'recordEventOutcomes']);
  });

  it('keeps the outcome of a change that needs no alert in the step that stores it: one activity for the batch', async () => {
    const { result: client } = capture(() => store().createClient(account, { companyName: 'One Step Lawns' }, { webhook: false }));
    const changed = capture(() => store().updateClient(client.id, { companyName: 'One Step Lawns & Gardens' }));
    await p.outcomes(changed.webhookIds);
    const run = p.temporal.client.workflow.getHandle(recordWorkflowId(account, 'client', client.id));
    await run.result();
    const { summaries, types } = stepsOf(await run.fetchHistory());
    expect(types).toEqual(['syncRecord']);
    expect(summaries).toEqual([`fetch client ${readableId(client.id)} from Jobber and store it`]);
    // The outcome is the one the workflow would have written: synced as a webhook, no alert.
    const stored = await p.models.Client.findById(client.id).lean();
    expect(stored?.companyName).toBe('One Step Lawns & Gardens');
    const key = p.workflowIdOf(p.jobber.sandbox.webhooks.get(changed.webhookIds[0]!)!);
    const kept = await p.models.Event.findById(key).lean();
    expect(kept).toMatchObject({
      status: 'synced',
      fromWebhook: true,
      topic: 'CLIENT_UPDATE',
      outcome: { status: 'synced', kind: 'client', applied: true, alerts: [] },
    });
    expect(new Date((kept!.outcome as { recordUpdatedAt: string }).recordUpdatedAt)).toEqual(stored!.updatedAt);
    expect(await p.models.DeadLetter.countDocuments({ 'event.itemId': client.id })).toBe(0);
  });

  it('alerts once for a paid invoice however many updates report it, and keeps its links', async () => {
    const { result: client } = capture(() => store().createClient(account, { firstName: 'Ada', lastName: 'Byron' }, { webhook: false }));
    const { result: job } = capture(() => store().createJob(account, { clientId: client.id, title: 'Mulch' }, { webhook: false }));
    const created = capture(() =>
      store().createInvoice(account, { clientId: client.id, jobIds: [job.id], subject: 'Mulch', amounts: { subtotal: 99, total: 99 } }),
    );
    await p.outcomes(created.webhookIds);
    const invoiceId = created.result.id;
    const paid = capture(() => store().updateInvoice(invoiceId, { invoiceStatus: 'paid', amounts: { paymentsTotal: 99 } }, { delivery: { duplicates: 1 } }));
    const again = capture(() => store().updateInvoice(invoiceId, { subject: 'Mulch (paid)' }));
    const outcomes = await p.outcomes([...paid.webhookIds, ...again.webhookIds]);
    expect(outcomes.every((o) => o.status === 'synced')).toBe(true);
    const alerts = p.slack.standIn.state.messages.filter((m) => m.text.includes(`Invoice #${created.result.invoiceNumber} paid`));
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.text).toContain('Ada Byron');
    const stored = await p.models.Invoice.findById(invoiceId).lean();
    expect(stored).toMatchObject({ invoiceStatus: 'paid', clientId: client.id, jobIds: [job.id], subject: 'Mulch (paid)' });
  });

  it('keeps the newer state when an older UPDATE is delivered and finishes after a newer one', async () => {
    const { result: client } = capture(() => store().createClient(account, { firstName: 'Old' }, { webhook: false }));
    const older = capture(() => store().updateClient(client.id, { firstName: 'Middle' }, { delivery: { hold: true } }));
    // Jobber stamps whole seconds: two changes in the same second would be one event (same key).
    await nextSecond();
    const newer = capture(() => store().updateClient(client.id, { firstName: 'Newest' }, { delivery: { hold: true } }));
    await p.jobber.sandbox.webhooks.release(newer.webhookIds);
    const [first] = await p.outcomes(newer.webhookIds);
    await p.jobber.sandbox.webhooks.release(older.webhookIds);
    const [second] = await p.outcomes(older.webhookIds);
    expect(first).toMatchObject({ status: 'synced', applied: true });
    // The late event fetched what Jobber holds now, which we already have: nothing is overwritten.
    expect(second).toMatchObject({ status: 'synced', applied: false });
    const stored = await p.models.Client.findById(client.id).lean();
    expect(stored?.firstName).toBe('Newest');
    expect(stored?.updatedAt?.toISOString()).toBe(new Date(newer.result.updatedAt).toISOString());
  });

  it('stores the last of two changes to an invoice within one second (identical occurredAt and updatedAt) and alerts it paid; a reconciliation repairs an equal-updatedAt copy', async () => {
    // Jobber stamps whole seconds (the sandbox's default): the second change's webhook has the first one's workflow id.
    const { result: client } = capture(() => store().createClient(account, { firstName: 'Same', lastName: 'Second' }, { webhook: false }));
    const { result: invoice } = capture(() =>
      store().createInvoice(account, { clientId: client.id, subject: 'Two payments', amounts: { subtotal: 100, total: 100 } }, { webhook: false }),
    );
    const invoiceRequestsBefore = requests('Invoice').length;
    // Early in a second, so both changes fall in it.
    await waitFor(() => new Date().getUTCMilliseconds() < 100 || undefined, 2_000);
    const partly = capture(() => store().updateInvoice(invoice.id, { amounts: { paymentsTotal: 40 } }));
    // Give a fetch the chance to run between the changes, as it did when this was found.
    await waitFor(() => requests('Invoice').length > invoiceRequestsBefore || new Date().getUTCMilliseconds() > 800 || undefined, 2_000).catch(() => undefined);
    const paid = capture(() => store().updateInvoice(invoice.id, { invoiceStatus: 'paid', amounts: { paymentsTotal: 100 } }));
    const [first, second] = [partly, paid].map((c) => p.jobber.sandbox.webhooks.get(c.webhookIds[0]!)!.event);
    expect(second!.occurredAt).toBe(first!.occurredAt);
    expect(paid.result.updatedAt).toBe(partly.result.updatedAt);
    expect(new Date(paid.result.updatedAt).getUTCMilliseconds()).toBe(0);
    expect(p.workflowIdOf(p.jobber.sandbox.webhooks.get(paid.webhookIds[0]!)!)).toBe(p.workflowIdOf(p.jobber.sandbox.webhooks.get(partly.webhookIds[0]!)!));

    const outcomes = await p.outcomes([...partly.webhookIds, ...paid.webhookIds]);
    expect(outcomes[0]).toMatchObject({ status: 'synced', alerts: ['invoice-paid'] });
    const stored = await p.models.Invoice.findById(invoice.id).lean();
    expect(stored).toMatchObject({ invoiceStatus: 'paid', paymentsTotal: 100, invoiceBalance: 0 });
    expect(stored?.updatedAt?.toISOString()).toBe(new Date(paid.result.updatedAt).toISOString());
    const alerts = p.slack.standIn.state.messages.filter((m) => m.text.includes(`Invoice #${invoice.invoiceNumber} paid`));
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.text).toContain('Amount $100.00');
    // One event workflow, one Jobber request.
    expect(requests('Invoice').length - invoiceRequestsBefore).toBe(1);

    // A copy fetched within that second (say by a backfill page), with the same updatedAt.
    await p.models.Invoice.updateOne(
      { _id: invoice.id },
      {
        $set: {
          invoiceStatus: 'awaiting_payment',
          paymentsTotal: 40,
          invoiceBalance: 60,
          fetchedAt: new Date(new Date(paid.result.updatedAt).getTime() + 300),
          settled: false,
        },
      },
    );
    const reconciled = await p.temporal.client.workflow.execute('backfillWorkflow', {
      taskQueue: p.worker.taskQueue,
      workflowId: `reconcile-${readableId(invoice.id)}-${Date.now()}`,
      args: [{ accountId: account, kinds: ['invoice'], updatedSince: new Date(Date.parse(paid.result.updatedAt) - 60_000).toISOString() }],
    });
    expect(reconciled).toMatchObject({ records: 1 });
    // The page hands the stale record to its record workflow, the one writer of its document.
    const repaired = await waitFor(async () => {
      const doc = await p.models.Invoice.findById(invoice.id).lean();
      return doc?.invoiceStatus === 'paid' ? doc : undefined;
    });
    expect(repaired).toMatchObject({ invoiceStatus: 'paid', paymentsTotal: 100, invoiceBalance: 0 });
    const key = p.workflowIdOf(p.jobber.sandbox.webhooks.get(paid.webhookIds[0]!)!);
    const signals = ((await p.temporal.client.workflow.getHandle(recordWorkflowId(account, 'invoice', invoice.id)).fetchHistory()).events ?? [])
      .map((e) => e.workflowExecutionSignaledEventAttributes)
      .filter((a) => a?.signalName === 'jobberEvent')
      .map((a) => defaultPayloadConverter.fromPayload<{ source?: string }>(a!.input!.payloads![0]!));
    expect(signals).toEqual([expect.objectContaining({ source: 'reconcile' })]);
    // The change's natural key is the webhook's, which it stays: "Last webhook" still counts it.
    expect(await p.models.Event.findById(key).lean()).toMatchObject({ status: 'synced', fromWebhook: true });
  });

  it('tombstones on DESTROY, and a late UPDATE does not bring the record back', async () => {
    const created = capture(() => store().createClient(account, { firstName: 'Temp' }));
    await p.outcomes(created.webhookIds);
    const late = capture(() => store().updateClient(created.result.id, { firstName: 'Late' }, { delivery: { hold: true } }));
    const destroyed = capture(() => store().deleteClient(created.result.id));
    const [deleted] = await p.outcomes(destroyed.webhookIds.slice(0, 1));
    expect(deleted).toMatchObject({ status: 'deleted', kind: 'client' });
    await p.jobber.sandbox.webhooks.release(late.webhookIds);
    const [afterwards] = await p.outcomes(late.webhookIds);
    expect(afterwards).toEqual({ status: 'gone', kind: 'client' });
    const stored = await p.models.Client.findById(created.result.id).lean();
    expect(stored?.deletedAt).toBeInstanceOf(Date);
    expect(stored?.firstName).toBe('Temp');
  });

  it('tombstones a record Jobber no longer has instead of retrying forever', async () => {
    const ids = p.jobber.sandbox.webhooks.enqueue({
      topic: 'JOB_UPDATE',
      accountId: account,
      itemId: Buffer.from('gid://Jobber/Job/999999').toString('base64'),
      occurredAt: new Date().toISOString(),
    });
    const [outcome] = await p.outcomes(ids);
    expect(outcome).toEqual({ status: 'gone', kind: 'job' });
  });

  it('retries 5xx answers and timeouts until Jobber answers', async () => {
    p.jobber.sandbox.faults.add({ graphql: { status: 502, times: 2, operationName: 'Client' } });
    p.jobber.sandbox.faults.add({ graphql: { delayMs: 3000, times: 1, operationName: 'Client' } });
    const { result: client, webhookIds } = capture(() => store().createClient(account, { firstName: 'Flaky' }));
    const [outcome] = await p.outcomes(webhookIds);
    expect(outcome).toMatchObject({ status: 'synced', applied: true });
    expect((await p.models.Client.findById(client.id).lean())?.firstName).toBe('Flaky');
    const tries = requests('Client')
      .filter((r) => r.variables?.id === client.id)
      .map((r) => r.outcome);
    expect(tries.slice(0, 2)).toEqual(['fault', 'fault']);
    expect(tries.at(-1)).toBe('ok');
  });

  it('waits out HTTP 429 for the time Jobber asks and then succeeds', async () => {
    p.jobber.sandbox.faults.add({ graphql: { status: 429, retryAfterSeconds: 1, times: 2, operationName: 'Client' } });
    const { result: client, webhookIds } = capture(() => store().createClient(account, { firstName: 'Patient' }));
    const [outcome] = await p.outcomes(webhookIds);
    expect(outcome).toMatchObject({ status: 'synced' });
    const tries = requests('Client')
      .filter((r) => r.variables?.id === client.id)
      .map((r) => r.status);
    expect(tries).toEqual([429, 429, 200]);
  });

  it('retries THROTTLED after the delay the cost figures imply', async () => {
    p.jobber.sandbox.faults.add({ graphql: { throttle: true, times: 1, operationName: 'Client' } });
    const { result: client, webhookIds } = capture(() => store().createClient(account, { firstName: 'Throttled' }));
    const [outcome] = await p.outcomes(webhookIds);
    expect(outcome).toMatchObject({ status: 'synced' });
    const tries = requests('Client')
      .filter((r) => r.variables?.id === client.id)
      .map((r) => r.outcome);
    expect(tries).toEqual(['throttled', 'ok']);
  });

  it('acknowledges and records topics it does not sync, and events of accounts it does not hold', async () => {
    // Payouts are a type the service does not sync (quotes, once in this test, now are).
    const quote = p.jobber.sandbox.webhooks.enqueue({ topic: 'PAYOUT_CREATE', accountId: account, itemId: 'UGF5b3V0', occurredAt: new Date().toISOString() });
    const future = p.jobber.sandbox.webhooks.enqueue({ topic: 'TIMESHEET_CREATE', accountId: account, itemId: 'VA==', occurredAt: new Date().toISOString() });
    const stranger = p.jobber.sandbox.webhooks.enqueue({
      topic: 'CLIENT_UPDATE',
      accountId: 'QWNjb3VudE5vdE91cnM=',
      itemId: 'Qw==',
      occurredAt: new Date().toISOString(),
    });
    const outcomes = await p.outcomes([...quote, ...future, ...stranger]);
    expect(outcomes).toEqual([
      { status: 'recorded', reason: 'topic not synced' },
      { status: 'recorded', reason: 'topic not synced' },
      { status: 'recorded', reason: 'account unknown' },
    ]);
    for (const id of [...quote, ...future, ...stranger]) {
      expect(p.jobber.sandbox.webhooks.get(id)!.attempts.at(-1)?.status).toBe(202);
    }
    expect(await p.models.Event.countDocuments({ topic: { $in: ['PAYOUT_CREATE', 'TIMESHEET_CREATE'] } })).toBe(2);
  });

  it('leaves a dead letter for an event that fails for good, findable as a failed workflow', async () => {
    // A 400 is Jobber refusing the request itself: retrying cannot help.
    p.jobber.sandbox.faults.add({ graphql: { status: 400, times: 1, operationName: 'Client' } });
    const { result: doomed, webhookIds } = capture(() => store().createClient(account, { firstName: 'Doomed' }));
    await expect(p.outcomes(webhookIds)).rejects.toThrow(/failed/);
    const workflowId = p.workflowIdOf(p.jobber.sandbox.webhooks.get(webhookIds[0]!)!);
    const letter = await waitFor(() =>
      p.models.DeadLetter.findById(workflowId)
        .lean()
        .then((d) => d ?? undefined),
    );
    expect(letter).toMatchObject({ status: 'open', errorType: 'JobberQueryInvalid', attempts: 1, event: { topic: 'CLIENT_CREATE' } });
    // The record's workflow ends as failed, naming the event: the Web UI lists it under Failed.
    const recordRun = p.temporal.client.workflow.getHandle(recordWorkflowId(account, 'client', doomed.id));
    await expect(recordRun.result()).rejects.toThrow();
    const failed = await recordRun.describe();
    expect(failed.status.name).toBe('FAILED');
    const history = await recordRun.fetchHistory();
    expect(JSON.stringify(history.events?.at(-1)?.workflowExecutionFailedEventAttributes?.failure?.message)).toContain(workflowId);

    // Jobber accepts the query again: the operator replays the dead letter and it heals.
    const ops = { models: p.models, client: p.temporal.client, taskQueue: p.worker.taskQueue, control: p.control };
    expect((await listDeadLetters(p.models)).map((d) => d._id)).toContain(workflowId);
    expect(await replayDeadLetter(ops, workflowId)).toMatchObject({ workflowId: recordRun.workflowId, status: 'replaying' });
    const healed = await waitFor(async () => {
      const event = await p.models.Event.findById(workflowId).lean();
      return (event?.outcome as { status?: string } | undefined)?.status === 'synced' ? event : undefined;
    });
    expect(healed!.outcome).toMatchObject({ status: 'synced', kind: 'client' });
    expect(await p.models.Client.findById(doomed.id).lean()).toMatchObject({ firstName: 'Doomed' });
    expect(await p.models.DeadLetter.findById(workflowId).lean()).toMatchObject({ status: 'resolved' });
    expect((await listDeadLetters(p.models)).map((d) => d._id)).not.toContain(workflowId);
    expect(await replayDeadLetter(ops, workflowId)).toMatchObject({ status: 'already resolved' });
  });

  it('purges the tokens on APP_DISCONNECT without calling Jobber, and then ignores the account', async () => {
    const other = await p.connectAccount('Leaving Co');
    const before = p.jobber.sandbox.requests.length;
    const ids = p.jobber.sandbox.disconnect(other);
    await p.outcomes(ids);
    // The event hands the disconnect to the account's workflow (started for it): it purges and ends.
    await p.temporal.client.workflow.getHandle(accountWorkflowId(other)).result();
    const connection = await p.models.Connection.findById(other).lean();
    expect(connection).toMatchObject({ status: 'disconnected' });
    expect(connection?.accessToken).toBeUndefined();
    expect(connection?.refreshToken).toBeUndefined();
    expect(p.jobber.sandbox.requests.length).toBe(before);
    const late = p.jobber.sandbox.webhooks.enqueue({ topic: 'CLIENT_UPDATE', accountId: other, itemId: 'Qw==', occurredAt: new Date().toISOString() });
    expect(await p.outcomes(late)).toEqual([{ status: 'recorded', reason: 'account disconnected' }]);
  });

  it("learns of a disconnect from Jobber's answer when APP_DISCONNECT has not come: forgets the tokens, tells operators once", async () => {
    const quiet = await p.connectAccount('Silent Leaver');
    const { result: client } = capture(() => store().createClient(quiet, { firstName: 'Orphan' }, { webhook: false }));
    p.jobber.sandbox.disconnect(quiet, { hold: true }); // the webhook is lost
    const first = capture(() => store().updateClient(client.id, { firstName: 'Orphan 2' }));
    expect(await p.outcomes(first.webhookIds)).toEqual([{ status: 'disconnected' }]);
    const connection = await p.models.Connection.findById(quiet).lean();
    expect(connection).toMatchObject({ status: 'disconnected', statusReason: 'Jobber says the user disconnected this app' });
    expect(connection?.accessToken).toBeUndefined();
    const second = capture(() => store().updateClient(client.id, { firstName: 'Orphan 3' }));
    expect(await p.outcomes(second.webhookIds)).toEqual([{ status: 'recorded', reason: 'account disconnected' }]);
    expect(p.slack.standIn.state.messages.filter((m) => m.text.includes('Silent Leaver'))).toHaveLength(1);
  });

  it('refreshes one record on request (the Slack Refresh button) through the worker, like a webhook', async () => {
    const { result: client } = capture(() => store().createClient(account, { firstName: 'Before' }, { webhook: false }));
    store().updateClient(client.id, { firstName: 'After' }, { webhook: false });
    const { lastWebhookAt } = await accountActivity(p.models, account);
    await refreshRecordThroughWorkflow(p.temporal.client, p.worker.taskQueue)(account, 'client', client.id);
    expect((await p.models.Client.findById(client.id).lean())?.firstName).toBe('After');
    // A refresh is no webhook: "Last webhook" and the silence alert still see the last real one.
    expect(lastWebhookAt).toBeInstanceOf(Date);
    expect((await accountActivity(p.models, account)).lastWebhookAt).toEqual(lastWebhookAt);
  });
});
