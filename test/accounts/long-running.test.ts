import { accountStateQuery, accountWorkflowId } from '../../workflows/definitions';
import { followConnectFlow } from '../../src/dev/connect-flow';
import { startPipeline, waitFor, type Pipeline } from '../helpers/pipeline';

describe('the account workflow over time', () => {
  let p: Pipeline | undefined;
  afterEach(async () => {
    await p?.close();
    p = undefined;
  });

  it('keeps its history bounded with continue-as-new, carrying its state, and keeps refreshing', async () => {
    p = await startPipeline('can', { sandbox: { accessTokenTtlSeconds: 3 }, accountTiming: { refreshAheadMs: 1500, maxHistoryEvents: 40 } });
    const account = p.jobber.sandbox.store.createAccount({ name: 'Forever Co' });
    await followConnectFlow(p.ingressUrl, account.id);
    const handle = p.temporal.client.workflow.getHandle(accountWorkflowId(account.id));
    const first = (await handle.describe()).runId;
    const later = await waitFor(async () => {
      const d = await handle.describe();
      const state = await handle.query(accountStateQuery);
      return d.runId !== first && state.refreshes >= 3 ? { d, state } : undefined;
    }, 60_000);
    expect(later.d.status.name).toBe('RUNNING');
    expect(later.d.historyLength).toBeLessThan(120);
    expect(later.state).toMatchObject({ status: 'connected', backfill: 'done' });
    expect((await p.models.Connection.findById(account.id).lean())?.status).toBe('connected');
  }, 90_000);

  it('reconciles on its timer and alerts once when an account changes without sending webhooks', async () => {
    p = await startPipeline('silence', { accountTiming: { reconcileEveryMs: 1500, silenceAlertMs: 1000 } });
    const account = p.jobber.sandbox.store.createAccount({ name: 'Muted Co' });
    await followConnectFlow(p.ingressUrl, account.id);
    // Changes whose webhooks never come (as when Jobber disabled them).
    const missed = p.jobber.sandbox.store.createClient(account.id, { firstName: 'Unheard' }, { webhook: false });
    await waitFor(async () => ((await p!.models.Client.findById(missed.id).lean()) ? true : undefined), 30_000);
    const alerts = await waitFor(() => {
      const found = p!.slack.standIn.state.messages.filter((m) => m.text.includes('Muted Co') && m.text.includes('sent no webhook'));
      return found.length ? found : undefined;
    }, 30_000);
    expect(alerts).toHaveLength(1);
  }, 90_000);
});
