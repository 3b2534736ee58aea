/**
 * Playing Jobber against the ingress process: signed webhooks POSTed from the bench process, in
 * an open loop (a request every 1/rate seconds whatever the earlier ones are doing) or as a set of
 * events that must all be accepted (a bounded number of callers, each 503 sent again after the
 * answer's Retry-After, as Jobber would). And reading a Prometheus text page. Used by bench/workers.ts.
 */
import { sleep } from './report';

export const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
};

/** A signed webhook as Jobber sends it: the exact body and its X-Jobber-Hmac-SHA256. */
export interface SignedWebhook {
  body: string;
  signature: string;
}

/** Jobber waits a second for the answer; the sandbox gives up after 5. */
const ATTEMPT_TIMEOUT_MS = 5000;

/** One POST; the status (or the network error) and how long the answer took from the sender's side. */
export async function post(url: string, webhook: SignedWebhook): Promise<Answer & { retryAfterMs?: number }> {
  const t0 = performance.now();
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-jobber-hmac-sha256': webhook.signature },
      body: webhook.body,
      signal: AbortSignal.timeout(ATTEMPT_TIMEOUT_MS),
    });
    await res.arrayBuffer();
    const retryAfter = Number(res.headers.get('retry-after'));
    return { status: res.status, ms: performance.now() - t0, ...(retryAfter > 0 ? { retryAfterMs: retryAfter * 1000 } : {}) };
  } catch (err) {
    const name = (err as Error).name;
    return { status: name === 'TimeoutError' ? 'timeout' : `error ${(err as Error).message.slice(0, 60)}`, ms: performance.now() - t0 };
  }
}

export const countsText = (counts: Map<string | number, number>) =>
  [...counts]
    .sort(([a], [b]) => String(a).localeCompare(String(b)))
    .map(([k, v]) => `${v} × ${k}`)
    .join(', ');

const bump = (counts: Map<string | number, number>, key: string | number) => counts.set(key, (counts.get(key) ?? 0) + 1);

/** One call's answer as the caller saw it: a status (or what went wrong) and how long it took. */
export interface Answer {
  status: number | string;
  ms: number;
}

/** Open loop: one call every 1/rate seconds for `seconds`, whatever the earlier ones are doing. Latency = the caller's wait for the answer. */
export async function openLoop(rate: number, seconds: number, call: () => Promise<Answer>) {
  const total = Math.max(1, Math.round(rate * seconds));
  const latencies: number[] = [];
  const statuses = new Map<string | number, number>();
  let late = 0;
  const started = performance.now();
  const pending: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const wait = started + (i * 1000) / rate - performance.now();
    if (wait > 0) await sleep(wait);
    // The bench's own event loop could not keep the schedule: say so (it would flatter the figures).
    else if (wait < -20) late++;
    pending.push(
      call().then((r) => {
        latencies.push(r.ms);
        bump(statuses, r.status);
      }),
    );
  }
  const sent = (performance.now() - started) / 1000;
  await Promise.all(pending);
  return {
    total,
    offered: total / sent,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    max: Math.max(...latencies),
    within250: latencies.filter((ms) => ms <= 250).length,
    statuses,
    late,
  };
}

/** Whether an answer is an acceptance (2xx). */
export const isAccepted = (status: number | string) => typeof status === 'number' && status >= 200 && status < 300;

/** How many of these answers were not acceptances. */
export const notAccepted = (statuses: Map<string | number, number>) => [...statuses].reduce((sum, [status, n]) => sum + (isAccepted(status) ? 0 : n), 0);

/**
 * Closed loop: `concurrency` callers, each making its next call when the last one is answered,
 * `total` calls in all. Only accepted calls count in the rate: a quick refusal is not throughput.
 */
export async function closedLoop(total: number, concurrency: number, call: () => Promise<Answer>) {
  const latencies: number[] = [];
  const statuses = new Map<string | number, number>();
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: Math.max(1, Math.min(concurrency, total)) }, async () => {
      while (next < total) {
        next++;
        const r = await call();
        latencies.push(r.ms);
        bump(statuses, r.status);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  return {
    total,
    seconds,
    rate: (total - notAccepted(statuses)) / seconds,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    max: Math.max(...latencies),
    statuses,
  };
}

/** A loop of calls: closed (`concurrency` callers, `total` calls) or open (`rate` per second for `seconds`). */
export type LoopSpec = { kind: 'closed'; total: number; concurrency: number } | { kind: 'open'; rate: number; seconds: number };

/** What either loop reports, in a form that crosses a process boundary (statuses as entries). */
export interface LoopResult {
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

/** Runs `call` in the loop `spec` names. */
export async function runLoop(spec: LoopSpec, call: () => Promise<Answer>): Promise<LoopResult> {
  if (spec.kind === 'closed') {
    const r = await closedLoop(spec.total, spec.concurrency, call);
    return { total: r.total, rate: r.rate, p50: r.p50, p99: r.p99, max: r.max, statuses: [...r.statuses] };
  }
  const r = await openLoop(spec.rate, spec.seconds, call);
  return { total: r.total, rate: r.offered, p50: r.p50, p99: r.p99, max: r.max, statuses: [...r.statuses], late: r.late };
}

export interface DeliverAllOptions {
  url: string;
  total: number;
  concurrency: number;
  /** The i-th event's webhook (made when a caller first sends it). */
  make: (i: number) => Promise<SignedWebhook> | SignedWebhook;
  /** Called after each event's first 2xx with the number accepted so far. */
  onAccepted?: (accepted: number) => void;
  /** Throws past it. */
  deadlineMs: number;
  /** An event not accepted after this many attempts stops the run. */
  maxAttempts: number;
  /** Wait before sending again after an answer without Retry-After (a timeout, a refused connection). */
  resendMs?: number;
}

/**
 * Every event until the ingress accepts it (2xx). At most `concurrency` requests are in flight. An
 * event answered otherwise is sent again after the answer's Retry-After (5 s from the ingress) times
 * one to two (the sandbox's jitter, so a refused burst does not come back together), as Jobber's
 * retries would; meanwhile the caller goes on with other events, as a sender's queue does.
 */
export async function deliverAll(options: DeliverAllOptions) {
  const { url, total, concurrency } = options;
  const deadline = Date.now() + options.deadlineMs;
  const statuses = new Map<string | number, number>();
  const latencies: number[] = [];
  const retries: { webhook: SignedWebhook; due: number; attempts: number }[] = [];
  let next = 0;
  let accepted = 0;
  let resends = 0;
  let mostAttempts = 1;
  const caller = async () => {
    for (;;) {
      if (Date.now() > deadline) throw new Error(`${accepted}/${total} accepted within ${options.deadlineMs / 1000} s (answers ${countsText(statuses)})`);
      const due = retries.findIndex((r) => r.due <= Date.now());
      let job: { webhook: SignedWebhook; attempts: number };
      if (due >= 0) {
        job = retries.splice(due, 1)[0]!;
        resends++;
      } else if (next < total) {
        const i = next++;
        job = { webhook: await options.make(i), attempts: 0 };
      } else if (retries.length > 0) {
        await sleep(Math.min(250, Math.max(5, Math.min(...retries.map((r) => r.due)) - Date.now())));
        continue;
      } else return;
      job.attempts++;
      mostAttempts = Math.max(mostAttempts, job.attempts);
      const answer = await post(url, job.webhook);
      bump(statuses, answer.status);
      latencies.push(answer.ms);
      if (isAccepted(answer.status)) {
        accepted++;
        options.onAccepted?.(accepted);
        continue;
      }
      if (job.attempts >= options.maxAttempts)
        throw new Error(`an event was not accepted in ${job.attempts} attempts (answers so far ${countsText(statuses)})`);
      const wait = (answer.retryAfterMs ?? options.resendMs ?? 1000) * (1 + Math.random());
      retries.push({ ...job, due: Date.now() + wait });
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, total)) }, caller));
  return {
    seconds: (performance.now() - t0) / 1000,
    accepted,
    resends,
    mostAttempts,
    statuses,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
  };
}

/** Sum of a metric's samples on a Prometheus text page whose labels include every given one. */
export function promValue(page: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  let found = false;
  for (const line of page.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = m[2] ?? '';
    if (!Object.entries(labels).every(([k, v]) => have.includes(`${k}="${v}"`))) continue;
    sum += Number(m[3]);
    found = true;
  }
  return found ? sum : NaN;
}

/** A Prometheus page, or '' when it cannot be read within 5 s (a figure then shows as –). */
export async function scrape(url: string): Promise<string> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
    return res.ok ? await res.text() : '';
  } catch {
    return '';
  }
}
