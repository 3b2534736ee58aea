import { expectPostedOnce, startPipeline, type Pipeline } from '../helpers/pipeline';

/** Requests (leads): REQUEST_CREATE / UPDATE / DESTROY through the same pipeline as clients, jobs and invoices. */
describe('requests: webhook → workflow → stored request with its client, tombstones', () => {
  let p: Pipeline;
  let account: string;
  const capture = <T>(fn: () => T) => p.jobber.sandbox.webhooks.capture(fn);
  const store = () => p.jobber.sandbox.store;

  beforeAll(async () => {
    p = await startPipeline('requests');
    account = await p.connectAccount();
  });
  afterAll(async () => {
    await p?.close();
  });

  it('stores a new request with its link to the client, and its changes', async () => {
    const client = store().createClient(account, { firstName: 'Rosa', lastName: 'Parks' }, { webhook: false });
    const created = capture(() => store().createRequest(account, { clientId: client.id, title: 'Spring cleanup', email: 'rosa@example.com' }));
    expect(await p.outcomes(created.webhookIds)).toEqual([
      expect.objectContaining({ status: 'synced', kind: 'request', applied: true, alerts: ['request-created'] }),
    ]);
    expect(await p.models.Request.findById(created.result.id).lean()).toMatchObject({
      accountId: account,
      title: 'Spring cleanup',
      requestStatus: 'new',
      email: 'rosa@example.com',
      clientId: client.id,
      clientName: 'Rosa Parks',
      jobberWebUri: created.result.jobberWebUri,
    });
    const updated = capture(() => store().updateRequest(created.result.id, { requestStatus: 'converted' }));
    expect(await p.outcomes(updated.webhookIds)).toEqual([expect.objectContaining({ status: 'synced', kind: 'request', applied: true })]);
    expect((await p.models.Request.findById(created.result.id).lean())?.requestStatus).toBe('converted');
    // New request is on by default: one alert, however many changes follow.
    expect(expectPostedOnce(p, 'New request: Spring cleanup', created.result.jobberWebUri).text).toContain('Rosa Parks');
  });

  it('tombstones on REQUEST_DESTROY, and a late REQUEST_UPDATE does not bring it back', async () => {
    const client = store().createClient(account, { firstName: 'Temp' }, { webhook: false });
    const created = capture(() => store().createRequest(account, { clientId: client.id, title: 'Gone soon' }));
    await p.outcomes(created.webhookIds);
    const late = capture(() => store().updateRequest(created.result.id, { title: 'Late' }, { delivery: { hold: true } }));
    const destroyed = capture(() => store().deleteRequest(created.result.id));
    expect(await p.outcomes(destroyed.webhookIds)).toEqual([expect.objectContaining({ status: 'deleted', kind: 'request', applied: true })]);
    await p.jobber.sandbox.webhooks.release(late.webhookIds);
    expect(await p.outcomes(late.webhookIds)).toEqual([{ status: 'gone', kind: 'request' }]);
    const stored = await p.models.Request.findById(created.result.id).lean();
    expect(stored?.deletedAt).toBeInstanceOf(Date);
    expect(stored?.title).toBe('Gone soon');
  });
});
