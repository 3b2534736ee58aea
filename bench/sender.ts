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
import { post, runLoop, type LoopResult, type LoopSpec } from './load';

export interface SenderJob {
  url: string;
  secret: string;
  /** Events for this account (one we do not hold: each workflow records the event and ends). */
  accountId: string;
  /** The first client number of the job's events; each event gets the next, so every event is a new one. */
  firstSeq: number;
  loop: LoopSpec;
}

export type SenderResult = LoopResult;

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
  return runLoop(job.loop, send);
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
