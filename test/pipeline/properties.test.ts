import { startPipeline, type Pipeline } from '../helpers/pipeline';

/** Properties: PROPERTY_CREATE / UPDATE / DESTROY. No updatedAt: copies are ordered by when their fetch started. */
describe('properties: webhook → workflow → stored property with its client, tombstones', () => {
  let p: Pipeline;
  let account: string;
  const capture = <T>(fn: () => T) => p.jobber.sandbox.webhooks.capture(fn);
  const store = () => p.jobber.sandbox.store;

  beforeAll(async () => {
    p = await startPipeline('properties');
    account = await p.connectAccount();
  });
  afterAll(async () => {
    await p?.close();
  });

  it('stores a property with its link to the client, and its changes', async () => {
    const client = store().createClient(account, { firstName: 'Ann', lastName: 'Bishop' }, { webhook: false });
    const created = capture(() => store().createProperty(account, { clientId: client.id, street1: '12 Elm Street', city: 'Guelph', country: 'Canada' }));
    expect(await p.outcomes(created.webhookIds)).toEqual([expect.objectContaining({ status: 'synced', kind: 'property', applied: true })]);
    expect(await p.models.Property.findById(created.result.id).lean()).toMatchObject({
      accountId: account,
      street: '12 Elm Street',
      city: 'Guelph',
      country: 'Canada',
      clientId: client.id,
      clientName: 'Ann Bishop',
      jobberWebUri: created.result.jobberWebUri,
    });
    const updated = capture(() => store().updateProperty(created.result.id, { street2: 'Unit 4' }));
    expect(await p.outcomes(updated.webhookIds)).toEqual([expect.objectContaining({ status: 'synced', kind: 'property', applied: true })]);
    expect((await p.models.Property.findById(created.result.id).lean())?.street).toBe('12 Elm Street Unit 4');
  });

  it('tombstones on PROPERTY_DESTROY, and a late PROPERTY_UPDATE does not bring it back', async () => {
    const client = store().createClient(account, { firstName: 'Temp' }, { webhook: false });
    const created = capture(() => store().createProperty(account, { clientId: client.id, street1: 'Gone soon' }));
    await p.outcomes(created.webhookIds);
    const late = capture(() => store().updateProperty(created.result.id, { street1: 'Late' }, { delivery: { hold: true } }));
    const destroyed = capture(() => store().deleteProperty(created.result.id));
    expect(await p.outcomes(destroyed.webhookIds)).toEqual([expect.objectContaining({ status: 'deleted', kind: 'property', applied: true })]);
    await p.jobber.sandbox.webhooks.release(late.webhookIds);
    expect(await p.outcomes(late.webhookIds)).toEqual([{ status: 'gone', kind: 'property' }]);
    const stored = await p.models.Property.findById(created.result.id).lean();
    expect(stored?.deletedAt).toBeInstanceOf(Date);
    expect(stored?.street).toBe('Gone soon');
  });
});
