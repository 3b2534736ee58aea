import { expectPostedOnce, startPipeline, type Pipeline } from '../helpers/pipeline';

/** Quotes: QUOTE_CREATE / UPDATE / DESTROY, and QUOTE_SENT and QUOTE_APPROVED, which the 2023 schema's enum lacks. */
describe('quotes: webhook → workflow → stored quote with its client, request and jobs, tombstones', () => {
  let p: Pipeline;
  let account: string;
  const capture = <T>(fn: () => T) => p.jobber.sandbox.webhooks.capture(fn);
  const store = () => p.jobber.sandbox.store;
  const topicsOf = (ids: string[]) => ids.map((id) => p.jobber.sandbox.webhooks.get(id)!.event.topic);

  beforeAll(async () => {
    p = await startPipeline('quotes');
    account = await p.connectAccount();
  });
  afterAll(async () => {
    await p?.close();
  });

  it('stores a quote with its links, and follows it through QUOTE_SENT and QUOTE_APPROVED', async () => {
    const client = store().createClient(account, { firstName: 'Ida', lastName: 'Wells' }, { webhook: false });
    const request = store().createRequest(account, { clientId: client.id, title: 'Patio' }, { webhook: false });
    const property = store().createProperty(account, { clientId: client.id, street1: '3 Stone Lane' }, { webhook: false });
    const created = capture(() =>
      store().createQuote(account, { clientId: client.id, requestId: request.id, propertyId: property.id, title: 'Patio stones', amounts: { subtotal: 1200 } }),
    );
    expect(await p.outcomes(created.webhookIds)).toEqual([expect.objectContaining({ status: 'synced', kind: 'quote', applied: true })]);
    expect(await p.models.Quote.findById(created.result.id).lean()).toMatchObject({
      accountId: account,
      quoteNumber: String(created.result.quoteNumber),
      quoteStatus: 'draft',
      title: 'Patio stones',
      total: 1200,
      clientId: client.id,
      clientName: 'Ida Wells',
      requestId: request.id,
      propertyId: property.id,
      jobIds: [],
    });

    const sent = capture(() => store().updateQuote(created.result.id, { quoteStatus: 'awaiting_response' }));
    expect(topicsOf(sent.webhookIds)).toEqual(['QUOTE_SENT']);
    expect(await p.outcomes(sent.webhookIds)).toEqual([expect.objectContaining({ status: 'synced', kind: 'quote', applied: true })]);
    expect((await p.models.Quote.findById(created.result.id).lean())?.sentAt).toEqual(new Date(sent.result.sentAt!));

    const approved = capture(() => store().updateQuote(created.result.id, { quoteStatus: 'approved' }));
    expect(topicsOf(approved.webhookIds)).toEqual(['QUOTE_APPROVED']);
    // Quote approved is on by default: one alert, with the quote's total and client.
    expect(await p.outcomes(approved.webhookIds)).toEqual([
      expect.objectContaining({ status: 'synced', kind: 'quote', applied: true, alerts: ['quote-approved'] }),
    ]);
    expect(expectPostedOnce(p, `Quote #${created.result.quoteNumber} approved: Patio stones`, created.result.jobberWebUri).text).toContain('Total');
    expect((await p.models.Quote.findById(created.result.id).lean())?.quoteStatus).toBe('approved');

    const job = store().createJob(account, { clientId: client.id, title: 'Patio stones' }, { webhook: false });
    const converted = capture(() => store().updateQuote(created.result.id, { quoteStatus: 'converted', jobIds: [job.id] }));
    await p.outcomes(converted.webhookIds);
    expect(await p.models.Quote.findById(created.result.id).lean()).toMatchObject({ quoteStatus: 'converted', jobIds: [job.id] });
  });

  it('tombstones on QUOTE_DESTROY, and a late QUOTE_UPDATE does not bring it back', async () => {
    const client = store().createClient(account, { firstName: 'Temp' }, { webhook: false });
    const created = capture(() => store().createQuote(account, { clientId: client.id, title: 'Gone soon' }));
    await p.outcomes(created.webhookIds);
    const late = capture(() => store().updateQuote(created.result.id, { title: 'Late' }, { delivery: { hold: true } }));
    const destroyed = capture(() => store().deleteQuote(created.result.id));
    expect(await p.outcomes(destroyed.webhookIds)).toEqual([expect.objectContaining({ status: 'deleted', kind: 'quote', applied: true })]);
    await p.jobber.sandbox.webhooks.release(late.webhookIds);
    expect(await p.outcomes(late.webhookIds)).toEqual([{ status: 'gone', kind: 'quote' }]);
    const stored = await p.models.Quote.findById(created.result.id).lean();
    expect(stored?.deletedAt).toBeInstanceOf(Date);
    expect(stored?.title).toBe('Gone soon');
  });
});
