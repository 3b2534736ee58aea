/**
 * Benchmark (not a test): `npm run bench:workers`. One worker process against two on the same
 * servers, in one run, as ratios (issue 15). Everything runs on this machine over loopback, with
 * bounded event counts and a deadline on every wait. Prints a Markdown report on stdout (progress
 * on stderr); figures go to docs/BENCHMARKS.md.
 *
 * The service runs as it is deployed: the ingress and the workers are processes of their own
 * (`npm run ingress`, `npm run worker`, configured by environment variables, the workers loading
 * a workflow bundle built once here with scripts/bundle-workflows.ts), against a Temporal dev
 * server and FerretDB started here on ports the OS picks; the Jobber sandbox and the Slack
 * stand-in run in this process. One sandbox account is connected through the real OAuth flow,
 * BENCH_WORKERS_EVENTS clients are created in it without webhooks, then BENCH_ROUNDS rounds each
 * time a phase with one worker process and a phase with two (the order flips each round; the
 * second process is started, or stopped with SIGTERM, between phases, and the backlog drained
 * before each phase). A phase changes every client once in the sandbox, which sends a signed
 * CLIENT_UPDATE webhook for each, and is timed until every change is in MongoDB: ingress →
 * jobberRecordWorkflow → fetch from Jobber → MongoDB.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { connectDatabase } from '../src/db/models';
import { freePort, startStack } from '../src/dev/stack';
import { followConnectFlow } from '../src/dev/connect-flow';
import { startJobberSandbox } from '../src/sandbox/jobber';
import { startSlackStandIn } from '../src/sandbox/slack';
import { f1, f2, median, progress, sleep } from './report';

const ROOT = path.resolve(__dirname, '..');

const num = (name: string, fallback: number) => {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isFinite(value) || value < 1) throw new Error(`${name} must be a number >= 1, got ${process.env[name]}`);
  return Math.floor(value);
};
const ROUNDS = num('BENCH_ROUNDS', 3);
const EVENTS = num('BENCH_WORKERS_EVENTS', 100);
/** More delivery attempts than the sandbox's default 4, as in bench/webhooks.ts: the run measures throughput, not the sender's patience. */
const WEBHOOK_ATTEMPTS = num('BENCH_WEBHOOK_ATTEMPTS', 10);

const TASK_QUEUE = 'bench-workers';
const READY_MS = 180_000;
const STOP_MS = 60_000;
const DRAIN_MS = 600_000;
const PHASE_MS = 600_000;

/** A command run as a user would, in its own process group; the tail of its output is kept for error messages. */
interface Proc {
  name: string;
  child: ChildProcess;
  tail: () => string;
  saw: (text: string) => boolean;
}

const procs = new Set<Proc>();

function startProc(name: string, command: string, args: string[], env: NodeJS.ProcessEnv, watch: string[] = []): Proc {
  const child = spawn(command, args, { cwd: ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let tail = '';
  const seen = new Set<string>();
  const onData = (chunk: Buffer) => {
    const text = tail.slice(-200) + chunk.toString();
    for (const w of watch) if (text.includes(w)) seen.add(w);
    tail = (tail + chunk.toString()).slice(-20_000);
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const proc: Proc = { name, child, tail: () => tail, saw: (text) => seen.has(text) };
  procs.add(proc);
  child.once('exit', () => procs.delete(proc));
  return proc;
}

/** Whether any process of the group is alive (npm and tsx start children of their own). */
function groupAlive(proc: Proc): boolean {
  try {
    process.kill(-proc.child.pid!, 0);
    return true;
  } catch {
    return false;
  }
}

function signalGroup(proc: Proc, signal: NodeJS.Signals) {
  try {
    process.kill(-proc.child.pid!, signal);
  } catch {
    // already gone
  }
}

/** Polls `check` until it returns true; throws `what` with `detail()` when the deadline passes. */
async function until(what: string, timeoutMs: number, check: () => Promise<boolean> | boolean, detail: () => string = () => '') {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not done within ${timeoutMs / 1000} s${detail() ? `\n${detail()}` : ''}`);
    await sleep(250);
  }
}

/** SIGTERM to the whole group, as a supervisor stops a deployment, then waits for every process of it to exit. */
async function stopGracefully(proc: Proc) {
  signalGroup(proc, 'SIGTERM');
  await until(
    `${proc.name} stopping after SIGTERM`,
    STOP_MS,
    () => !groupAlive(proc),
    () => proc.tail().slice(-2000),
  );
  procs.delete(proc);
}

/** Last resort, synchronous (also from process.on('exit')): every process group this bench started. */
function killAll() {
  for (const proc of procs) signalGroup(proc, 'SIGKILL');
  procs.clear();
}

// CPU time from /proc (Linux): clock ticks of the machine, of process groups and of single processes.
const TICKS = 100; // USER_HZ, 100 on Linux
const procStat = (pid: string) => {
  try {
    const raw = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = raw.slice(raw.lastIndexOf(')') + 2).split(' ');
    return { comm: raw.slice(raw.indexOf('(') + 1, raw.lastIndexOf(')')), ppid: Number(f[1]), pgrp: Number(f[2]), ticks: Number(f[11]) + Number(f[12]) };
  } catch {
    return undefined;
  }
};
const allStats = () =>
  readdirSync('/proc')
    .filter((d) => /^\d+$/.test(d))
    .map(procStat)
    .filter((s): s is NonNullable<typeof s> => !!s);
const machineTicks = () => {
  const [, ...fields] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/);
  const n = fields.map(Number);
  return { total: n.reduce((a, b) => a + b, 0), idle: n[3]! + (n[4] ?? 0) };
};

interface CpuSample {
  machine: { total: number; idle: number };
  byPart: Map<string, number>;
}

/** CPU seconds so far of each part: each worker process group, the ingress, Temporal, FerretDB, this process. */
function sampleCpu(workers: Proc[], ingress: Proc): CpuSample | undefined {
  try {
    const stats = allStats();
    const group = (proc: Proc) => stats.filter((s) => s.pgrp === proc.child.pid).reduce((sum, s) => sum + s.ticks, 0) / TICKS;
    const child = (comm: string) => stats.filter((s) => s.ppid === process.pid && s.comm === comm).reduce((sum, s) => sum + s.ticks, 0) / TICKS;
    const self = process.cpuUsage();
    const byPart = new Map<string, number>();
    workers.forEach((w) => byPart.set(w.name, group(w)));
    byPart.set('ingress', group(ingress));
    byPart.set('Temporal', child('temporal'));
    byPart.set('FerretDB', child('ferretdb'));
    byPart.set('bench (sandbox, Slack stand-in)', (self.user + self.system) / 1e6);
    return { machine: machineTicks(), byPart };
  } catch {
    return undefined; // not Linux: no CPU figures
  }
}

/** Cores each part kept busy between two samples, and the whole machine's (other users included). */
function cpuBetween(a: CpuSample | undefined, b: CpuSample | undefined, seconds: number): string {
  if (!a || !b) return 'CPU not measured (no /proc)';
  const machineTotal = b.machine.total - a.machine.total;
  const busy = machineTotal > 0 ? (1 - (b.machine.idle - a.machine.idle) / machineTotal) * os.cpus().length : NaN;
  const parts = [...b.byPart].map(([name, t]) => `${name} ${f2((t - (a.byPart.get(name) ?? 0)) / seconds)}`);
  const ours = [...b.byPart].reduce((sum, [name, t]) => sum + (t - (a.byPart.get(name) ?? 0)), 0) / seconds;
  return `cores busy: machine ${f2(busy)} of ${os.cpus().length} (${parts.join(', ')}; everything else ${f2(busy - ours)})`;
}

let cleanup: (() => Promise<void>) | undefined;
process.on('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    progress(`${signal}: stopping the processes and servers`);
    void (cleanup?.() ?? Promise.resolve()).finally(() => process.exit(130));
  });
}

async function main() {
  const out: string[] = [];
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
  const ingress = startProc('ingress', 'npm', ['run', 'ingress'], shared);
  const workers: Proc[] = [];
  const startWorker = async () => {
    const worker = startProc(`worker ${workers.length + 1}`, 'npm', ['run', 'worker'], { ...shared, METRICS_PORT: String(await freePort()) }, [
      'worker running',
    ]);
    workers.push(worker);
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

  /** Waits until no workflow but the account's own runs on the task queue (delayed starts count as running). */
  const drain = async () => {
    const query = `TaskQueue="${TASK_QUEUE}" AND ExecutionStatus="Running" AND WorkflowType!="accountWorkflow"`;
    let count = NaN;
    await until(
      'the backlog draining',
      DRAIN_MS,
      async () => (count = (await client.workflow.count(query)).count) === 0,
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
    while (workers.length > want) {
      const worker = workers.pop()!;
      progress(`stopping ${worker.name} (SIGTERM)`);
      await stopGracefully(worker);
    }
    while (workers.length < want) {
      progress(`starting worker ${workers.length + 1}`);
      await startWorker();
    }
    await drain();
    const marker = `${label}-${side}`;
    const fromRequest = jobber.sandbox.requests.at(-1)?.id ?? 0;
    const cpuBefore = sampleCpu(workers, ingress);
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
    const cpu = cpuBetween(cpuBefore, sampleCpu(workers, ingress), seconds);
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

  const cpu = os.cpus();
  say(
    `## Run of ${new Date().toISOString()} (${cpu.length} cores, ${cpu[0]?.model ?? '?'}, Node ${process.version}, load average ${startLoad.map(f2).join(' ')} at the start)`,
    '',
    `Settings: BENCH_ROUNDS=${ROUNDS} BENCH_WORKERS_EVENTS=${EVENTS} BENCH_WEBHOOK_ATTEMPTS=${WEBHOOK_ATTEMPTS}; ` +
      `ingress and workers as \`npm run ingress\` / \`npm run worker\` processes (prebuilt workflow bundle, LOG_LEVEL=info), one task queue.`,
    '',
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
    `Load average at the end: ${os.loadavg().map(f2).join(' ')}.`,
    '',
  );

  // Stop as a supervisor would: SIGTERM, every process of each group gone.
  for (const proc of [...workers, ingress]) await stopGracefully(proc);
  await cleanup();
  process.stdout.write(out.join('\n') + '\n');
}

main().catch(async (err) => {
  console.error(err);
  await cleanup?.();
  killAll();
  process.exit(1);
});
