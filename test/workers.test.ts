import { randomBytes } from 'node:crypto';
import { connectDatabase, type Models } from '../src/db/models';
import { freePort } from '../src/dev/stack';
import { followConnectFlow } from '../src/dev/connect-flow';
import { startJobberSandbox, type StartedJobberSandbox } from '../src/sandbox/jobber';
import { startSlackStandIn } from '../src/sandbox/slack';
import { testMongoUrl, testTemporalAddress } from './helpers/env';
import { nextIdBase, waitFor } from './helpers/pipeline';
import { signalGroup, startProcess, type Proc } from './helpers/processes';

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Ingress and workers are stateless: two worker processes on one task queue share the work, and
 * when one dies mid-burst (SIGKILL: no drain, activities cut off), the other finishes it. Every
 * record ends in its last state, and every alert is posted exactly once. On FerretDB, whose
 * updates are not atomic, this holds because each record has one writer, its record workflow,
 * whichever process runs it.
 */
describe('two worker processes on one task queue, one killed mid-burst', () => {
  const key = randomBytes(32);
  const mongoUrl = testMongoUrl('two-workers');
  let jobber: StartedJobberSandbox;
  let slack: Awaited<ReturnType<typeof startSlackStandIn>>;
  let ingress: Proc;
  const workers: Proc[] = [];
  let ingressUrl: string;
  let models: Models;
  let closeDb: () => Promise<void>;

  beforeAll(async () => {
    const port = await freePort();
    ingressUrl = `http://127.0.0.1:${port}`;
    jobber = await startJobberSandbox({ port: 0, webhookUrl: `${ingressUrl}/webhooks/jobber`, idBase: nextIdBase() });
    slack = await startSlackStandIn({ port: 0 });
    const env = async (): Promise<NodeJS.ProcessEnv> => ({
      ...process.env,
      PORT: String(port),
      PUBLIC_URL: ingressUrl,
      METRICS_PORT: String(await freePort()),
      TEMPORAL_ADDRESS: testTemporalAddress(),
      TEMPORAL_TASK_QUEUE: `two-workers-${Date.now()}`,
      MONGO_URL: mongoUrl,
      JOBBER_CLIENT_ID: jobber.sandbox.clientId,
      JOBBER_CLIENT_SECRET: jobber.sandbox.clientSecret,
      JOBBER_API_URL: jobber.url,
      SLACK_BOT_TOKEN: slack.standIn.botToken,
      SLACK_SIGNING_SECRET: 'two-workers-signing-secret',
      SLACK_API_URL: slack.url,
      SLACK_ALERT_CHANNEL: 'C0WORKERS',
      TOKEN_ENCRYPTION_KEY: key.toString('base64'),
      SESSION_SECRET: randomBytes(32).toString('base64url'),
      LOG_LEVEL: 'info',
    });
    const shared = await env();
    ingress = startProcess('npm', ['run', 'ingress'], shared);
    for (let i = 0; i < 2; i++) workers.push(startProcess('npm', ['run', 'worker'], { ...shared, METRICS_PORT: String(await freePort()) }));
    await waitFor(async () => ((await fetch(`${ingressUrl}/readyz`).catch(() => undefined))?.status === 200 ? true : undefined), 90_000).catch((err: Error) => {
      throw new Error(`${err.message}\n${ingress.output().slice(-2000)}`);
    });
    for (const worker of workers)
      await waitFor(() => (worker.output().includes('worker running') ? true : undefined), 120_000).catch((err: Error) => {
        throw new Error(`${err.message}\n${worker.output().slice(-2000)}`);
      });
    const db = await connectDatabase(mongoUrl);
    models = db.models;
    closeDb = () => db.connection.close();
  }, 300_000);

  afterAll(async () => {
    for (const proc of [ingress, ...workers]) if (proc) await signalGroup(proc, 'SIGKILL');
    await closeDb?.();
    await jobber?.close();
    await slack?.close();
  }, 60_000);

  it('stores every record in its last state and posts every alert exactly once', async () => {
    const store = jobber.sandbox.store;
    const account = store.createAccount({ name: 'Two Workers Co' });
    expect((await followConnectFlow(ingressUrl, account.id)).location).toBe('/manage');
    const owner = store.createClient(account.id, { firstName: 'Burst', lastName: 'Client' }, { webhook: false });

    // A burst: new jobs (one alert each), and invoices changed again and again, one paid on the way.
    const jobs: { id: string; title: string }[] = [];
    const invoices = Array.from({ length: 4 }, (_, i) =>
      store.createInvoice(account.id, { clientId: owner.id, subject: `Invoice ${i} v0`, amounts: { subtotal: 50, total: 50 } }, { webhook: false }),
    );
    const last = new Map<string, string>();
    for (let round = 0; round < 12; round++) {
      // Two digits: no title is the start of another.
      const title = `Burst job ${String(round).padStart(2, '0')}`;
      const job = store.createJob(account.id, { clientId: owner.id, title });
      jobs.push({ id: job.id, title });
      for (const [i, invoice] of invoices.entries()) {
        const subject = `Invoice ${i} v${round + 1}`;
        store.updateInvoice(invoice.id, round === 5 && i === 0 ? { subject, invoiceStatus: 'paid', amounts: { paymentsTotal: 50 } } : { subject });
        last.set(invoice.id, subject);
      }
      // Mid-burst, once the workers are busy with it, one of them dies without a chance to drain.
      if (round === 5) {
        await waitFor(async () => ((await models.Job.countDocuments({ accountId: account.id })) > 0 ? true : undefined), 60_000);
        await signalGroup(workers[0]!, 'SIGKILL');
      }
      await pause(300);
    }

    // The survivor finishes everything (activities cut off with the killed process time out and run again).
    await waitFor(async () => {
      const stored = await models.Job.countDocuments({ _id: { $in: jobs.map((j) => j.id) } });
      const invoicesDone = await Promise.all(invoices.map(async (inv) => (await models.Invoice.findById(inv.id).lean())?.subject === last.get(inv.id)));
      const alerts = slack.standIn.state.messages.filter((m) => m.text.includes('Burst job')).length;
      return stored === jobs.length && invoicesDone.every(Boolean) && alerts >= jobs.length ? true : undefined;
    }, 200_000).catch(async (err: Error) => {
      throw new Error(`${err.message}\n--- survivor ---\n${workers[1]!.output().slice(-3000)}`);
    });
    // Let any late duplicate show before counting.
    await pause(3000);

    for (const job of jobs) expect(slack.standIn.state.messages.filter((m) => m.text.includes(job.title))).toHaveLength(1);
    expect(slack.standIn.state.messages.filter((m) => m.text.includes('Burst job'))).toHaveLength(jobs.length);
    for (const invoice of invoices) {
      const stored = await models.Invoice.findById(invoice.id).lean();
      expect(stored).toMatchObject({ subject: last.get(invoice.id) });
      expect(stored?.deletedAt ?? null).toBeNull();
    }
    expect(await models.Invoice.findById(invoices[0]!.id).lean()).toMatchObject({ invoiceStatus: 'paid' });
    expect(slack.standIn.state.messages.filter((m) => m.text.includes(`Invoice #${invoices[0]!.invoiceNumber} paid`))).toHaveLength(1);
    // Nothing was given up on.
    expect(await models.DeadLetter.countDocuments({})).toBe(0);
    expect(workers[1]!.child.exitCode).toBeNull();
  }, 420_000);
});
