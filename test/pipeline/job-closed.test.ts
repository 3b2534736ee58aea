import { readAlertRules, saveAlertRules } from '../../src/slack/alert-rules';
import { expectPostedOnce, startPipeline, type Pipeline } from '../helpers/pipeline';

/** JOB_CLOSED (not in the 2023 schema's enum) refreshes the job like JOB_UPDATE. */
describe('JOB_CLOSED refreshes the job', () => {
  let p: Pipeline;
  let account: string;
  const capture = <T>(fn: () => T) => p.jobber.sandbox.webhooks.capture(fn);
  const store = () => p.jobber.sandbox.store;

  beforeAll(async () => {
    p = await startPipeline('job-closed');
    account = await p.connectAccount();
  });
  afterAll(async () => {
    await p?.close();
  });

  it('stores the closed job as Jobber has it, its links kept, and sends no alert while job closed is off (the default)', async () => {
    const client = store().createClient(account, { firstName: 'Nell' }, { webhook: false });
    const job = store().createJob(account, { clientId: client.id, title: 'Fence', jobStatus: 'active' }, { webhook: false });
    const closed = capture(() => store().updateJob(job.id, { jobStatus: 'archived', completedAt: '2025-06-03T16:00:00Z' }));
    expect(closed.webhookIds.map((id) => p.jobber.sandbox.webhooks.get(id)!.event.topic)).toEqual(['JOB_CLOSED']);
    expect(await p.outcomes(closed.webhookIds)).toEqual([expect.objectContaining({ status: 'synced', kind: 'job', applied: true, alerts: [] })]);
    expect(await p.models.Job.findById(job.id).lean()).toMatchObject({
      jobStatus: 'archived',
      completedAt: new Date('2025-06-03T16:00:00Z'),
      clientId: client.id,
    });
    // A closed job is not a new job: no job-created alert either.
    expect(p.slack.standIn.state.messages.filter((m) => m.text.includes('Fence'))).toEqual([]);
  });

  it('alerts a closed job once when the account turned that alert on', async () => {
    await saveAlertRules(p.models, account, { ...(await readAlertRules(p.models, account)), 'job-closed': { on: true } });
    const client = store().createClient(account, { firstName: 'Ada', lastName: 'Lovelace' }, { webhook: false });
    const job = store().createJob(account, { clientId: client.id, title: 'Hedge wall', jobStatus: 'active' }, { webhook: false });
    const closed = capture(() => store().updateJob(job.id, { jobStatus: 'archived' }, { delivery: { duplicates: 2 } }));
    const outcomes = await p.outcomes(closed.webhookIds);
    expect(outcomes[0]).toMatchObject({ status: 'synced', kind: 'job', alerts: ['job-closed'] });
    expect(expectPostedOnce(p, `Job #${job.jobNumber} closed: Hedge wall`, job.jobberWebUri).text).toContain('Ada Lovelace');
  });
});
