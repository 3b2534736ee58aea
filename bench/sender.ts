/**
 * Jobber's side of the ingress phases of bench/webhooks.ts, in a process of its own. Making,
 * signing and POSTing the webhooks then costs this process, not the one whose ingress is timed
 * (Jobber's servers are not the ingress's). The plain side's calls stay in the bench process,
 * where the ingress makes them, so the two sides differ only by what the ingress does.
 *
 * The bench forks this file once (`startSender`) and hands it one job at a time.
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

export interface Sender {
  /** Runs one job in the sender's process (one at a time). */
  run(job: SenderJob): Promise<SenderResult>;
  close(): void;
}

/**
 * Starts the sender's process (this file, with the bench's own Node flags: tsx's loader). It stays
 * up for the whole run, so every job finds it warm, as Jobber's senders are.
 */
export function startSender(): Sender {
  const child = fork(__filename, [], { env: { ...process.env, [CHILD]: '1' }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let waiting: { resolve: (r: SenderResult) => void; reject: (e: Error) => void } | undefined;
  child.on('message', (message: { result?: SenderResult; error?: string }) => {
    const w = waiting;
    waiting = undefined;
    if (message.result) w?.resolve(message.result);
    else w?.reject(new Error(`webhook sender: ${message.error}`));
  });
  child.once('exit', (code) => waiting?.reject(new Error(`webhook sender exited with code ${code} during a job`)));
  return {
    run(job) {
      if (waiting) return Promise.reject(new Error('webhook sender: one job at a time'));
      return new Promise((resolve, reject) => {
        waiting = { resolve, reject };
        child.send(job);
      });
    },
    close() {
      child.disconnect();
    },
  };
}

if (process.env[CHILD] && process.send) {
  process.on('message', (job: SenderJob) => {
    run(job).then(
      (result) => process.send!({ result }),
      (err: Error) => process.send!({ error: err.stack ?? err.message }),
    );
  });
  // The bench closes the channel when it is done: nothing else keeps this process.
  process.once('disconnect', () => process.exit(0));
}
