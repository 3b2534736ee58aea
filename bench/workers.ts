/**
 * Benchmark (not a test): `npm run bench:workers`. The service as it is deployed, its ingress and
 * its workers in processes of their own. Everything runs on this machine over loopback, with
 * bounded event counts and a deadline on every wait. Prints a Markdown report on stdout (progress
 * on stderr); figures go to docs/BENCHMARKS.md.
 *
 * The ingress and the workers are `npm run ingress` and `npm run worker`, configured by
 * environment variables, the workers loading a workflow bundle built once here with
 * scripts/bundle-workflows.ts, against a Temporal dev server and FerretDB started here on ports
 * the OS picks; the Jobber sandbox and the Slack stand-in run in this process. One sandbox account
 * is connected through the real OAuth flow and BENCH_WORKERS_EVENTS clients are created in it
 * without webhooks. Then:
 *
 * 1. One worker process against two (issue 15): BENCH_ROUNDS rounds each time a phase with one
 *    worker process and a phase with two (the order flips each round; the second process is
 *    started, or stopped with SIGTERM, between phases, and the backlog drained before each
 *    phase). A phase changes every client once in the sandbox, which sends a signed
 *    CLIENT_UPDATE webhook for each, and is timed until every change is in MongoDB: ingress →
 *    jobberRecordWorkflow → fetch from Jobber → MongoDB.
 * 2. Acknowledgement with the ingress and the worker apart (BENCH_ACK_RATE, off by default): an
 *    open loop of signed webhooks at that rate for BENCH_SECONDS, with one worker process, right
 *    after BENCH_BUSY_EVENTS fetch-and-store events were handed over, and with the worker idle.
 * 3. Resident memory (BENCH_MEMORY_EVENTS, off by default): a fresh ingress and one fresh worker
 *    process; VmRSS of each at idle, every BENCH_MEMORY_EVERY accepted events, and once all
 *    are accepted and done.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { connectDatabase } from '../src/db/models';
import { freePort, startStack } from '../src/dev/stack';
import { followConnectFlow } from '../src/dev/connect-flow';
import { groupAlive } from '../src/dev/process-group';
import { encodeWebhookBody, signWebhook, startJobberSandbox } from '../src/sandbox/jobber';
import { startSlackStandIn } from '../src/sandbox/slack';
import { deliverEvent } from '../src/workflow-client/event-workflow';
import { encodeGlobalId } from '../workflows/ids';
import { f1, f2, median, progress, sleep } from './report';
import { countsText, deliverAll, openLoop, post, promValue, scrape, type Answer, type SignedWebhook } from './load';
import { cpuBetween, groupMemory, killAll, mib, sampleCpu, startProc, stopGracefully, until, type GroupMemory, type Proc } from './procs';

const num = (name: string, fallback: number, least = 1) => {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isFinite(value) || value < least) throw new Error(`${name} must be a number >= ${least}, got ${process.env[name]}`);
  return Math.floor(value);
};
/** 0 skips the one-against-two rounds (the warm-up still runs). */
const ROUNDS = num('BENCH_ROUNDS', 3, 0);
const EVENTS = num('BENCH_WORKERS_EVENTS', 100);
/** More delivery attempts than the sandbox's default 4, as in bench/webhooks.ts: the run measures throughput, not the sender's patience. */
const WEBHOOK_ATTEMPTS = num('BENCH_WEBHOOK_ATTEMPTS', 10);
/** Acknowledgement phase: webhooks per second offered (0: off), for BENCH_SECONDS per step. */
const ACK_RATE = num('BENCH_ACK_RATE', 0, 0);
const SECONDS = num('BENCH_SECONDS', 5);
/** Fetch-and-store events handed to their record workflows right before the busy step. */
const BUSY_EVENTS = num('BENCH_BUSY_EVENTS', 100, 0);
/** Each round times a busy step and an idle step (the order flips each round). */
const ACK_ROUNDS = num('BENCH_ACK_ROUNDS', 1);
/** Memory phase: events that must all be accepted (0: off). */
const MEMORY_EVENTS = num('BENCH_MEMORY_EVENTS', 0, 0);
/** Memory read every this many accepted events. */
const MEMORY_EVERY = num('BENCH_MEMORY_EVERY', 2500);
/** Share of the memory phase's events that are real changes of the connected account's clients (fetch from Jobber and store). */
const MEMORY_REAL_SHARE = (() => {
  const value = Number(process.env.BENCH_MEMORY_REAL_SHARE ?? 0.1);
  if (!Number.isFinite(value) || value < 0 || value > 1)
    throw new Error(`BENCH_MEMORY_REAL_SHARE must be between 0 and 1, got ${process.env.BENCH_MEMORY_REAL_SHARE}`);
  return value;
})();
/** Clients the real changes go round (a client is changed again only in a later second: each change is an event). */
const MEMORY_CLIENTS = num('BENCH_MEMORY_CLIENTS', 200);
/** Webhooks in flight at most while the memory phase's events are delivered. */
const MEMORY_CONCURRENCY = num('BENCH_MEMORY_CONCURRENCY', 10);
/** Events of the same mix before the idle reading, not counted. */
const MEMORY_WARMUP = num('BENCH_MEMORY_WARMUP', 200, 0);

const TASK_QUEUE = 'bench-workers';
const READY_MS = 180_000;
const DRAIN_MS = 600_000;
const PHASE_MS = 600_000;
/** The memory phase's deadlines: every event accepted, then the backlog drained. */
const ACCEPT_MS = 1_800_000;
const MEMORY_DRAIN_MS = 1_200_000;
/** An event refused this many times stops the memory phase (at 5 to 10 s per retry, over ten minutes). */
const MAX_ATTEMPTS = 100;
const BENCH_CPU = 'bench (sandbox, Slack stand-in, webhook sender)';
/** The ingress's default deadline for Temporal's answer (src/ingress/jobber-webhook.ts). */
const TEMPORAL_DEADLINE_MS = 700;

let cleanup: (() => Promise<void>) | undefined;
/** The Markdown report, section by section; printed at the end, or as far as it got when the run fails. */
const report: string[] = [];
process.on('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    progress(`${signal}: stopping the processes and servers`);
    void (cleanup?.() ?? Promise.resolve()).finally(() => process.exit(130));
  });
}

async function main() {
  const out = report;
  const say = (...lines: string[]) => out.push(...lines);
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'jobber-bench-workers-'));

  // Every server listens on a port the OS picks: never the fixed ports of the local run.
  progress('starting Temporal and FerretDB');
  const stack = await startStack({ dataDir, log: () => undefined });
  const closers: (() => Promise<unknown>)[] = [() => stack.stop()];
  cleanup = async () => {
    killAll();
    for (const close of closers.reverse()) await close().catch(() => undefined);
    closers.length = 0;
  };

  // The workflow bundle, built once: each worker process loads it instead of bundling at start.
  const bundlePath = path.join(dataDir, 'workflow-bundle.js');
  progress('building the workflow bundle');
  const bundler = startProc('bundler', 'npx', ['tsx', 'scripts/bundle-workflows.ts', bundlePath], process.env);
  const bundled = new Promise<number | null>((resolve) => bundler.child.once('exit', resolve));
  await until('scripts/bundle-workflows.ts', READY_MS, () => bundler.child.exitCode !== null || bundler.child.signalCode !== null, bundler.tail);
  if ((await bundled) !== 0) throw new Error(`scripts/bundle-workflows.ts failed:\n${bundler.tail().slice(-2000)}`);

  const port = await freePort();
  const ingressUrl = `http://127.0.0.1:${port}`;
  const jobber = await startJobberSandbox({
    webhookUrl: `${ingressUrl}/webhooks/jobber`,
    requestLimit: { max: 1_000_000 },
    webhooks: { maxAttempts: WEBHOOK_ATTEMPTS },
  });
  closers.push(() => jobber.close());
  const slack = await startSlackStandIn();
  closers.push(() => slack.close());

  const env = async (): Promise<NodeJS.ProcessEnv> => ({
    ...process.env,
    PORT: String(port),
    PUBLIC_URL: ingressUrl,
    METRICS_PORT: String(await freePort()),
    TEMPORAL_ADDRESS: stack.temporalAddress,
    TEMPORAL_TASK_QUEUE: TASK_QUEUE,
    MONGO_URL: stack.mongoUrl,
    JOBBER_CLIENT_ID: jobber.sandbox.clientId,
    JOBBER_CLIENT_SECRET: jobber.sandbox.clientSecret,
    JOBBER_API_URL: jobber.url,
    SLACK_BOT_TOKEN: slack.standIn.botToken,
    SLACK_SIGNING_SECRET: 'bench-workers-signing-secret',
    SLACK_API_URL: slack.url,
    SLACK_ALERT_CHANNEL: 'C0BENCH',
    TOKEN_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    SESSION_SECRET: randomBytes(32).toString('base64url'),
    WORKFLOW_BUNDLE_PATH: bundlePath,
    LOG_LEVEL: 'info',
  });
  const shared = await env();

  progress('starting the ingress and the first worker process');
  const startIngress = async () => {
    const proc = startProc('ingress', 'npm', ['run', 'ingress'], shared);
    await until(
      'the ingress answering /readyz with 200',
      READY_MS,
      async () => {
        if (!groupAlive(proc)) throw new Error(`the ingress exited while starting:\n${proc.tail().slice(-2000)}`);
        return (await fetch(`${ingressUrl}/readyz`).catch(() => undefined))?.status === 200;
      },
      () => proc.tail().slice(-2000),
    );
    return proc;
  };
  let ingress = startProc('ingress', 'npm', ['run', 'ingress'], shared);
  const workers: Proc[] = [];
  /** Where each worker process serves the SDK's Prometheus metrics. */
  const metricsPorts = new Map<Proc, number>();
  const startWorker = async () => {
    const metricsPort = await freePort();
    const worker = startProc(`worker ${workers.length + 1}`, 'npm', ['run', 'worker'], { ...shared, METRICS_PORT: String(metricsPort) }, ['worker running']);
    workers.push(worker);
    metricsPorts.set(worker, metricsPort);
    await until(
      `${worker.name} starting (no "worker running" line)`,
      READY_MS,
      () => {
        if (!groupAlive(worker)) throw new Error(`${worker.name} exited while starting:\n${worker.tail().slice(-2000)}`);
        return worker.saw('worker running');
      },
      () => worker.tail().slice(-2000),
    );
  };
  /** Starts or stops (SIGTERM, waited for) worker processes until `want` run. */
  const setWorkers = async (want: number) => {
    while (workers.length > want) {
      const worker = workers.pop()!;
      progress(`stopping ${worker.name} (SIGTERM)`);
      await stopGracefully(worker);
    }
    while (workers.length < want) {
      progress(`starting worker ${workers.length + 1}`);
      await startWorker();
    }
  };
  await startWorker();
  await until(
    'the ingress answering /readyz with 200',
    READY_MS,
    async () => (await fetch(`${ingressUrl}/readyz`).catch(() => undefined))?.status === 200,
    () => ingress.tail().slice(-2000),
  );

  const { connection: mongo, models } = await connectDatabase(stack.mongoUrl);
  closers.push(() => mongo.close());
  const connection = await Connection.connect({ address: stack.temporalAddress });
  closers.push(() => connection.close());
  const client = new Client({ connection });

  /** Record workflows (and any other but the account's own) running on the task queue; delayed starts count as running. */
  const RUNNING = `TaskQueue="${TASK_QUEUE}" AND ExecutionStatus="Running" AND WorkflowType!="accountWorkflow"`;
  const running = async () => (await client.connection.withDeadline(Date.now() + 30_000, () => client.workflow.count(RUNNING))).count;
  /** Waits until no workflow but the account's own runs on the task queue. */
  const drain = async (timeoutMs = DRAIN_MS) => {
    let count = NaN;
    await until(
      'the backlog draining',
      timeoutMs,
      async () => (count = await running()) === 0,
      () => `${count} workflows still running on ${TASK_QUEUE}`,
    );
  };

  // One account, connected as a user would: the ingress's OAuth routes and the sandbox's consent.
  const account = jobber.sandbox.store.createAccount({ name: 'Bench Workers Co' });
  const connected = await followConnectFlow(ingressUrl, account.id);
  if (connected.location !== '/manage') throw new Error(`the connect flow ended at ${connected.location ?? connected.status}: ${connected.body.slice(0, 500)}`);
  await until('the account connected in MongoDB', 60_000, async () => (await models.Connection.findById(account.id).lean())?.status === 'connected');
  const clients = Array.from({ length: EVENTS }, (_, i) => jobber.sandbox.store.createClient(account.id, { firstName: `W${i}` }, { webhook: false }));
  await drain();

  type Side = 'one' | 'two';
  const phase = async (side: Side, label: string) => {
    const want = side === 'one' ? 1 : 2;
    await setWorkers(want);
    await drain();
    const marker = `${label}-${side}`;
    const fromRequest = jobber.sandbox.requests.at(-1)?.id ?? 0;
    const cpuBefore = sampleCpu([...workers, ingress]);
    const t0 = performance.now();
    const { webhookIds } = jobber.sandbox.webhooks.capture(() => clients.forEach((c) => jobber.sandbox.store.updateClient(c.id, { lastName: marker })));
    const deliveries = () => webhookIds.map((id) => jobber.sandbox.webhooks.get(id)!);
    const answers = () => {
      const counts: Record<string, number> = {};
      for (const d of deliveries()) for (const a of d.attempts) counts[a.status ?? a.error ?? '?'] = (counts[a.status ?? a.error ?? '?'] ?? 0) + 1;
      return Object.entries(counts)
        .map(([k, v]) => `${v} ${k}`)
        .join(', ');
    };
    let done = 0;
    let lastProgress = t0;
    await until(
      `${label}, ${side} worker process${want > 1 ? 'es' : ''}: every change in MongoDB`,
      PHASE_MS,
      async () => {
        done = await models.Client.countDocuments({ accountId: account.id, lastName: marker });
        if (done >= EVENTS) return true;
        for (const p of [ingress, ...workers]) if (!groupAlive(p)) throw new Error(`${p.name} exited during the phase:\n${p.tail().slice(-3000)}`);
        // A delivery the sandbox gave up on never reaches Temporal: the count cannot reach N.
        const failed = deliveries().filter((d) => d.status === 'failed').length;
        if (failed > 0 && !deliveries().some((d) => d.status === 'scheduled' || d.status === 'sending' || d.status === 'retrying')) {
          throw new Error(`${done}/${EVENTS} in MongoDB and the sandbox gave up on ${failed} webhooks (attempts answered ${answers()})`);
        }
        if (performance.now() - lastProgress > 10_000) {
          lastProgress = performance.now();
          progress(`${label} ${side}: ${((lastProgress - t0) / 1000).toFixed(0)} s, ${done}/${EVENTS} in MongoDB`);
        }
        return false;
      },
      () => `${done}/${EVENTS} in MongoDB; webhook attempts answered ${answers()}`,
    );
    const seconds = (performance.now() - t0) / 1000;
    const cpu = cpuBetween(cpuBefore, sampleCpu([...workers, ingress]), seconds);
    const requests = jobber.sandbox.requests.filter((r) => r.id > fromRequest && r.accountId === account.id);
    return {
      seconds,
      rate: EVENTS / seconds,
      requests: requests.length,
      throttled: requests.filter((r) => r.outcome === 'throttled').length,
      answers: answers(),
      cpu,
      load: os.loadavg()[0]!,
    };
  };

  const startLoad = os.loadavg();
  const cpu = os.cpus();
  say(
    `## Run of ${new Date().toISOString()} (${cpu.length} cores, ${cpu[0]?.model ?? '?'}, Node ${process.version}, load average ${startLoad.map(f2).join(' ')} at the start)`,
    '',
    `Settings: BENCH_ROUNDS=${ROUNDS} BENCH_WORKERS_EVENTS=${EVENTS} BENCH_WEBHOOK_ATTEMPTS=${WEBHOOK_ATTEMPTS} ` +
      `BENCH_ACK_RATE=${ACK_RATE} BENCH_SECONDS=${SECONDS} BENCH_BUSY_EVENTS=${BUSY_EVENTS} BENCH_ACK_ROUNDS=${ACK_ROUNDS} ` +
      `BENCH_MEMORY_EVENTS=${MEMORY_EVENTS} BENCH_MEMORY_EVERY=${MEMORY_EVERY} BENCH_MEMORY_REAL_SHARE=${MEMORY_REAL_SHARE} ` +
      `BENCH_MEMORY_CLIENTS=${MEMORY_CLIENTS} BENCH_MEMORY_CONCURRENCY=${MEMORY_CONCURRENCY} BENCH_MEMORY_WARMUP=${MEMORY_WARMUP}; ` +
      `ingress and workers as \`npm run ingress\` / \`npm run worker\` processes (prebuilt workflow bundle, LOG_LEVEL=info), one task queue.`,
    '',
  );

  // Warm-up, not reported: the first change of each client is an insert and the first worker's caches are cold.
  progress(`warm-up: ${EVENTS} changes with one worker process`);
  await phase('one', 'warm-up');

  const rows: string[] = [];
  const ratios: number[] = [];
  for (let round = 1; round <= ROUNDS; round++) {
    const order: Side[] = round % 2 ? ['one', 'two'] : ['two', 'one'];
    const result: Partial<Record<Side, Awaited<ReturnType<typeof phase>>>> = {};
    for (const side of order) {
      result[side] = await phase(side, `R${round}`);
      progress(`round ${round}, ${side} worker process${side === 'two' ? 'es' : ''}: ${f1(result[side].rate)} events/s (${f1(result[side].seconds)} s)`);
    }
    const one = result.one!;
    const two = result.two!;
    ratios.push(two.rate / one.rate);
    const cell = (r: typeof one) => `${f1(r.rate)} (${f1(r.seconds)} s, ${f2(r.requests / EVENTS)} req/event, ${r.throttled} THROTTLED)`;
    rows.push(`| ${round} (${order.join(' first, ')} second) | ${cell(one)} | ${cell(two)} | ${f2(two.rate / one.rate)} |`);
    const detail = (r: typeof one) => `webhook attempts answered ${r.answers}; ${r.cpu}; load average ${f2(r.load)}`;
    rows.push(`|  | ${detail(one)} | ${detail(two)} |  |`);
  }
  if (ROUNDS > 0) {
    say(
      `### One and two worker processes: ${EVENTS} CLIENT_UPDATE webhooks at once for one connected account, until all are in MongoDB (events/s)`,
      '',
      '| round | one worker process | two worker processes | two / one |',
      '| --- | --- | --- | --- |',
      ...rows,
      '',
      `**Median two / one: ${f2(median(ratios))}** over ${ratios.length} rounds.`,
      '',
      'Cores busy = CPU seconds during the phase ÷ its wall time, per process group (a worker or the ingress: npm, tsx and node); ' +
        '"everything else" is the rest of the machine (other users included).',
      '',
    );
  }

  // Events for an account the service does not hold, each for a record of its own: the record's
  // workflow runs, syncRecord finds no account and skips the fetch, the outcome is recorded.
  const webhookUrl = `${ingressUrl}/webhooks/jobber`;
  const stranger = encodeGlobalId('Account', 999_999);
  let strangerSeq = 0;
  const signed = (event: { topic: string; accountId: string; itemId: string; occurredAt: string }): SignedWebhook => {
    const body = encodeWebhookBody({ ...event, appId: jobber.sandbox.appId }, 'json', 'occurredAt');
    return { body, signature: signWebhook(jobber.sandbox.clientSecret, body) };
  };
  const strangerEvent = () => ({
    topic: 'CLIENT_UPDATE',
    accountId: stranger,
    itemId: encodeGlobalId('Client', 50_000_000 + ++strangerSeq),
    // Jobber stamps whole seconds.
    occurredAt: new Date(Math.floor(Date.now() / 1000) * 1000).toISOString(),
  });
  const strangerWebhook = () => signed(strangerEvent());

  // 2. Acknowledgement with the ingress and one worker in processes of their own.
  if (ACK_RATE > 0) {
    await setWorkers(1);
    const busyClients = [
      ...clients,
      ...Array.from({ length: Math.max(0, BUSY_EVENTS - clients.length) }, (_, i) =>
        jobber.sandbox.store.createClient(account.id, { firstName: `B${i}` }, { webhook: false }),
      ),
    ].slice(0, BUSY_EVENTS);
    /** Changed in Jobber without a webhook and handed to their record workflows from here: the ingress sees only the timed calls. */
    const busy = async () => {
      // Three seconds back: settled, so each workflow fetches at once (no start delay).
      const changedAt = new Date(Math.floor(Date.now() / 1000) * 1000 - 3000).toISOString();
      busyClients.forEach((c) => jobber.sandbox.store.updateClient(c.id, { companyName: `busy ${changedAt}` }, { webhook: false }));
      for (let i = 0; i < busyClients.length; i += 20) {
        await Promise.all(
          busyClients
            .slice(i, i + 20)
            .map((c) =>
              client.connection.withDeadline(Date.now() + 30_000, () =>
                deliverEvent(client, TASK_QUEUE, { event: { topic: 'CLIENT_UPDATE', accountId: account.id, itemId: c.id, occurredAt: changedAt } }, 'busy'),
              ),
            ),
        );
      }
    };
    const metricsUrl = `${ingressUrl}/metrics`;
    type Via = 'ingress' | 'plain';
    const call: Record<Via, () => Promise<Answer>> = {
      ingress: () => post(webhookUrl, strangerWebhook()),
      // The ingress's own hand-off (deliverEvent: signal-with-start of the record's workflow) with its deadline, from this process: Temporal's answer without the ingress.
      plain: async () => {
        const event = strangerEvent();
        const t0 = performance.now();
        try {
          await client.connection.withDeadline(Date.now() + TEMPORAL_DEADLINE_MS, () =>
            deliverEvent(client, TASK_QUEUE, { event }, `${event.topic} ${event.itemId}`),
          );
          return { status: 'held', ms: performance.now() - t0 };
        } catch (err) {
          // The client wraps the gRPC error (DEADLINE_EXCEEDED) in a "Failed to signalWithStart" error.
          const text = `${(err as Error).message} ${String((err as { cause?: unknown }).cause ?? '')}`;
          // Past the deadline the call is cancelled: DEADLINE_EXCEEDED, or CANCELLED when the client's own timer fires first.
          return { status: /deadline|cancelled/i.test(text) ? `not within ${TEMPORAL_DEADLINE_MS} ms` : text.slice(0, 80), ms: performance.now() - t0 };
        }
      },
    };
    const step = async (withBusy: boolean, via: Via) => {
      await drain();
      const t0 = performance.now();
      if (withBusy) await busy();
      const handOver = (performance.now() - t0) / 1000;
      const runningBefore = await running();
      // Resets the ingress's event-loop lag histogram (prom-client resets it at each scrape).
      const before = await scrape(metricsUrl);
      const cpuBefore = sampleCpu([...workers, ingress], BENCH_CPU);
      const t1 = performance.now();
      const r = await openLoop(ACK_RATE, SECONDS, call[via]);
      const seconds = (performance.now() - t1) / 1000;
      const cpu = cpuBetween(cpuBefore, sampleCpu([...workers, ingress], BENCH_CPU), seconds);
      const after = await scrape(metricsUrl);
      const served = promValue(after, 'jobber_webhook_ack_seconds_count') - promValue(before, 'jobber_webhook_ack_seconds_count');
      const servedFast =
        promValue(after, 'jobber_webhook_ack_seconds_bucket', { le: '0.25' }) - promValue(before, 'jobber_webhook_ack_seconds_bucket', { le: '0.25' });
      const lag = (q: string) => promValue(after, `nodejs_eventloop_lag_${q}_seconds`) * 1000;
      return {
        ...r,
        handOver,
        runningBefore,
        runningAfter: await running(),
        ingressSide:
          via === 'ingress'
            ? `${served} answered, ${servedFast} within 250 ms; event loop lag p50 ${f1(lag('p50'))} ms, p99 ${f1(lag('p99'))} ms, max ${f1(lag('max'))} ms`
            : '–',
        cpu,
        load: os.loadavg()[0]!,
      };
    };
    const ackRows: string[] = [];
    for (let round = 1; round <= ACK_ROUNDS; round++) {
      const busyOrder = round % 2 ? [true, false] : [false, true];
      const viaOrder: Via[] = round % 2 ? ['ingress', 'plain'] : ['plain', 'ingress'];
      for (const withBusy of busyOrder) {
        for (const via of viaOrder) {
          const r = await step(withBusy, via);
          const what = withBusy ? `busy (${BUSY_EVENTS} fetch-and-store events handed over in ${f1(r.handOver)} s just before)` : 'idle (no events before)';
          const how = via === 'ingress' ? 'signed webhook → ingress process' : 'plain hand-off from the bench process';
          progress(
            `ack ${ACK_RATE}/s round ${round}, worker ${withBusy ? 'busy' : 'idle'}, ${via}: p50 ${f1(r.p50)} ms, p99 ${f1(r.p99)} ms, ${countsText(r.statuses)}`,
          );
          ackRows.push(
            `| ${round} | ${what} | ${how} | ${f1(r.offered)}/s${r.late ? ` (${r.late} sent over 20 ms late)` : ''} | **p50 ${f1(r.p50)} ms, p99 ${f1(r.p99)} ms**, max ${f1(r.max)} ms; ` +
              `${r.within250} of ${r.total} within 250 ms | ${countsText(r.statuses)} | ${r.ingressSide} | ${r.runningBefore} → ${r.runningAfter} |`,
            `|  |  | ${r.cpu}; load average ${f2(r.load)} |  |  |  |  |  |`,
          );
        }
      }
    }
    say(
      `### Acknowledgement with the ingress and one worker process apart: open loop at ${ACK_RATE}/s for ${SECONDS} s`,
      '',
      'Each event is for an account the service does not hold and a record of its own (its workflow runs, `syncRecord` skips the fetch). ' +
        "Two ways in: signed webhooks POSTed by this process (Node fetch, keep-alive) to the ingress process; and, for comparison, the ingress's own hand-off " +
        `(\`deliverEvent\`, signal-with-start of the record's workflow, with its ${TEMPORAL_DEADLINE_MS} ms deadline) called from this process: Temporal's answer without the ingress. ` +
        "Acknowledgement = the caller's wait for the answer; ingress = its own `jobber_webhook_ack_seconds` and event-loop lag from its /metrics over the step. " +
        'Running = record workflows running on the task queue before → after the step. Cores busy during the step (not the hand-over before it).',
      '',
      '| round | worker | way in | offered | acknowledgement | answers | ingress | running |',
      '| --- | --- | --- | --- | --- | --- | --- | --- |',
      ...ackRows,
      '',
    );
  }

  // 3. Memory of a fresh ingress and one fresh worker process, through N accepted events.
  if (MEMORY_EVENTS > 0) {
    progress('memory: a fresh ingress and one fresh worker process');
    await drain();
    await setWorkers(0);
    await stopGracefully(ingress);
    ingress = await startIngress();
    await setWorkers(1);
    const worker = workers[0]!;
    const workerMetrics = `http://127.0.0.1:${metricsPorts.get(worker)}/metrics`;

    // maxCachedWorkflows as the SDK (1.24, reuseV8Context on by default) resolves it when not given:
    // max(floor((heap_size_limit in MiB - 200) × 600 / 1024), 10); the worker passes no cache option.
    const first = groupMemory(worker);
    const heapLimit = Number(
      execFileSync(process.execPath, [...(first?.flags ?? []), '-p', 'require("v8").getHeapStatistics().heap_size_limit'], {
        env: shared,
        encoding: 'utf8',
        timeout: 30_000,
      }).trim(),
    );
    const heapMiB = heapLimit / 2 ** 20;
    const maxCached = Math.max(Math.floor((Math.max(heapMiB - 200, 0) * 600) / 1024), 10);

    const pool = Array.from({ length: MEMORY_CLIENTS }, (_, i) => jobber.sandbox.store.createClient(account.id, { firstName: `M${i}` }, { webhook: false }));
    const lastMarker = new Map<string, string>();
    const lastSecond = new Map<string, number>();
    const realKeys = new Set<string>();
    let cursor = 0;
    let realEvents = 0;
    let strangerEvents = 0;
    /** A change of a pool client in Jobber, in a second none of its earlier changes took, and Jobber's webhook for it. */
    const realWebhook = async (marker: string): Promise<SignedWebhook> => {
      for (;;) {
        const second = Math.floor(Date.now() / 1000);
        for (let tries = 0; tries < pool.length; tries++) {
          const c = pool[cursor++ % pool.length]!;
          if (lastSecond.get(c.id) === second) continue;
          const view = jobber.sandbox.store.updateClient(c.id, { lastName: marker }, { webhook: false });
          lastSecond.set(c.id, Math.floor(Date.parse(view.updatedAt) / 1000));
          lastMarker.set(c.id, marker);
          realKeys.add(`${c.id}/${view.updatedAt}`);
          realEvents++;
          return signed({ topic: 'CLIENT_UPDATE', accountId: account.id, itemId: c.id, occurredAt: view.updatedAt });
        }
        await sleep(50);
      }
    };
    // Spread evenly: event i is real when the running share crosses a whole number.
    const isReal = (i: number) => Math.floor((i + 1) * MEMORY_REAL_SHARE) > Math.floor(i * MEMORY_REAL_SHARE);
    const make = (tag: string) => (i: number) => {
      if (isReal(i)) return realWebhook(`${tag}-${i}`);
      strangerEvents++;
      return strangerWebhook();
    };

    interface Reading {
      when: string;
      accepted: number;
      ingress?: GroupMemory;
      worker?: GroupMemory;
      ingressHeap: number;
      /** The worker's main-thread heap, as its metrics page last sampled it (every 10 s). */
      workerHeap: number;
      stickyCache: number;
      running: number;
    }
    /** VmRSS read at once; the metrics pages and the running count right after. */
    const read = async (when: string, accepted: number, countRunning = true): Promise<Reading> => {
      const rss = { ingress: groupMemory(ingress), worker: groupMemory(worker) };
      const [ingressPage, workerPage, runningNow] = await Promise.all([
        scrape(`${ingressUrl}/metrics`),
        scrape(workerMetrics),
        countRunning ? running().catch(() => NaN) : Promise.resolve(NaN),
      ]);
      const reading = {
        when,
        accepted,
        ...rss,
        ingressHeap: promValue(ingressPage, 'nodejs_heap_size_used_bytes'),
        workerHeap: promValue(workerPage, 'nodejs_heap_size_used_bytes'),
        stickyCache: promValue(workerPage, 'temporal_sticky_cache_size'),
        running: runningNow,
      };
      // On stderr as it is taken, so that a run stopped later still has it.
      progress(
        `memory reading, ${when}: ingress ${mib(reading.ingress?.service ?? NaN)} (heap ${mib(reading.ingressHeap)}), ` +
          `worker ${mib(reading.worker?.service ?? NaN)} (heap ${mib(reading.workerHeap)}), sticky cache ${reading.stickyCache}, ${reading.running} running`,
      );
      return reading;
    };

    if (MEMORY_WARMUP > 0) {
      progress(`memory: warm-up, ${MEMORY_WARMUP} events`);
      await deliverAll({
        url: webhookUrl,
        total: MEMORY_WARMUP,
        concurrency: MEMORY_CONCURRENCY,
        make: make('mem-warm'),
        deadlineMs: ACCEPT_MS,
        maxAttempts: MAX_ATTEMPTS,
      });
      await drain(MEMORY_DRAIN_MS);
    }
    realEvents = 0;
    strangerEvents = 0;
    realKeys.clear();
    await sleep(5000);
    const readings: Promise<Reading>[] = [read('idle: after start-up and warm-up, backlog drained', 0)];
    const fromRequest = jobber.sandbox.requests.at(-1)?.id ?? 0;
    const cpuBefore = sampleCpu([...workers, ingress], BENCH_CPU);
    const t0 = performance.now();
    let lastProgress = t0;
    let acceptedNow = 0;
    const ticker = setInterval(() => {
      if (performance.now() - lastProgress < 10_000) return;
      lastProgress = performance.now();
      progress(`memory: ${((lastProgress - t0) / 1000).toFixed(0)} s, ${acceptedNow}/${MEMORY_EVENTS} accepted`);
    }, 1000);
    let delivered: Awaited<ReturnType<typeof deliverAll>>;
    try {
      delivered = await deliverAll({
        url: webhookUrl,
        total: MEMORY_EVENTS,
        concurrency: MEMORY_CONCURRENCY,
        make: make('mem'),
        deadlineMs: ACCEPT_MS,
        maxAttempts: MAX_ATTEMPTS,
        onAccepted: (accepted) => {
          acceptedNow = accepted;
          if (accepted % MEMORY_EVERY === 0 && accepted < MEMORY_EVENTS) readings.push(read(`${accepted} accepted`, accepted));
        },
      });
    } finally {
      clearInterval(ticker);
    }
    readings.push(read(`all ${MEMORY_EVENTS} accepted (backlog not drained)`, MEMORY_EVENTS));
    const acceptSeconds = (performance.now() - t0) / 1000;
    progress(`memory: ${MEMORY_EVENTS} accepted in ${f1(acceptSeconds)} s (${delivered.resends} resends); draining`);
    const t1 = performance.now();
    await drain(MEMORY_DRAIN_MS);
    const drainSeconds = (performance.now() - t1) / 1000;
    const cpuPhase = cpuBetween(cpuBefore, sampleCpu([...workers, ingress], BENCH_CPU), (performance.now() - t0) / 1000);
    readings.push(read(`all ${MEMORY_EVENTS} accepted and done (no record workflow running)`, MEMORY_EVENTS));
    const table = await Promise.all(readings);

    // Every pool client holds its last change: the real events were not only accepted but applied.
    const held = await models.Client.find({ _id: { $in: [...lastMarker.keys()] } }, { lastName: 1 }).lean();
    const applied = held.filter((d) => lastMarker.get(String(d._id)) === (d as { lastName?: string }).lastName).length;
    const requests = jobber.sandbox.requests.filter((r) => r.id > fromRequest && r.accountId === account.id);
    const throttled = requests.filter((r) => r.outcome === 'throttled').length;

    const steps = table.filter((r) => r.accepted > 0 && !r.when.includes('done'));
    const growth = (pick: (r: Reading) => number | undefined) => {
      const points = [table[0]!, ...steps];
      if (points.length < 3) return 'too few readings to compare';
      const firstStep = pick(points[1]!)! - pick(points[0]!)!;
      const lastStep = pick(points.at(-1)!)! - pick(points.at(-2)!)!;
      const per = (bytes: number, events: number) => `${mib((bytes * MEMORY_EVERY) / events)}`;
      return (
        `first ${points[1]!.accepted} events ${mib(firstStep)} (${per(firstStep, points[1]!.accepted)} per ${MEMORY_EVERY}), ` +
        `last ${points.at(-1)!.accepted - points.at(-2)!.accepted} ${mib(lastStep)} (${per(lastStep, points.at(-1)!.accepted - points.at(-2)!.accepted)} per ${MEMORY_EVERY}); ` +
        `idle → done ${mib(pick(table.at(-1)!)! - pick(table[0]!)!)}`
      );
    };
    const w = first;
    say(
      `### Resident memory, the ingress and one worker process apart: ${MEMORY_EVENTS} webhooks, every one accepted`,
      '',
      `- Fresh processes: the ingress and the one worker process were started anew for this phase, then ${MEMORY_WARMUP} events of the same mix (not counted) and the backlog drained before the idle reading.`,
      `- Mix: ${realEvents} real changes (${f2(MEMORY_REAL_SHARE * 100)}%) of ${MEMORY_CLIENTS} clients of the connected account, each change in a second of its own ` +
        `(${realKeys.size} natural keys handed over; each is fetched from the sandbox and stored: ${requests.length} Jobber requests, ${throttled} THROTTLED; ` +
        `the first change of a client is an insert), and ${strangerEvents} events for an account the service does not hold, each for a record of its own (\`syncRecord\` skips the fetch).`,
      `- Delivery: at most ${MEMORY_CONCURRENCY} webhooks in flight; an answer other than 2xx is sent again after its Retry-After (5 s) times 1 to 2, as Jobber would, the sender going on with other events meanwhile. ` +
        `${delivered.accepted} accepted in ${f1(acceptSeconds)} s (${f1(delivered.accepted / acceptSeconds)}/s), **${delivered.resends} resends** (at most ${delivered.mostAttempts} attempts for one event); ` +
        `answers: ${countsText(delivered.statuses)}; sender's time per attempt p50 ${f1(delivered.p50)} ms, p99 ${f1(delivered.p99)} ms. ` +
        `Then ${f1(drainSeconds)} s until no record workflow ran.`,
      `- Applied: ${applied} of ${lastMarker.size} changed clients hold their last change in MongoDB.`,
      `- Worker options that bound the cache: none given (\`startWorkerProcess\` passes none), so the SDK's defaults: **maxCachedWorkflows ${maxCached}** ` +
        `= max(floor((heap_size_limit ${f1(heapMiB)} MiB − 200) × 600 / 1024), 10), the SDK's formula with reuseV8Context (its default), heap_size_limit read by ` +
        `\`node -p v8.getHeapStatistics().heap_size_limit\` with the worker's environment and node flags (${w?.flags.length ? w.flags.join(' ') : "none besides tsx's loader"}); ` +
        `maxConcurrentWorkflowTaskExecutions 40, maxConcurrentActivityTaskExecutions 100, maxConcurrentLocalActivityExecutions 100. ` +
        `Sticky cache below = the worker's \`temporal_sticky_cache_size\` gauge.`,
      `- CPU over the phase (${f1((performance.now() - t0) / 1000)} s): ${cpuPhase}.`,
      '',
      '| when | accepted | record workflows running | ingress VmRSS | ingress heap used | worker VmRSS | worker heap used (main thread, sampled every 10 s) | worker sticky cache |',
      '| --- | --- | --- | --- | --- | --- | --- | --- |',
      ...table.map(
        (r) =>
          `| ${r.when} | ${r.accepted} | ${Number.isFinite(r.running) ? r.running : '–'} | ${mib(r.ingress?.service ?? NaN)} | ${mib(r.ingressHeap)} | ` +
          `${mib(r.worker?.service ?? NaN)} | ${mib(r.workerHeap)} | ${Number.isFinite(r.stickyCache) ? r.stickyCache : '–'} |`,
      ),
      '',
      `VmRSS from /proc/<pid>/status of the service's own Node process (pid ${table[0]!.ingress?.pid ?? '?'} ingress, ${w?.pid ?? '?'} worker; ` +
        `children included: ${table.at(-1)!.ingress?.processes ?? '?'} and ${table.at(-1)!.worker?.processes ?? '?'} processes), not the npm and tsx wrappers in front ` +
        `(${mib(table.at(-1)!.ingress?.wrappers ?? NaN)} and ${mib(table.at(-1)!.worker?.wrappers ?? NaN)} at the end). Heap used: each process's own \`nodejs_heap_size_used_bytes\` (the worker's is its main thread's, sampled every 10 s; the workflow threads' isolates are not in it).`,
      '',
      `Growth of the worker's VmRSS: ${growth((r) => r.worker?.service)}.`,
      `Growth of the ingress's VmRSS: ${growth((r) => r.ingress?.service)}.`,
      '',
    );
  }

  say(`Load average at the end: ${os.loadavg().map(f2).join(' ')}.`, '');

  // Stop as a supervisor would: SIGTERM, every process of each group gone.
  for (const proc of [...workers, ingress]) await stopGracefully(proc);
  await cleanup();
  process.stdout.write(out.join('\n') + '\n');
}

main().catch(async (err) => {
  console.error(err);
  // What was measured before the failure is still worth having.
  if (report.length) process.stdout.write(`${report.join('\n')}\n\n(The run stopped here: ${(err as Error).message.split('\n')[0]})\n`);
  await cleanup?.();
  killAll();
  process.exit(1);
});
