/**
 * Jobber's side of the ingress phases of bench/webhooks.ts, in a process of its own. Making,
 * signing and POSTing the webhooks then costs this process, not the one whose ingress is timed
 * (Jobber's servers are not the ingress's). The plain side's calls stay in the bench process,
 * where the ingress makes them, so the two sides differ only by what the ingress does.
 *
 * The bench forks this file (`runSender`); the child takes one job, answers with its result
 * and exits.
 */
import { fork } from 'node:child_process';
import { signJobberBody } from '../src/ingress/jobber-webhook';
import { encodeGlobalId } from '../workflows/ids';
import { closedLoop, openLoop, post } from './load';

export interface SenderJob {
  url: string;
  secret: string;
  /** Events for this account (one we do not hold: each workflow records the event and ends). */
  accountId: string;
  /** The first client number of the job's events; each event gets the next, so every event is a new one. */
  firstSeq: number;
  loop: { kind: 'closed'; total: number; concurrency: number } | { kind: 'open'; rate: number; seconds: number };
}

export interface SenderResult {
  total: number;
  /** Calls per second offered (open loop) or accepted (closed loop). */
  rate: number;
  p50: number;
  p99: number;
  max: number;
  statuses: [string | number, number][];
  /** Open loop only: sends more than 20 ms behind the schedule (the sender's own lateness). */
  late?: number;
}

const CHILD = 'BENCH_SENDER_CHILD';

async function run(job: SenderJob): Promise<SenderResult> {
  let seq = job.firstSeq;
  const send = () => {
    const event = {
      topic: 'CLIENT_UPDATE',
      appId: 'bench',
      accountId: job.accountId,
      itemId: encodeGlobalId('Client', seq++),
      occurredAt: new Date().toISOString(),
    };
    const body = JSON.stringify({ data: { webHookEvent: event } });
    return post(job.url, { body, signature: signJobberBody(body, job.secret) });
  };
  if (job.loop.kind === 'closed') {
    const r = await closedLoop(job.loop.total, job.loop.concurrency, send);
    return { total: r.total, rate: r.rate, p50: r.p50, p99: r.p99, max: r.max, statuses: [...r.statuses] };
  }
  const r = await openLoop(job.loop.rate, job.loop.seconds, send);
  return { total: r.total, rate: r.offered, p50: r.p50, p99: r.p99, max: r.max, statuses: [...r.statuses], late: r.late };
}

/** Runs one job in a child process (this file, with the bench's own Node flags: tsx's loader). */
export function runSender(job: SenderJob): Promise<SenderResult> {
  return new Promise((resolve, reject) => {
    const child = fork(__filename, [], { env: { ...process.env, [CHILD]: '1' }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let result: SenderResult | undefined;
    child.once('message', (message: { result?: SenderResult; error?: string }) => {
      if (message.error) reject(new Error(`webhook sender: ${message.error}`));
      else result = message.result;
    });
    child.once('error', reject);
    child.once('exit', (code) => (result ? resolve(result) : reject(new Error(`webhook sender exited with code ${code} and no result`))));
    child.send(job);
  });
}

if (process.env[CHILD] && process.send) {
  process.once('message', (job: SenderJob) => {
    run(job).then(
      (result) => process.send!({ result }, () => process.exit(0)),
      (err: Error) => process.send!({ error: err.stack ?? err.message }, () => process.exit(1)),
    );
  });
}
