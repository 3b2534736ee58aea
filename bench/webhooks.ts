/**
 * Benchmark (not a test): `npm run bench`. Everything runs on this machine over loopback, with
 * bounded request counts and durations. Prints a Markdown report; figures go to docs/BENCHMARKS.md.
 *
 * 1. End to end (first, on an idle server): a burst of UPDATE webhooks for an account until every record is in MongoDB:
 *    events per second and Jobber requests per event.
 * 2. Ack latency of signed webhooks through the real ingress at rising rates, next to plain
 *    client.workflow.start at the same rates on the same server in the same run.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection } from '@temporalio/worker';
import { startStack } from '../src/dev/stack';
import { startJobberSandbox } from '../src/sandbox/jobber';
import { startSlackStandIn } from '../src/sandbox/slack';
import { createApp } from '../src/ingress/app';
import { signJobberBody } from '../src/ingress/jobber-webhook';
import { connectDatabase } from '../src/db/models';
import { TokenStore } from '../src/accounts/token-store';
import { TokenCipher } from '../src/crypto/tokens';
import { JobberOAuth } from '../src/accounts/oauth';
import { CostPacer, JobberGraphQL } from '../src/jobber/client';
import { createSlackClient } from '../src/services';
import { installRuntime } from '../src/worker/runtime';
import { createWorker } from '../src/worker/workers';
import { createLogger } from '../src/logger';
import { encodeGlobalId } from '../workflows/ids';
import { eventWorkflowId } from '../workflows/definitions';

/** Empty (`BENCH_RATES=`) skips the ack-latency phase. */
const RATES = (process.env.BENCH_RATES ?? '25,50,100,150,200').split(',').filter(Boolean).map(Number);
const SECONDS_PER_STEP = Number(process.env.BENCH_SECONDS ?? 5);
const E2E_EVENTS = Number(process.env.BENCH_E2E_EVENTS ?? 500);

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

/** Open loop: one call every 1/rate seconds for the step, whatever the earlier ones are doing. */
async function openLoop(rate: number, seconds: number, call: (i: number) => Promise<boolean>) {
  const total = rate * seconds;
  const latencies: number[] = [];
  let errors = 0;
  const started = performance.now();
  const pending: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = started + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const t0 = performance.now();
    pending.push(
      call(i).then(
        (ok) => {
          latencies.push(performance.now() - t0);
          if (!ok) errors++;
        },
        () => {
          errors++;
        },
      ),
    );
  }
  await Promise.all(pending);
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const p99 = percentile(latencies, 99);
  return {
    rate,
    achieved: total / elapsed,
    p50: percentile(latencies, 50),
    p99,
    errors,
    held: errors === 0 && p99 < 1000 && total / elapsed >= rate * 0.95,
  };
}

/** Stops the Temporal and FerretDB processes; set once they run, so a failed run does not leave them behind. */
let stopServers: (() => Promise<void>) | undefined;

async function main() {
  const logger = createLogger({ name: 'bench', level: 'error' });
  installRuntime(logger);
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'jobber-bench-'));
  const stack = await startStack({ dataDir, log: () => undefined });
  stopServers = stack.stop;
  const jobber = await startJobberSandbox({ requestLimit: { max: 1_000_000 }, costBucket: { maximumAvailable: 10_000, restoreRate: 500 } });
  const slack = await startSlackStandIn();
  const { connection: mongo, models } = await connectDatabase(stack.mongoUrl);
  const clientConnection = await Connection.connect({ address: stack.temporalAddress });
  const client = new Client({ connection: clientConnection });
  const taskQueue = 'bench';
  const tokens = new TokenStore(models, new TokenCipher(Buffer.alloc(32, 9)));
  const deps = {
    models,
    tokens,
    jobber: new JobberGraphQL({ apiUrl: jobber.url, version: '2025-04-16', pacer: new CostPacer() }),
    oauth: new JobberOAuth({ apiUrl: jobber.url, clientId: jobber.sandbox.clientId, clientSecret: jobber.sandbox.clientSecret, redirectUri: 'http://127.0.0.1/cb' }),
    slack: createSlackClient({ slack: { botToken: slack.standIn.botToken, signingSecret: 's', apiUrl: slack.url, alertChannel: 'C0' } }),
    alertChannel: 'C0BENCH',
    temporal: client,
  };
  const workerConnection = await NativeConnection.connect({ address: stack.temporalAddress });
  const worker = await createWorker({ connection: workerConnection, namespace: 'default', taskQueue, deps });
  const running = worker.run();

  const app = createApp({ temporal: { client, taskQueue }, jobberClientSecret: jobber.sandbox.clientSecret, logger: pino({ level: 'silent' }) });
  const server = createServer(app.callback());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const ingress = `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks/jobber`;
  jobber.sandbox.setWebhookUrl(ingress);

  // Unknown-account events: each starts a workflow that records it (two small activities).
  const stranger = encodeGlobalId('Account', 999_999);
  let seq = 0;
  const webhook = async () => {
    const body = JSON.stringify({
      data: { webHookEvent: { topic: 'CLIENT_UPDATE', appId: 'bench', accountId: stranger, itemId: encodeGlobalId('Client', ++seq), occurredAt: new Date().toISOString() } },
    });
    const res = await fetch(ingress, { method: 'POST', headers: { 'content-type': 'application/json', 'x-jobber-hmac-sha256': signJobberBody(body, jobber.sandbox.clientSecret) }, body });
    await res.arrayBuffer();
    return res.status === 202;
  };
  const direct = async () => {
    const event = { topic: 'CLIENT_UPDATE', accountId: stranger, itemId: encodeGlobalId('Client', ++seq), occurredAt: new Date().toISOString() };
    await client.workflow.start('jobberEventWorkflow', { taskQueue, workflowId: eventWorkflowId(event), args: [{ event }] });
    return true;
  };

  // End to end first, on an idle server: the rate steps leave thousands of workflows queued.
  // End to end: a connected account, E2E_EVENTS records changed at once in Jobber.
  const account = jobber.sandbox.store.createAccount({ name: 'Bench Co' });
  const issued = await jobber.sandbox.connect(account.id);
  await tokens.connect({ id: account.id, name: 'Bench Co' }, { accessToken: issued.access_token, refreshToken: issued.refresh_token });
  const clients = Array.from({ length: E2E_EVENTS }, (_, i) => jobber.sandbox.store.createClient(account.id, { firstName: `C${i}` }, { webhook: false }));
  const requestsBefore = jobber.sandbox.requests.length;
  const t0 = performance.now();
  const { webhookIds } = jobber.sandbox.webhooks.capture(() => clients.forEach((c) => jobber.sandbox.store.updateClient(c.id, { lastName: 'Updated' })));
  const deliveries = () => webhookIds.map((id) => jobber.sandbox.webhooks.get(id)!);
  /** What became of the burst's webhooks in the sandbox: by status, and every attempt by answer. */
  const deliveryReport = () => {
    const byStatus: Record<string, number> = {};
    const answers: Record<string, number> = {};
    for (const d of deliveries()) {
      byStatus[d.status] = (byStatus[d.status] ?? 0) + 1;
      for (const a of d.attempts) answers[a.status ?? a.error ?? '?'] = (answers[a.status ?? a.error ?? '?'] ?? 0) + 1;
    }
    const list = (o: Record<string, number>) => Object.entries(o).map(([k, v]) => `${v} ${k}`).join(', ');
    return `webhooks ${list(byStatus)}; attempts answered ${list(answers)}`;
  };
  let lastProgress = t0;
  for (;;) {
    const done = await models.Client.countDocuments({ accountId: account.id, lastName: 'Updated' });
    if (done >= E2E_EVENTS) break;
    // A delivery the sandbox gave up on never reaches Temporal: the count above cannot reach N.
    const failed = deliveries().filter((d) => d.status === 'failed').length;
    if (failed > 0 && !deliveries().some((d) => d.status === 'scheduled' || d.status === 'sending' || d.status === 'retrying')) {
      throw new Error(`end to end cannot finish: ${done}/${E2E_EVENTS} in MongoDB and the sandbox gave up on ${failed} webhooks (${deliveryReport()})`);
    }
    if (performance.now() - t0 > 600_000) throw new Error(`end to end stalled at ${done}/${E2E_EVENTS} (${deliveryReport()})`);
    if (performance.now() - lastProgress > 10_000) {
      lastProgress = performance.now();
      process.stderr.write(`end to end: ${((lastProgress - t0) / 1000).toFixed(0)} s, ${done}/${E2E_EVENTS} in MongoDB, ${deliveryReport()}\n`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const seconds = (performance.now() - t0) / 1000;
  const requests = jobber.sandbox.requests.slice(requestsBefore).filter((r) => r.accountId === account.id);
  const throttled = requests.filter((r) => r.outcome === 'throttled').length;

  const rows: string[] = [];
  for (const rate of RATES) {
    const viaIngress = await openLoop(rate, SECONDS_PER_STEP, webhook);
    const viaClient = await openLoop(rate, SECONDS_PER_STEP, direct);
    const fmt = (r: typeof viaIngress) => `${r.achieved.toFixed(0)}/s, p50 ${r.p50.toFixed(1)} ms, p99 ${r.p99.toFixed(1)} ms${r.errors ? `, ${r.errors} errors` : ''}${r.held ? '' : ' (not held)'}`;
    rows.push(`| ${rate}/s | ${fmt(viaIngress)} | ${fmt(viaClient)} |`);
    process.stderr.write(`rate ${rate}: ingress ${fmt(viaIngress)}; client ${fmt(viaClient)}\n`);
  }

  process.stdout.write(
    [
      `## Run of ${new Date().toISOString()} (${os.cpus().length} cores, Node ${process.version})`,
      '',
      `Ack latency, ${SECONDS_PER_STEP} s per rate, open loop (held = no errors, p99 < 1 s, ≥ 95% of the rate):`,
      '',
      '| offered rate | signed webhook → ingress → Temporal start | plain client.workflow.start |',
      '| --- | --- | --- |',
      ...rows,
      '',
      `End to end: ${E2E_EVENTS} CLIENT_UPDATE webhooks for one account, until all are in MongoDB: ${seconds.toFixed(1)} s, ` +
        `${(E2E_EVENTS / seconds).toFixed(1)} events/s, ${(requests.length / E2E_EVENTS).toFixed(2)} Jobber requests per event ` +
        `(${throttled} THROTTLED answers among ${requests.length}); ${deliveryReport()}.`,
      '',
    ].join('\n'),
  );

  server.close();
  worker.shutdown();
  await running;
  await workerConnection.close();
  await clientConnection.close();
  await mongo.close();
  await jobber.close();
  await slack.close();
  await stack.stop();
}

main().catch(async (err) => {
  console.error(err);
  await stopServers?.();
  process.exit(1);
});
