import { readAlertRules, saveAlertRules } from '../../src/slack/alert-rules';
import { expectPostedOnce, startPipeline, type Pipeline } from '../helpers/pipeline';

/**
 * Visits: VISIT_CREATE / UPDATE / DESTROY, and VISIT_COMPLETE (not in the 2023 schema's enum). A
 * visit has no updatedAt: copies are ordered by when their fetch started (test/db/records.test.ts).
 */
describe('visits: webhook → workflow → stored visit with its job, client and property, tombstones', () => {
  let p: Pipeline;
  let account: string;
  const capture = <T>(fn: () => T) => p.jobber.sandbox.webhooks.capture(fn);
  const store = () => p.jobber.sandbox.store;
  const topicsOf = (ids: string[]) => ids.map((id) => p.jobber.sandbox.webhooks.get(id)!.event.topic);

  beforeAll(async () => {
    p = await startPipeline('visits');
    account = await p.connectAccount();
  });
  afterAll(async () => {
    await p?.close();
  });

  it('stores a visit with its job, client and property, and follows it through VISIT_COMPLETE', async () => {
    const client = store().createClient(account, { firstName: 'Mae', lastName: 'Jemison' }, { webhook: false });
    store().createProperty(account, { clientId: client.id, street1: '1 Home Row' }, { webhook: false });
    const site = store().createProperty(account, { clientId: client.id, street1: '2 Work Row' }, { webhook: false });
    const job = store().createJob(account, { clientId: client.id, title: 'Gutter clean' }, { webhook: false });
    const created = capture(() =>
      store().createVisit(account, { jobId: job.id, propertyId: site.id, startAt: '2025-06-02T09:00:00Z', endAt: '2025-06-02T11:00:00Z' }),
    );
    expect(await p.outcomes(created.webhookIds)).toEqual([expect.objectContaining({ status: 'synced', kind: 'visit', applied: true })]);
    expect(await p.models.Visit.findById(created.result.id).lean()).toMatchObject({
      accountId: account,
      title: 'Gutter clean',
      visitStatus: 'UPCOMING',
      isComplete: false,
      startAt: new Date('2025-06-02T09:00:00Z'),
      jobId: job.id,
      jobNumber: job.jobNumber,
      clientId: client.id,
      clientName: 'Mae Jemison',
      propertyId: site.id,
    });

    const completed = capture(() => store().updateVisit(created.result.id, { completedAt: '2025-06-02T10:45:00Z' }));
    expect(topicsOf(completed.webhookIds)).toEqual(['VISIT_COMPLETE']);
    // Visit completed is off by default: no alert.
    expect(await p.outcomes(completed.webhookIds)).toEqual([expect.objectContaining({ status: 'synced', kind: 'visit', applied: true, alerts: [] })]);
    expect(await p.models.Visit.findById(created.result.id).lean()).toMatchObject({
      visitStatus: 'COMPLETED',
      isComplete: true,
      completedAt: new Date('2025-06-02T10:45:00Z'),
    });
  });

  it('alerts a completed visit once when the account turned that alert on', async () => {
    await saveAlertRules(p.models, account, { ...(await readAlertRules(p.models, account)), 'visit-completed': { on: true } });
    const client = store().createClient(account, { firstName: 'Sally', lastName: 'Ride' }, { webhook: false });
    store().createProperty(account, { clientId: client.id, street1: '3 Orbit Way' }, { webhook: false });
    // The job synced first, so the alert can link to it (a visit has no page of its own).
    const job = capture(() => store().createJob(account, { clientId: client.id, title: 'Roof check' }));
    await p.outcomes(job.webhookIds);
    const created = capture(() => store().createVisit(account, { jobId: job.result.id, startAt: '2025-06-04T09:00:00Z', endAt: '2025-06-04T10:00:00Z' }));
    await p.outcomes(created.webhookIds);
    const completed = capture(() => store().updateVisit(created.result.id, { completedAt: '2025-06-04T09:50:00Z' }, { delivery: { duplicates: 2 } }));
    const outcomes = await p.outcomes(completed.webhookIds);
    expect(outcomes[0]).toMatchObject({ status: 'synced', kind: 'visit', alerts: ['visit-completed'] });
    const alert = expectPostedOnce(p, `Visit completed: Roof check (job #${job.result.jobNumber})`, job.result.jobberWebUri);
    expect(alert.text).toContain('Sally Ride');
  });

  it('tombstones on VISIT_DESTROY, and a late VISIT_UPDATE does not bring it back', async () => {
    const client = store().createClient(account, { firstName: 'Temp' }, { webhook: false });
    store().createProperty(account, { clientId: client.id, street1: '4 Short Stay' }, { webhook: false });
    const job = store().createJob(account, { clientId: client.id }, { webhook: false });
    const created = capture(() => store().createVisit(account, { jobId: job.id, title: 'Gone soon' }));
    await p.outcomes(created.webhookIds);
    const late = capture(() => store().updateVisit(created.result.id, { title: 'Late' }, { delivery: { hold: true } }));
    const destroyed = capture(() => store().deleteVisit(created.result.id));
    expect(await p.outcomes(destroyed.webhookIds)).toEqual([expect.objectContaining({ status: 'deleted', kind: 'visit', applied: true })]);
    await p.jobber.sandbox.webhooks.release(late.webhookIds);
    expect(await p.outcomes(late.webhookIds)).toEqual([{ status: 'gone', kind: 'visit' }]);
    const stored = await p.models.Visit.findById(created.result.id).lean();
    expect(stored?.deletedAt).toBeInstanceOf(Date);
    expect(stored?.title).toBe('Gone soon');
  });
});
