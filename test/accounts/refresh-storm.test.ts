import { accountStateQuery, accountWorkflowId } from '../../workflows/definitions';
import { followConnectFlow } from '../../src/dev/connect-flow';
import { refreshGrants, startPipeline, waitFor, type Pipeline } from '../helpers/pipeline';

describe('a 401 storm on a worker with few activity slots', () => {
  const SLOTS = 2;
  let p: Pipeline;

  beforeAll(async () => {
    // Tokens live an hour: the only refresh is the one the 401s ask for.
    p = await startPipeline('refresh-storm', {
      sandbox: { accessTokenTtlSeconds: 3600 },
      workerOptions: { maxConcurrentActivityTaskExecutions: SLOTS },
    });
  });
  afterAll(async () => {
    await p?.close();
  });

  it('does not deadlock: more 401s than slots all sync, with exactly one refresh', async () => {
    const account = p.jobber.sandbox.store.createAccount({ name: 'Storm Co' });
    await followConnectFlow(p.ingressUrl, account.id);
    await waitFor(async () => ((await p.control.state(account.id))?.backfill === 'done' ? true : undefined), 120_000);
    const before = refreshGrants(p, account.id).length;
    p.jobber.sandbox.oauth.expireAccessTokens(p.jobber.sandbox.store.accountNumber(account.id)!);
    const { webhookIds } = p.jobber.sandbox.webhooks.capture(() => {
      for (let i = 0; i < 5 * SLOTS; i++) p.jobber.sandbox.store.createClient(account.id, { firstName: `Storm${i}` });
    });
    // Every slot is soon held by an activity waiting for the refresh; the refresh still runs.
    const outcomes = await p.outcomes(webhookIds);
    expect(outcomes.filter((o) => o.status === 'synced')).toHaveLength(5 * SLOTS);
    expect(
      refreshGrants(p, account.id)
        .slice(before)
        .map((g) => g.outcome),
    ).toEqual(['accepted']);
    expect((await p.temporal.client.workflow.getHandle(accountWorkflowId(account.id)).query(accountStateQuery)).status).toBe('connected');
    expect(await p.models.Client.countDocuments({ accountId: account.id, firstName: /^Storm/ })).toBe(5 * SLOTS);
  }, 240_000);
});
