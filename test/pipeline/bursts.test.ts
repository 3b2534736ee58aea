import { startPipeline, type Pipeline } from '../helpers/pipeline';
import { runsOf } from '../helpers/env';
import { recordWorkflowId } from '../../workflows/definitions';

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A record that changes in bursts (an office editing an invoice line by line) costs one or two
 * Jobber fetches per burst, not one per change: its record workflow serves every change that
 * came while it waited for the last one's second to end with one fetch.
 */
describe('a burst of changes to one record', () => {
  let p: Pipeline;
  let account: string;
  const capture = <T>(fn: () => T) => p.jobber.sandbox.webhooks.capture(fn);
  const store = () => p.jobber.sandbox.store;
  const fetchesOf = (operation: string, id: string) =>
    p.jobber.sandbox.requests.filter((r) => r.operationName === operation && r.variables?.id === id && r.outcome === 'ok').length;

  beforeAll(async () => {
    p = await startPipeline('bursts');
    account = await p.connectAccount();
  });
  afterAll(async () => {
    await p?.close();
  });

  it('costs at most two fetches for ten updates to one invoice over four seconds, stores the last state and alerts the payment once', async () => {
    const { result: client } = capture(() => store().createClient(account, { firstName: 'Burst', lastName: 'Owner' }, { webhook: false }));
    const created = capture(() => store().createInvoice(account, { clientId: client.id, subject: 'Hedges 0', amounts: { subtotal: 80, total: 80 } }));
    await p.outcomes(created.webhookIds);
    const invoiceId = created.result.id;
    const fetchesBefore = fetchesOf('Invoice', invoiceId);

    // Ten changes, 400 ms apart: five distinct seconds, so five distinct events (natural keys).
    const webhookIds: string[] = [];
    for (let i = 1; i <= 10; i++) {
      const change = i === 4 ? { subject: `Hedges ${i}`, invoiceStatus: 'paid' as const, amounts: { paymentsTotal: 80 } } : { subject: `Hedges ${i}` };
      webhookIds.push(...capture(() => store().updateInvoice(invoiceId, change)).webhookIds);
      await pause(400);
    }
    const distinctEvents = new Set(webhookIds.map((id) => p.workflowIdOf(p.jobber.sandbox.webhooks.get(id)!)));
    expect(distinctEvents.size).toBeGreaterThanOrEqual(4);

    const outcomes = await p.outcomes(webhookIds);
    expect(outcomes.every((o) => o.status === 'synced')).toBe(true);
    // Every event has its outcome, but Jobber was asked at most twice.
    expect(await p.models.Event.countDocuments({ _id: { $in: [...distinctEvents] }, status: 'synced' })).toBe(distinctEvents.size);
    expect(fetchesOf('Invoice', invoiceId) - fetchesBefore).toBeLessThanOrEqual(2);
    expect(await p.models.Invoice.findById(invoiceId).lean()).toMatchObject({ subject: 'Hedges 10', invoiceStatus: 'paid' });
    const paid = p.slack.standIn.state.messages.filter((m) => m.text.includes(`Invoice #${created.result.invoiceNumber} paid`));
    expect(paid).toHaveLength(1);
    // The paid alert is counted once, on one event.
    const byEvent = new Map(webhookIds.map((id, i) => [p.workflowIdOf(p.jobber.sandbox.webhooks.get(id)!), outcomes[i]!]));
    expect([...byEvent.values()].filter((o) => o.status === 'synced' && o.alerts.includes('invoice-paid'))).toHaveLength(1);
  });

  it('takes a change that comes while its record is being fetched with one more fetch, never losing it', async () => {
    const { result: client } = capture(() => store().createClient(account, { companyName: 'Slow Fetch Co' }));
    await pause(2500);
    // Jobber is slow to answer the fetch of the first change; a second change comes meanwhile.
    p.jobber.sandbox.faults.add({ graphql: { delayMs: 3000, times: 1, operationName: 'Client' } });
    const first = capture(() => store().updateClient(client.id, { companyName: 'Slow Fetch Co 1' }));
    await pause(3500);
    const second = capture(() => store().updateClient(client.id, { companyName: 'Slow Fetch Co 2' }));
    const outcomes = await p.outcomes([...first.webhookIds, ...second.webhookIds]);
    expect(outcomes.map((o) => o.status)).toEqual(['synced', 'synced']);
    expect(await p.models.Client.findById(client.id).lean()).toMatchObject({ companyName: 'Slow Fetch Co 2' });
    expect(await runsOf(p.temporal.client, recordWorkflowId(account, 'client', client.id))).not.toHaveLength(0);
  });
});
