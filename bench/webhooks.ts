/**
 * Benchmark (not a test): `npm run bench`. Everything runs on this machine over loopback, with
 * bounded request counts and durations. Prints a Markdown report; figures go to docs/BENCHMARKS.md.
 * Only ratios measured in one run mean much on a shared machine, so every comparison alternates
 * its two sides over BENCH_ROUNDS rounds (the order flips each round) and reports the median ratio.
 *
 * 1. End to end: a burst of CLIENT_UPDATE webhooks for a connected account until every change is in
 *    MongoDB, through the service (ingress, the records' workflows) and through the bare floor (a
 *    minimal receiver, one workflow with one fetch-and-upsert activity: bench/bare).
 *    1b. Bursts: a few records changed again and again; Jobber fetches per event and per burst.
 * 2. Where one event's time goes: workflow tasks and activities from a few histories of each side.
 * 3. Starts: signed webhooks through the ingress against the ingress's own Temporal call
 *    (deliverEvent: signal-with-start of the record's workflow) with the same options, as fast as
 *    BENCH_START_CONCURRENCY callers get answers.
 * 4. Acknowledgement latency at BENCH_RATES (open loop) with the worker busy, both ways.
 * 5. Backfill against the cost bucket (BENCH_BACKFILL_RECORDS, off by default), with FerretDB's explain.
 * 6. Resident memory of this process (ingress and workers together) at idle and after the events.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import type { temporal } from '@temporalio/proto';
import { Client, Connection, WorkflowExecutionAlreadyStartedError, WorkflowIdReusePolicy } from '@temporalio/client';
import { NativeConnection, Worker } from '@temporalio/worker';
import { FERRETDB_SQLITE_PRAGMAS, startStack, TEMPORAL_SQLITE_PRAGMAS } from '../src/dev/stack';
import { startJobberSandbox } from '../src/sandbox/jobber';
import { startSlackStandIn } from '../src/sandbox/slack';
import { createApp } from '../src/ingress/app';
import { connectDatabase } from '../src/db/models';
import { TokenStore } from '../src/accounts/token-store';
import { TokenCipher } from '../src/crypto/tokens';
import { JobberOAuth } from '../src/accounts/oauth';
import { CostPacer, JobberGraphQL } from '../src/jobber/client';
import { createSlackClient } from '../src/services';
import { installRuntime } from '../src/worker/runtime';
import { createWorker } from '../src/worker/workers';
import { deliverEvent } from '../src/workflow-client/event-workflow';
import { createLogger } from '../src/logger';
import { encodeGlobalId } from '../workflows/ids';
import { settledAfter, type JobberEvent } from '../workflows/definitions';
import { createBareActivities } from './bare/activities';
import { closedLoop, countsText, isAccepted, notAccepted, percentile, runLoop, type Answer } from './load';
import { startSender, type SenderJob, type SenderResult } from './sender';
import { cpuPerEvent, sampleCpu } from './procs';
import { profiled, profileRows, sumGroups } from './profile';
import { f1, f2, median, progress, sleep } from './report';

const num = (name: string, fallback: number) => {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isFinite(value) || value < 0) throw new Error(`${name} must be a number >= 0, got ${process.env[name]}`);
  return value;
};
const ROUNDS = Math.max(1, num('BENCH_ROUNDS', 3));
const E2E_EVENTS = num('BENCH_E2E_EVENTS', 100);
const START_EVENTS = num('BENCH_START_EVENTS', 100);
const START_CONCURRENCY = Math.max(1, num('BENCH_START_CONCURRENCY', 20));
/** Empty (`BENCH_RATES=`) skips the acknowledgement phase. */
const RATES = (process.env.BENCH_RATES ?? '50').split(',').filter(Boolean).map(Number);
const SECONDS_PER_STEP = num('BENCH_SECONDS', 5);
/** Event workflows that keep the worker busy (fetch and store) while the acknowledgements are timed. */
const BUSY_EVENTS = num('BENCH_BUSY_EVENTS', 50);
/** Rounds of the acknowledgement phase per rate (each round times both sides). */
const ACK_ROUNDS = Math.max(1, num('BENCH_ACK_ROUNDS', 1));
const HISTORIES = num('BENCH_HISTORIES', 5);
const BACKFILL_RECORDS = num('BENCH_BACKFILL_RECORDS', 0);
const MEMORY_EVENTS = num('BENCH_MEMORY_EVENTS', 0);
/** Extra Worker options (JSON) for both the service's main worker and the bare one, to try e.g. `{"maxCachedWorkflows":100}`. */
const WORKER_OPTIONS = JSON.parse(process.env.BENCH_WORKER_OPTIONS || '{}') as Record<string, unknown>;
/** The Temporal dev server's SQLite pragmas, comma-separated (empty: SQLite's own defaults); unset: the stack's (TEMPORAL_SQLITE_PRAGMAS). */
const SQLITE_PRAGMAS = process.env.BENCH_TEMPORAL_SQLITE_PRAGMAS?.split(',').filter(Boolean);
/** FerretDB's SQLite pragmas, comma-separated as `name(value)` (empty: FerretDB's own); unset: the stack's (FERRETDB_SQLITE_PRAGMAS). */
const FERRET_PRAGMAS = process.env.BENCH_FERRETDB_SQLITE_PRAGMAS?.split(',').filter(Boolean);
/** A folder: profile the bench process's main thread over each end-to-end side, write the profiles there, and print where the time went by package. */
const CPU_PROFILE_DIR = process.env.BENCH_CPU_PROFILE || undefined;
const WEBHOOK_ATTEMPTS = Math.max(1, num('BENCH_WEBHOOK_ATTEMPTS', 10));
/** Bursts: this many records, each changed BENCH_BURST_CHANGES times 300 ms apart (0 records skips it). */
const BURST_RECORDS = num('BENCH_BURST_RECORDS', 5);
const BURST_CHANGES = num('BENCH_BURST_CHANGES', 10);
/** Jobber's documented bucket; the backfill phase is measured against it. */
const BUCKET = { maximumAvailable: 10_000, restoreRate: 500 };
const TEMPORAL_DEADLINE_MS = 700;

const BARE_QUEUE = 'bench-bare';
const BARE_COLLECTION = 'bare_clients';

/** What sampleCpu calls this process in the end-to-end figures. */
const BENCH_PROCESS = 'bench process (sandbox, ingress, workers)';
const cpuText = (cpu: Map<string, number>) => [...cpu].map(([part, ms]) => `${part} ${f1(ms)} ms`).join(', ');
/** Per round, the sum over the processes. */
const totals = (byPart: Map<string, number[]>) => {
  const rounds = Math.max(0, ...[...byPart.values()].map((v) => v.length));
  return Array.from({ length: rounds }, (_, i) => [...byPart.values()].reduce((sum, v) => sum + (v[i] ?? 0), 0));
};
const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;

/** Runs `fn` and reports how late this process's event loop ran meanwhile (the ingress and the workers share it). */
async function withLoopDelay<T>(fn: () => Promise<T>): Promise<T & { loop: string }> {
  const h = monitorEventLoopDelay({ resolution: 10 });
  h.enable();
  try {
    const result = await fn();
    return { ...result, loop: `event loop delay p50 ${f1(h.percentile(50) / 1e6)} ms, p99 ${f1(h.percentile(99) / 1e6)} ms, max ${f1(h.max / 1e6)} ms` };
  } finally {
    h.disable();
  }
}

const tsMs = (t: { seconds?: unknown; nanos?: number | null } | null | undefined) => (t ? Number(String(t.seconds ?? 0)) * 1000 + (t.nanos ?? 0) / 1e6 : NaN);

/** What one event workflow's history says: workflow tasks, activities and their timings. */
function historyFigures(history: temporal.api.history.v1.IHistory) {
  const events = history.events ?? [];
  const at = new Map<string, number>();
  const byId = (id: unknown) => at.get(String(id));
  const activities: { type: string; queued: number; ran: number }[] = [];
  const scheduledType = new Map<string, string>();
  let workflowTasks = 0;
  /** Activity attempts after the first, by the failure that caused them. */
  const retries: string[] = [];
  const wftQueued: number[] = [];
  const wftRan: number[] = [];
  let startDelay = 0;
  let started = NaN;
  let closed = NaN;
  for (const e of events) {
    const time = tsMs(e.eventTime);
    at.set(String(e.eventId), time);
    if (e.workflowExecutionStartedEventAttributes) {
      startDelay = tsMs(e.workflowExecutionStartedEventAttributes.firstWorkflowTaskBackoff as never) || 0;
      started = time + startDelay;
    }
    if (e.workflowTaskStartedEventAttributes) wftQueued.push(time - byId(e.workflowTaskStartedEventAttributes.scheduledEventId)!);
    if (e.workflowTaskCompletedEventAttributes) {
      workflowTasks++;
      wftRan.push(time - byId(e.workflowTaskCompletedEventAttributes.startedEventId)!);
    }
    const retry = e.activityTaskStartedEventAttributes;
    if (retry && (retry.attempt ?? 1) > 1) retries.push(retry.lastFailure?.message ?? '?');
    if (e.activityTaskScheduledEventAttributes) scheduledType.set(String(e.eventId), e.activityTaskScheduledEventAttributes.activityType?.name ?? '?');
    if (e.activityTaskCompletedEventAttributes) {
      const { scheduledEventId, startedEventId } = e.activityTaskCompletedEventAttributes;
      const scheduled = byId(scheduledEventId)!;
      const start = byId(startedEventId)!;
      activities.push({ type: scheduledType.get(String(scheduledEventId)) ?? '?', queued: start - scheduled, ran: time - start });
    }
    if (e.workflowExecutionCompletedEventAttributes || e.workflowExecutionFailedEventAttributes) closed = time;
  }
  // The first workflow task is scheduled when the start delay is over.
  const firstTaskQueued = wftQueued[0] ?? NaN;
  return { workflowTasks, wftQueued, wftRan, activities, retries, startDelay, running: closed - started, firstTaskQueued, events: events.length };
}

/** Stops the Temporal and FerretDB processes; set once they run, so a failed run does not leave them behind. */
let stopServers: (() => Promise<void>) | undefined;

async function main() {
  const out: string[] = [];
  const say = (...lines: string[]) => {
    out.push(...lines);
    for (const line of lines) if (line) progress(line);
  };
  const logger = createLogger({ name: 'bench', level: 'error' });
  installRuntime(logger);
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'jobber-bench-'));
  // Every server here listens on a port the OS picks (port 0 or freePort): never the fixed ports of the local run.
  const stack = await startStack({ dataDir, log: () => undefined, temporalSqlitePragmas: SQLITE_PRAGMAS, ferretSqlitePragmas: FERRET_PRAGMAS });
  stopServers = stack.stop;
  // More delivery attempts than the sandbox's default 4: on a loaded machine a burst meets 503s
  // (the ingress's 700 ms deadline) and the run measures throughput, not the sender's patience.
  const jobber = await startJobberSandbox({ requestLimit: { max: 1_000_000 }, costBucket: BUCKET, webhooks: { maxAttempts: WEBHOOK_ATTEMPTS } });
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
    oauth: new JobberOAuth({
      apiUrl: jobber.url,
      clientId: jobber.sandbox.clientId,
      clientSecret: jobber.sandbox.clientSecret,
      redirectUri: 'http://127.0.0.1/cb',
    }),
    slack: createSlackClient({ slack: { botToken: slack.standIn.botToken, signingSecret: 's', apiUrl: slack.url, alertChannel: 'C0' } }),
    alertChannel: 'C0BENCH',
    temporal: client,
  };
  const workerConnection = await NativeConnection.connect({ address: stack.temporalAddress });
  const worker = await createWorker({ connection: workerConnection, namespace: 'default', taskQueue, deps, options: WORKER_OPTIONS });

  // The floor: the account's access token stays in this process, only ids cross Temporal.
  const accessTokens = new Map<string, string>();
  const bareWorker = await Worker.create({
    connection: workerConnection,
    namespace: 'default',
    taskQueue: BARE_QUEUE,
    workflowsPath: require.resolve('./bare/workflows'),
    activities: createBareActivities({
      graphqlUrl: `${jobber.url}/graphql`,
      version: '2025-04-16',
      accessToken: (id) => accessTokens.get(id) ?? '',
      db: mongo.db!,
      collection: BARE_COLLECTION,
    }),
    shutdownGraceTime: '20 seconds',
    ...WORKER_OPTIONS,
  });
  const running = Promise.all([worker.run(), bareWorker.run()]);

  const app = createApp({ temporal: { client, taskQueue }, jobberClientSecret: jobber.sandbox.clientSecret, logger: pino({ level: 'silent' }) });
  const server = createServer(app.callback());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const ingressUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks/jobber`;

  // The bare receiver: signature check, parse, start with the same start delay as the ingress, answer.
  const secret = jobber.sandbox.clientSecret;
  const bareReceive = async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks);
    const given = Buffer.from(String(req.headers['x-jobber-hmac-sha256'] ?? ''), 'base64');
    const expected = createHmac('sha256', secret).update(raw).digest();
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return res.writeHead(401).end();
    const event = (JSON.parse(raw.toString('utf8')) as { data: { webHookEvent: JobberEvent } }).data.webHookEvent;
    const delay = settledAfter(new Date(event.occurredAt)).getTime() - Date.now();
    try {
      await client.connection.withDeadline(Date.now() + TEMPORAL_DEADLINE_MS, () =>
        client.workflow.start('bareEventWorkflow', {
          taskQueue: BARE_QUEUE,
          workflowId: `bare/${event.accountId}/${event.itemId}/${event.occurredAt}`,
          args: [{ accountId: event.accountId, itemId: event.itemId }],
          // As the service: a retried webhook whose workflow already completed is not fetched again.
          workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
          ...(delay > 0 ? { startDelay: delay } : {}),
        }),
      );
      res.writeHead(202).end();
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) return res.writeHead(200).end();
      res.writeHead(503, { 'retry-after': '5' }).end();
    }
  };
  const bareServer = createServer((req, res) => void bareReceive(req, res).catch(() => res.writeHead(400).end()));
  await new Promise<void>((r) => bareServer.listen(0, '127.0.0.1', r));
  const bareUrl = `http://127.0.0.1:${(bareServer.address() as AddressInfo).port}/`;

  const memory: { when: string; events: number; rss: number; heap: number }[] = [];
  let eventsSoFar = 0;
  const sampleMemory = (when: string) => {
    const { rss, heapUsed } = process.memoryUsage();
    memory.push({ when, events: eventsSoFar, rss, heap: heapUsed });
  };
  await sleep(2000);
  sampleMemory('idle, workers and ingress started');

  /** Waits until no workflow runs (delayed starts count as running), so phases do not share a backlog. */
  const drain = async () => {
    const t0 = performance.now();
    for (;;) {
      const { count } = await client.workflow.count('ExecutionStatus="Running"');
      if (count === 0) return (performance.now() - t0) / 1000;
      if (performance.now() - t0 > 600_000) throw new Error(`backlog did not drain in 600 s: ${count} workflows running`);
      await sleep(250);
    }
  };
  const lastRequestId = () => jobber.sandbox.requests.at(-1)?.id ?? 0;

  // A connected account with E2E_EVENTS clients, changed at once in Jobber in each phase.
  const account = jobber.sandbox.store.createAccount({ name: 'Bench Co' });
  const issued = await jobber.sandbox.connect(account.id);
  await tokens.connect({ id: account.id, name: 'Bench Co' }, { accessToken: issued.access_token, refreshToken: issued.refresh_token });
  accessTokens.set(account.id, issued.access_token);
  const clients = Array.from({ length: Math.max(E2E_EVENTS + BURST_RECORDS, BUSY_EVENTS) }, (_, i) =>
    jobber.sandbox.store.createClient(account.id, { firstName: `C${i}` }, { webhook: false }),
  );
  const bareRecords = mongo.db!.collection(BARE_COLLECTION);

  type Side = 'service' | 'bare';
  const endToEnd = async (side: Side, round: number) => {
    jobber.sandbox.setWebhookUrl(side === 'service' ? ingressUrl : bareUrl);
    const marker = `R${round}-${side}`;
    const fromRequest = lastRequestId();
    const startedAt = new Date();
    const cpuBefore = sampleCpu([], BENCH_PROCESS);
    const t0 = performance.now();
    const { webhookIds } = jobber.sandbox.webhooks.capture(() =>
      clients.slice(0, E2E_EVENTS).forEach((c) => jobber.sandbox.store.updateClient(c.id, { lastName: marker })),
    );
    const deliveries = () => webhookIds.map((id) => jobber.sandbox.webhooks.get(id)!);
    const deliveryReport = () => {
      const answers: Record<string, number> = {};
      for (const d of deliveries()) for (const a of d.attempts) answers[a.status ?? a.error ?? '?'] = (answers[a.status ?? a.error ?? '?'] ?? 0) + 1;
      return Object.entries(answers)
        .map(([k, v]) => `${v} ${k}`)
        .join(', ');
    };
    const stored = () =>
      side === 'service' ? models.Client.countDocuments({ accountId: account.id, lastName: marker }) : bareRecords.countDocuments({ lastName: marker });
    let lastProgress = t0;
    for (;;) {
      const done = await stored();
      if (done >= E2E_EVENTS) break;
      // A delivery the sandbox gave up on never reaches Temporal: the count above cannot reach N.
      const failed = deliveries().filter((d) => d.status === 'failed').length;
      if (failed > 0 && !deliveries().some((d) => d.status === 'scheduled' || d.status === 'sending' || d.status === 'retrying')) {
        throw new Error(
          `${side} end to end cannot finish: ${done}/${E2E_EVENTS} in MongoDB and the sandbox gave up on ${failed} webhooks (attempts answered ${deliveryReport()})`,
        );
      }
      if (performance.now() - t0 > 600_000) throw new Error(`${side} end to end stalled at ${done}/${E2E_EVENTS} (attempts answered ${deliveryReport()})`);
      if (performance.now() - lastProgress > 10_000) {
        lastProgress = performance.now();
        progress(`${side} end to end: ${((lastProgress - t0) / 1000).toFixed(0)} s, ${done}/${E2E_EVENTS} in MongoDB`);
      }
      await sleep(200);
    }
    const seconds = (performance.now() - t0) / 1000;
    const requests = jobber.sandbox.requests.filter((r) => r.id > fromRequest && r.accountId === account.id);
    eventsSoFar += E2E_EVENTS;
    return {
      seconds,
      rate: E2E_EVENTS / seconds,
      requests: requests.length,
      throttled: requests.filter((r) => r.outcome === 'throttled').length,
      answers: deliveryReport(),
      startedAt,
      cpuBefore,
    };
  };

  // 1. End to end, service against the bare floor.
  say(
    `## Run of ${new Date().toISOString()} (${os.cpus().length} cores, ${os.cpus()[0]?.model ?? '?'}, Node ${process.version}, load average ${os.loadavg().map(f2).join(' ')})`,
    '',
    `Settings: BENCH_ROUNDS=${ROUNDS} BENCH_E2E_EVENTS=${E2E_EVENTS} BENCH_START_EVENTS=${START_EVENTS} BENCH_START_CONCURRENCY=${START_CONCURRENCY} ` +
      `BENCH_RATES=${RATES.join(',')} BENCH_SECONDS=${SECONDS_PER_STEP} BENCH_ACK_ROUNDS=${ACK_ROUNDS} BENCH_BUSY_EVENTS=${BUSY_EVENTS} BENCH_HISTORIES=${HISTORIES} ` +
      `BENCH_BACKFILL_RECORDS=${BACKFILL_RECORDS} BENCH_MEMORY_EVENTS=${MEMORY_EVENTS} BENCH_WEBHOOK_ATTEMPTS=${WEBHOOK_ATTEMPTS}` +
      ` BENCH_TEMPORAL_SQLITE_PRAGMAS=${(SQLITE_PRAGMAS ?? TEMPORAL_SQLITE_PRAGMAS).join(',') || '(SQLite defaults)'}` +
      ` BENCH_FERRETDB_SQLITE_PRAGMAS=${(FERRET_PRAGMAS ?? FERRETDB_SQLITE_PRAGMAS).join(',') || "(FerretDB's defaults)"}${Object.keys(WORKER_OPTIONS).length ? ` BENCH_WORKER_OPTIONS='${JSON.stringify(WORKER_OPTIONS)}'` : ''}.`,
    '',
  );
  const e2eRows: string[] = [];
  /** Each side's CPU milliseconds per event, by process, one figure per round. */
  const cpuByPart: Record<Side, Map<string, number[]>> = { service: new Map(), bare: new Map() };
  const e2eRatios: number[] = [];
  /** The bench process's self time by package, one map per round (BENCH_CPU_PROFILE). */
  const profiles: Record<Side, Map<string, number>[]> = { service: [], bare: [] };
  let lastServicePhase: Date | undefined;
  let lastBarePhase: Date | undefined;
  for (let round = 1; round <= ROUNDS && E2E_EVENTS > 0; round++) {
    const order: Side[] = round % 2 ? ['service', 'bare'] : ['bare', 'service'];
    const result: Partial<Record<Side, Awaited<ReturnType<typeof endToEnd>> & { loop: string; cpu: Map<string, number> }>> = {};
    for (const side of order) {
      await drain();
      const { result: measured, groups } = await profiled(CPU_PROFILE_DIR, `end-to-end-${side}-round${round}`, async () => {
        const inWindow = await withLoopDelay(() => endToEnd(side, round));
        // The CPU the events cost, until their last workflow ended (after the event-loop window).
        await drain();
        return inWindow;
      });
      if (groups) profiles[side].push(groups);
      result[side] = { ...measured, cpu: cpuPerEvent(measured.cpuBefore, sampleCpu([], BENCH_PROCESS), E2E_EVENTS) };
      if (side === 'service') lastServicePhase = result[side].startedAt;
      else lastBarePhase = result[side].startedAt;
      progress(`round ${round} ${side}: ${f1(result[side].rate)} events/s`);
    }
    const s = result.service!;
    const b = result.bare!;
    e2eRatios.push(s.rate / b.rate);
    e2eRows.push(
      `| ${round} (${order.join(' first, ')} second) | ${f1(s.rate)} (${f1(s.seconds)} s, ${f2(s.requests / E2E_EVENTS)} req/event, ${s.throttled} THROTTLED) | ` +
        `${f1(b.rate)} (${f1(b.seconds)} s, ${f2(b.requests / E2E_EVENTS)} req/event, ${b.throttled} THROTTLED) | ${f2(s.rate / b.rate)} |`,
    );
    e2eRows.push(`|  | webhook attempts answered ${s.answers}; ${s.loop} | ${b.answers}; ${b.loop} |  |`);
    if (s.cpu.size && b.cpu.size) e2eRows.push(`|  | CPU per event: ${cpuText(s.cpu)} | ${cpuText(b.cpu)} |  |`);
    for (const [side, r] of [
      ['service', s],
      ['bare', b],
    ] as const)
      for (const [part, ms] of r.cpu) cpuByPart[side].set(part, [...(cpuByPart[side].get(part) ?? []), ms]);
  }
  await drain();
  sampleMemory('after the end-to-end rounds');
  if (E2E_EVENTS > 0) {
    say(
      `### End to end: ${E2E_EVENTS} CLIENT_UPDATE webhooks at once for one connected account, until all are in MongoDB (events/s)`,
      '',
      '| round | service (ingress → jobberRecordWorkflow) | bare (receiver → one fetch-and-upsert activity) | service / bare |',
      '| --- | --- | --- | --- |',
      ...e2eRows,
      '',
      `**Median service / bare: ${f2(median(e2eRatios))}** over ${e2eRatios.length} rounds.`,
      '',
      ...(cpuByPart.service.size
        ? [
            `CPU per event, medians over the rounds, from the burst until its last workflow ended (${BENCH_PROCESS} holds both sides' Jobber sandbox):`,
            '',
            '| process | service | bare | service − bare |',
            '| --- | --- | --- | --- |',
            ...[...cpuByPart.service.keys(), 'all'].map((part) => {
              const of = (side: Side) => (part === 'all' ? median(totals(cpuByPart[side])) : median(cpuByPart[side].get(part) ?? []));
              return `| ${part} | ${f1(of('service'))} ms | ${f1(of('bare'))} ms | ${f1(of('service') - of('bare'))} ms |`;
            }),
            '',
          ]
        : []),
      ...(profiles.service.length
        ? [
            `The bench process's main thread by package, self time per event over all rounds (CPU profiles in ${CPU_PROFILE_DIR}; idle left out, the largest differences first):`,
            '',
            '| package or folder | service | bare | service − bare |',
            '| --- | --- | --- | --- |',
            ...profileRows(sumGroups(profiles.service), sumGroups(profiles.bare), E2E_EVENTS * profiles.service.length, 20),
            '',
          ]
        : []),
    );
  }

  // 1b. Bursts: each record changed again and again within a few seconds. Jobber requests per
  // event (a natural key: a change in a second of its own) and per burst, service against bare.
  const burstRows: string[] = [];
  for (const side of ['service', 'bare'] as Side[]) {
    if (BURST_RECORDS === 0) break;
    await drain();
    jobber.sandbox.setWebhookUrl(side === 'service' ? ingressUrl : bareUrl);
    const targets = clients.slice(E2E_EVENTS, E2E_EVENTS + BURST_RECORDS);
    const ids = new Set(targets.map((c) => c.id));
    const fromRequest = lastRequestId();
    const keys = new Set<string>();
    const marker = `burst-${side}`;
    for (let change = 1; change <= BURST_CHANGES; change++) {
      const { webhookIds } = jobber.sandbox.webhooks.capture(() =>
        targets.forEach((c) => jobber.sandbox.store.updateClient(c.id, { lastName: change === BURST_CHANGES ? marker : `${marker}-${change}` })),
      );
      for (const id of webhookIds) {
        const { event } = jobber.sandbox.webhooks.get(id)!;
        keys.add(`${event.itemId}/${new Date(event.occurredAt).toISOString()}`);
      }
      await sleep(300);
    }
    const stored = () =>
      side === 'service'
        ? models.Client.countDocuments({ _id: { $in: [...ids] }, lastName: marker })
        : bareRecords.countDocuments({ _id: { $in: [...ids] as never[] }, lastName: marker });
    const t0 = performance.now();
    while ((await stored()) < targets.length) {
      if (performance.now() - t0 > 300_000) throw new Error(`${side} bursts stalled`);
      await sleep(200);
    }
    await drain();
    const fetches = jobber.sandbox.requests.filter((r) => r.id > fromRequest && r.operationName === 'Client' && ids.has(String(r.variables?.id))).length;
    eventsSoFar += keys.size;
    burstRows.push(
      `| ${side} | ${targets.length} × ${BURST_CHANGES} | ${keys.size} | ${fetches} | ${f2(fetches / keys.size)} | ${f2(fetches / targets.length)} |`,
    );
    progress(`bursts ${side}: ${fetches} fetches for ${keys.size} events`);
  }
  if (burstRows.length) {
    say(
      `### Bursts: ${BURST_RECORDS} records, each changed ${BURST_CHANGES} times 300 ms apart (Jobber stamps whole seconds: a change in a second of its own is an event)`,
      '',
      '| side | records × changes | events (natural keys) | Jobber fetches | fetches / event | fetches / burst |',
      '| --- | --- | --- | --- | --- | --- |',
      ...burstRows,
      '',
    );
  }

  // 2. Where one event's time goes, from a few histories of the last round of each side.
  const sample = async (type: string, since: Date | undefined) => {
    if (!since || HISTORIES === 0) return [];
    const ids: string[] = [];
    for await (const w of client.workflow.list({ query: `WorkflowType="${type}" AND StartTime >= "${since.toISOString()}"` })) ids.push(w.workflowId);
    const step = Math.max(1, Math.floor(ids.length / HISTORIES));
    const picked = ids.filter((_, i) => i % step === 0).slice(0, HISTORIES);
    return Promise.all(picked.map(async (id) => historyFigures(await client.workflow.getHandle(id).fetchHistory())));
  };
  const perEvent = async (label: string, type: string, since: Date | undefined) => {
    const figures = await sample(type, since);
    if (!figures.length) return [];
    const types = [...new Set(figures.flatMap((f) => f.activities.map((a) => a.type)))];
    const activityLines = types.map((t) => {
      const all = figures.flatMap((f) => f.activities.filter((a) => a.type === t));
      return `${t} ×${f2(all.length / figures.length)} (queued ${f1(median(all.map((a) => a.queued)))} ms, ran ${f1(median(all.map((a) => a.ran)))} ms)`;
    });
    const retries = figures.flatMap((f) => f.retries);
    return [
      `| ${label} | ${f1(median(figures.map((f) => f.workflowTasks)))} (queued ${f1(median(figures.flatMap((f) => f.wftQueued)))} ms, ran ${f1(median(figures.flatMap((f) => f.wftRan)))} ms; first queued ${f1(median(figures.map((f) => f.firstTaskQueued)))} ms) | ` +
        `${activityLines.join('; ')}${retries.length ? `; ${retries.length} retried attempts (${[...new Set(retries)].map((m) => m.slice(0, 80)).join(' / ')})` : ''} | ${f1(median(figures.map((f) => f.startDelay)))} ms | ${f1(median(figures.map((f) => f.running)))} ms | ${f1(median(figures.map((f) => f.events)))} |`,
    ];
  };
  const historyRows = [
    ...(await perEvent('service', 'jobberRecordWorkflow', lastServicePhase)),
    ...(await perEvent('bare', 'bareEventWorkflow', lastBarePhase)),
  ];
  if (historyRows.length) {
    say(
      `### Per event, medians over ${HISTORIES} histories of each side's last round (spread over the burst)`,
      '',
      'Queued = scheduled → started (waiting for a worker slot or poller), ran = started → completed; running = from the end of the start delay to completion.',
      '',
      '| side | workflow tasks | activities | start delay | running | history events |',
      '| --- | --- | --- | --- | --- | --- |',
      ...historyRows,
      '',
    );
  }

  // Unknown-account events for the start and acknowledgement phases: each workflow checks the
  // account in syncRecord and records the event (two small activities).
  const stranger = encodeGlobalId('Account', 999_999);
  let seq = 0;
  const strangerEvent = (): JobberEvent => ({
    topic: 'CLIENT_UPDATE',
    accountId: stranger,
    itemId: encodeGlobalId('Client', ++seq),
    occurredAt: new Date().toISOString(),
  });
  // The ingress's own call with its deadline, without the HTTP, the signature and the parse in front of it.
  const plainStart = async (): Promise<Answer> => {
    const event = strangerEvent();
    const t0 = performance.now();
    try {
      await client.connection.withDeadline(Date.now() + TEMPORAL_DEADLINE_MS, () =>
        deliverEvent(client, taskQueue, { event }, `${event.topic} ${event.itemId}`),
      );
      return { status: 202, ms: performance.now() - t0 };
    } catch (err) {
      return { status: `error ${(err as Error).message.slice(0, 60)}`, ms: performance.now() - t0 };
    }
  };
  type Via = 'ingress' | 'plain';
  const sender = startSender();
  /**
   * One loop of calls. The ingress side's webhooks come from a process of their own (bench/sender.ts),
   * as Jobber's do; the plain side's calls are made here, where the ingress makes them.
   */
  const calls = async (via: Via, loop: SenderJob['loop']): Promise<SenderResult> => {
    const count = loop.kind === 'closed' ? loop.total : Math.max(1, Math.round(loop.rate * loop.seconds));
    eventsSoFar += count;
    if (via === 'ingress') {
      const firstSeq = seq + 1;
      seq += count;
      return sender.run({ url: ingressUrl, secret, accountId: stranger, firstSeq, loop });
    }
    return runLoop(loop, plainStart);
  };
  const refused = (r: SenderResult) => notAccepted(new Map(r.statuses));

  // The sender's process starts cold (its loader, its HTTP client): a few webhooks first, not timed.
  if (START_EVENTS > 0 || RATES.length > 0 || MEMORY_EVENTS > 0) await calls('ingress', { kind: 'closed', total: 20, concurrency: 5 });

  // 3. Starts per second, ingress against plain client.workflow.start, the worker draining each batch.
  const startRows: string[] = [];
  const startRatios: number[] = [];
  for (let round = 1; round <= ROUNDS && START_EVENTS > 0; round++) {
    const order: Via[] = round % 2 ? ['ingress', 'plain'] : ['plain', 'ingress'];
    const result: Partial<Record<Via, SenderResult & { loop: string }>> = {};
    for (const via of order) {
      await drain();
      result[via] = await withLoopDelay(() => calls(via, { kind: 'closed', total: START_EVENTS, concurrency: START_CONCURRENCY }));
      progress(`starts round ${round} ${via}: ${f1(result[via].rate)}/s`);
    }
    const fmt = (r: SenderResult & { loop: string }) =>
      `${f1(r.rate)}/s accepted (p50 ${f1(r.p50)} ms, p99 ${f1(r.p99)} ms${refused(r) ? `, ${refused(r)} not accepted within ${TEMPORAL_DEADLINE_MS} ms` : ''}; ${r.loop})`;
    startRatios.push(result.ingress!.rate / result.plain!.rate);
    startRows.push(
      `| ${round} (${order.join(' first, ')} second) | ${fmt(result.ingress!)} | ${fmt(result.plain!)} | ${f2(result.ingress!.rate / result.plain!.rate)} |`,
    );
  }
  await drain();
  if (startRows.length) {
    say(
      `### Starts: ${START_EVENTS} events by ${START_CONCURRENCY} concurrent callers, backlog drained before each side`,
      '',
      "| round | signed webhook → ingress → start | plain start (the ingress's call: same options, same deadline) | ingress / plain |",
      '| --- | --- | --- | --- |',
      ...startRows,
      '',
      `**Median ingress / plain: ${f2(median(startRatios))}** over ${startRatios.length} rounds.`,
      '',
    );
  }

  // 4. Acknowledgement latency at a rate, with the worker busy fetching and storing records.
  const busy = async () => {
    // Changed in Jobber without a webhook, started directly: the ingress sees only the timed calls.
    const changedAt = new Date(Date.now() - 3000).toISOString();
    const busyClients = clients.slice(0, BUSY_EVENTS);
    busyClients.forEach((c) => jobber.sandbox.store.updateClient(c.id, { companyName: `busy ${changedAt}` }, { webhook: false }));
    await closedLoop(busyClients.length, 20, async () => {
      const c = busyClients[seq++ % busyClients.length]!;
      const event: JobberEvent = {
        topic: 'CLIENT_UPDATE',
        accountId: account.id,
        itemId: c.id,
        occurredAt: new Date(Date.parse(changedAt) - (seq % 1000)).toISOString(),
      };
      const t0 = performance.now();
      const status = await deliverEvent(client, taskQueue, { event }, 'busy').then(
        () => 202,
        (err: Error) => `error ${err.message.slice(0, 60)}`,
      );
      return { status, ms: performance.now() - t0 };
    });
    eventsSoFar += busyClients.length;
  };
  const ackRows: string[] = [];
  for (const rate of RATES) {
    for (let round = 1; round <= ACK_ROUNDS; round++) {
      const order: Via[] = round % 2 ? ['ingress', 'plain'] : ['plain', 'ingress'];
      const result: Partial<Record<Via, SenderResult & { backlog: number; loop: string }>> = {};
      for (const via of order) {
        await drain();
        await busy();
        const r = await withLoopDelay(() => calls(via, { kind: 'open', rate, seconds: SECONDS_PER_STEP }));
        const { count: backlog } = await client.workflow.count('ExecutionStatus="Running"');
        result[via] = { ...r, backlog };
        progress(`ack ${rate}/s round ${round} ${via}: p50 ${f1(r.p50)} ms, p99 ${f1(r.p99)} ms`);
      }
      const fmt = (r: NonNullable<(typeof result)['ingress']>) =>
        `${f1(r.rate)}/s${r.late ? ` (${r.late} sent over 20 ms late)` : ''}, p50 ${f1(r.p50)} ms, p99 ${f1(r.p99)} ms, max ${f1(r.max)} ms` +
        `${refused(r) ? `, not accepted: ${countsText(new Map(r.statuses.filter(([status]) => !isAccepted(status))))}` : ''}; ${r.backlog} running after; ${r.loop}`;
      ackRows.push(`| ${rate}/s, round ${round} | ${fmt(result.ingress!)} | ${fmt(result.plain!)} |`);
    }
  }
  await drain();
  if (ackRows.length) {
    say(
      `### Acknowledgement, open loop, ${SECONDS_PER_STEP} s per step, the worker busy with ${BUSY_EVENTS} fetch-and-store events started just before`,
      '',
      '| offered rate | signed webhook → ingress → start | plain start |',
      '| --- | --- | --- |',
      ...ackRows,
      '',
    );
  }

  // 5. Backfill against what the cost bucket allows.
  if (BACKFILL_RECORDS > 0) {
    const perKind = Math.max(1, Math.round(BACKFILL_RECORDS / 3));
    const big = jobber.sandbox.store.createAccount({ name: 'Backfill Co' });
    jobber.sandbox.store.seed(big.id, { clients: perKind, jobsPerClient: 1, invoicesPerJob: 1 });
    const grant = await jobber.sandbox.connect(big.id);
    await tokens.connect({ id: big.id, name: 'Backfill Co' }, { accessToken: grant.access_token, refreshToken: grant.refresh_token });
    await drain();
    const fromRequest = lastRequestId();
    const t0 = performance.now();
    const handle = await client.workflow.start('backfillWorkflow', { taskQueue, workflowId: `bench-backfill/${big.id}`, args: [{ accountId: big.id }] });
    const { records, pages } = (await handle.result()) as { records: number; pages: number };
    const seconds = (performance.now() - t0) / 1000;
    const requests = jobber.sandbox.requests.filter((r) => r.id > fromRequest && r.accountId === big.id);
    const actual = requests.reduce((sum, r) => sum + (r.actualQueryCost ?? 0), 0);
    const requested = requests.reduce((sum, r) => sum + (r.requestedQueryCost ?? 0), 0);
    const throttled = requests.filter((r) => r.outcome === 'throttled').length;
    const perRecord = actual / records;
    const bucketRate = BUCKET.restoreRate / perRecord;
    // With the bucket full at the start, the least time the whole backfill needs.
    const floorSeconds = Math.max(0, actual - BUCKET.maximumAvailable) / BUCKET.restoreRate;
    const history = historyFigures(await handle.fetchHistory());
    const pageActivities = history.activities.filter((a) => a.type === 'syncPage');
    // Which index each backfill query uses, as FerretDB explains the same filters as finds.
    const db = mongo.db!;
    const someIds = (await models.Client.find({ accountId: big.id }, { _id: 1 }).limit(50).lean()).map((d) => String(d._id));
    const conditional = {
      _id: someIds[0],
      deletedAt: null,
      $or: [{ updatedAt: null }, { updatedAt: { $lt: new Date() } }, { updatedAt: new Date(), settled: { $ne: true }, fetchedAt: null }],
    };
    const explain = async (label: string, command: Record<string, unknown>) => {
      try {
        const result = (await db.command({ explain: command, verbosity: 'queryPlanner' })) as Record<string, unknown>;
        const keep = Object.fromEntries(Object.entries(result).filter(([k]) => /pushdown|queryPlanner|winningPlan/i.test(k)));
        return `- ${label}: \`${JSON.stringify(keep).slice(0, 600)}\``;
      } catch (err) {
        return `- ${label}: explain refused (${(err as Error).message.slice(0, 200)})`;
      }
    };
    const explains = [
      await explain('for comparison, `find({_id})`', { find: 'clients', filter: { _id: someIds[0] } }),
      await explain('held-state read `find({_id: {$in: page ids}})`', { find: 'clients', filter: { _id: { $in: someIds } } }),
      await explain('conditional upsert filter (`_id`, `deletedAt`, `$or` ordering guard) as a find', { find: 'clients', filter: conditional }),
      // FerretDB's explain of an update command ignores `updates[].q` and explains a read of the
      // whole collection; its update reads with the same query as a find with that filter does.
      await explain('sync run `updateOne({_id: run})` filter as a find', { find: 'sync_runs', filter: { _id: 'x' } }),
    ];
    say(
      `### Backfill: ${records} records (${perKind} clients, jobs, invoices) on a ${BUCKET.maximumAvailable}-point bucket restoring ${BUCKET.restoreRate}/s`,
      '',
      `- ${f1(seconds)} s, **${f1(records / seconds)} records/s**, ${pages} pages, ${requests.length} requests (${throttled} THROTTLED), ` +
        `actual cost ${actual} points (requested ${requested}), ${f2(perRecord)} points per record.`,
      `- The bucket allows ${f1(bucketRate)} records/s at its restore rate (**ratio ${f2(records / seconds / bucketRate)}**); ` +
        (floorSeconds > 0
          ? `starting full it allows the whole backfill in ${f1(floorSeconds)} s (ratio ${f2(floorSeconds / seconds)}).`
          : 'the full bucket alone covers the whole backfill.'),
      `- syncPage per page: median queued ${f1(median(pageActivities.map((a) => a.queued)))} ms, ran ${f1(median(pageActivities.map((a) => a.ran)))} ms ` +
        `(p90 ${f1(
          percentile(
            pageActivities.map((a) => a.ran),
            90,
          ),
        )} ms), sum ${f1(pageActivities.reduce((s, a) => s + a.ran, 0) / 1000)} s of ${f1(seconds)} s ` +
        `(this run of the workflow; it continues as new after 200 pages).`,
      ...explains,
      '',
    );
  }

  // 6. Memory with N more events through the ingress.
  if (MEMORY_EVENTS > 0) {
    const t0 = performance.now();
    const r = await calls('ingress', { kind: 'closed', total: MEMORY_EVENTS, concurrency: START_CONCURRENCY });
    await drain();
    progress(`memory: ${MEMORY_EVENTS} events in ${f1((performance.now() - t0) / 1000)} s (${refused(r)} not accepted)`);
    sampleMemory(`after ${MEMORY_EVENTS} more webhooks (unknown account) and their workflows`);
  }
  sampleMemory('end of the run');
  say(
    '### Resident memory of this process (ingress, service worker and bare worker in one Node process)',
    '',
    '| when | events so far | rss | heap used |',
    '| --- | --- | --- | --- |',
    ...memory.map((m) => `| ${m.when} | ${m.events} | ${mib(m.rss)} | ${mib(m.heap)} |`),
    '',
  );

  say(`Load average at the end: ${os.loadavg().map(f2).join(' ')}.`, '');
  process.stdout.write(out.join('\n') + '\n');

  sender.close();
  server.close();
  bareServer.close();
  worker.shutdown();
  bareWorker.shutdown();
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
