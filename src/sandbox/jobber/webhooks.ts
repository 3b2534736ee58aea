import { createHmac } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Logger } from '../../logger';
import type { SandboxClock } from './clock';
import type { DeliveryOptions } from './inputs';

export type WebhookEncoding = 'json' | 'form';
export type TimestampField = 'occurredAt' | 'occuredAt';

/** The fields of Jobber's `webHookEvent`. */
export interface WebhookEvent {
  topic: string;
  appId: string;
  accountId: string;
  itemId: string;
  occurredAt: string;
}

export interface DeliveryAttempt {
  at: string;
  /** HTTP status of the answer; absent on a network error or timeout. */
  status?: number;
  latencyMs: number;
  error?: string;
  /** Set when another attempt follows: how long the sender waits before it. */
  retryInMs?: number;
}

export interface WebhookDelivery {
  id: string;
  event: WebhookEvent;
  encoding: WebhookEncoding;
  timestampField: TimestampField;
  contentType: string;
  /** The exact bytes sent (and signed). */
  body: string;
  /** Value of X-Jobber-Hmac-SHA256: base64 HMAC-SHA256 of `body` keyed by the client secret at creation. */
  signature: string;
  /** Set on the extra copies asked for with `duplicates`. */
  duplicateOf?: string;
  status: 'held' | 'scheduled' | 'sending' | 'retrying' | 'delivered' | 'failed' | 'skipped';
  createdAt: string;
  attempts: DeliveryAttempt[];
}

export interface WebhookSenderOptions {
  url?: string;
  appId: string;
  clientSecret: () => string;
  clock: SandboxClock;
  logger: Logger;
  encoding?: WebhookEncoding;
  timestampField?: TimestampField;
  /** Attempts per delivery including the first (default 4). Jobber's real schedule is undocumented. */
  maxAttempts?: number;
  /** Delay before retry n is backoffMs * 2^(n-1) (default 100 ms), or the answer's Retry-After if longer. */
  backoffMs?: number;
  /**
   * Each retry waits its delay times (1 + jitter * random()), so a burst that failed together does
   * not come back together (default 1: between one and two times the delay; 0 for exact delays).
   */
  jitter?: number;
  /** Honour a failed answer's Retry-After (seconds or an HTTP date) as the least delay (default true). */
  honorRetryAfter?: boolean;
  /** Longest Retry-After honoured (default 60 s). */
  maxRetryAfterMs?: number;
  /** For jitter; Math.random unless a test needs a fixed spread. */
  random?: () => number;
  /** An attempt with no answer after this long counts as failed (default 5000 ms; Jobber expects 1 s). */
  timeoutMs?: number;
}

/** The delivery log keeps at most this many finished deliveries (oldest dropped first). */
const MAX_KEPT_DELIVERIES = 10_000;
const FINISHED = new Set<WebhookDelivery['status']>(['delivered', 'failed', 'skipped']);

/** base64(HMAC-SHA256(secret, body)), the value of X-Jobber-Hmac-SHA256. */
export function signWebhook(secret: string, body: string): string {
  return createHmac('sha256', secret).update(body, 'utf8').digest('base64');
}

/**
 * The raw body Jobber would send. JSON: `{"data":{"webHookEvent":{...}}}` in Jobber's key order.
 * Form: Rails-style nested keys `data[webHookEvent][topic]=...` (brackets percent-encoded).
 */
export function encodeWebhookBody(event: WebhookEvent, encoding: WebhookEncoding, timestampField: TimestampField): string {
  const fields: [string, string][] = [
    ['topic', event.topic],
    ['appId', event.appId],
    ['accountId', event.accountId],
    ['itemId', event.itemId],
    [timestampField, event.occurredAt],
  ];
  if (encoding === 'json') return JSON.stringify({ data: { webHookEvent: Object.fromEntries(fields) } });
  return new URLSearchParams(fields.map(([k, v]): [string, string] => [`data[webHookEvent][${k}]`, v])).toString();
}

/**
 * Sends signed webhooks one event per POST, records every attempt, retries failures with
 * exponential backoff, and can hold deliveries for a test to release in any order.
 */
export class WebhookSender {
  private readonly deliveries = new Map<string, WebhookDelivery>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly aborts = new Set<AbortController>();
  private seq = 0;
  private url: string | undefined;
  private capturing: string[] | undefined;
  private closed = false;

  constructor(private readonly options: WebhookSenderOptions) {
    this.url = options.url;
  }

  get webhookUrl(): string | undefined {
    return this.url;
  }

  setUrl(url: string | undefined): void {
    this.url = url;
  }

  /** Ids of the deliveries created while `fn` runs (synchronously). */
  capture<T>(fn: () => T): { result: T; webhookIds: string[] } {
    const previous = this.capturing;
    const ids: string[] = [];
    this.capturing = ids;
    try {
      return { result: fn(), webhookIds: ids };
    } finally {
      this.capturing = previous;
      previous?.push(...ids);
    }
  }

  /** Creates the delivery (plus duplicates) for an event and sends it unless held. Returns the ids. */
  enqueue(event: Omit<WebhookEvent, 'appId'> & { appId?: string }, delivery: DeliveryOptions = {}): string[] {
    const full: WebhookEvent = { ...event, appId: event.appId ?? this.options.appId };
    const encoding = delivery.encoding ?? this.options.encoding ?? 'json';
    const timestampField = delivery.timestampField ?? this.options.timestampField ?? 'occurredAt';
    const body = encodeWebhookBody(full, encoding, timestampField);
    const signature = signWebhook(this.options.clientSecret(), body);
    const ids: string[] = [];
    for (let copy = 0; copy <= (delivery.duplicates ?? 0); copy++) {
      this.seq += 1;
      const record: WebhookDelivery = {
        id: `wh_${this.seq}`,
        event: full,
        encoding,
        timestampField,
        contentType: encoding === 'json' ? 'application/json' : 'application/x-www-form-urlencoded',
        body,
        signature,
        duplicateOf: copy > 0 ? ids[0] : undefined,
        status: delivery.hold ? 'held' : 'scheduled',
        createdAt: this.options.clock.now().toISOString(),
        attempts: [],
      };
      this.deliveries.set(record.id, record);
      ids.push(record.id);
      if (!delivery.hold) this.schedule(record, delivery.delayMs ?? 0);
    }
    this.capturing?.push(...ids);
    this.prune();
    return ids;
  }

  /** Sends held deliveries one after another, in the order given; resolves after each first attempt. */
  async release(ids: string[]): Promise<WebhookDelivery[]> {
    const records = ids.map((id) => {
      const record = this.deliveries.get(id);
      if (!record) throw new Error(`webhook ${id} not found`);
      if (record.status !== 'held') throw new Error(`webhook ${id} is not held (status ${record.status})`);
      return record;
    });
    for (const record of records) {
      record.status = 'sending';
      await this.track(this.attempt(record, 1, true));
    }
    return records;
  }

  list(filter: { status?: string; topic?: string } = {}): WebhookDelivery[] {
    return [...this.deliveries.values()].filter((d) => (!filter.status || d.status === filter.status) && (!filter.topic || d.event.topic === filter.topic));
  }

  get(id: string): WebhookDelivery | undefined {
    return this.deliveries.get(id);
  }

  /** Resolves when nothing is scheduled, in flight or waiting for a retry (held ones do not count). */
  async settled(): Promise<void> {
    while (this.inFlight.size || this.timers.size) {
      if (this.inFlight.size) await Promise.allSettled([...this.inFlight]);
      else await new Promise((r) => setTimeout(r, 5));
    }
  }

  /** Forgets the delivery log and drops anything scheduled. */
  clear(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.deliveries.clear();
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const controller of this.aborts) controller.abort();
    await Promise.allSettled([...this.inFlight]);
  }

  private prune(): void {
    if (this.deliveries.size <= MAX_KEPT_DELIVERIES) return;
    for (const [id, delivery] of this.deliveries) {
      if (this.deliveries.size <= MAX_KEPT_DELIVERIES) break;
      if (FINISHED.has(delivery.status)) this.deliveries.delete(id);
    }
  }

  private schedule(record: WebhookDelivery, delayMs: number, attemptNo = 1): void {
    if (this.closed) return;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      void this.track(this.attempt(record, attemptNo, false));
    }, delayMs);
    this.timers.add(timer);
  }

  private track(promise: Promise<void>): Promise<void> {
    this.inFlight.add(promise);
    return promise.finally(() => this.inFlight.delete(promise));
  }

  private async attempt(record: WebhookDelivery, attemptNo: number, released: boolean): Promise<void> {
    const url = this.url;
    if (!url) {
      record.status = 'skipped';
      return;
    }
    record.status = 'sending';
    const controller = new AbortController();
    this.aborts.add(controller);
    const timeout = setTimeout(() => controller.abort(new Error('timeout')), this.options.timeoutMs ?? 5000);
    const started = performance.now();
    const attempt: DeliveryAttempt = { at: this.options.clock.now().toISOString(), latencyMs: 0 };
    let retryAfterMs: number | undefined;
    try {
      const response = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': record.contentType,
          'x-jobber-hmac-sha256': record.signature,
          'user-agent': 'jobber-sandbox-webhooks/1.0',
        },
        body: record.body,
        signal: controller.signal,
      });
      attempt.status = response.status;
      await response.arrayBuffer().catch(() => undefined);
      if (!response.ok) {
        attempt.error = `HTTP ${response.status}`;
        retryAfterMs = parseRetryAfter(response.headers.get('retry-after'), Date.now());
      }
    } catch (err) {
      attempt.error = controller.signal.aborted ? 'timeout' : describe(err);
    } finally {
      clearTimeout(timeout);
      this.aborts.delete(controller);
      attempt.latencyMs = Math.round(performance.now() - started);
    }
    record.attempts.push(attempt);
    this.options.logger.debug(
      { webhookId: record.id, topic: record.event.topic, attempt: attemptNo, status: attempt.status, error: attempt.error, released },
      'webhook delivery attempt',
    );
    if (!attempt.error) {
      record.status = 'delivered';
      return;
    }
    const maxAttempts = this.options.maxAttempts ?? 4;
    if (attemptNo >= maxAttempts || this.closed) {
      record.status = 'failed';
      return;
    }
    record.status = 'retrying';
    attempt.retryInMs = this.retryDelay(attemptNo, retryAfterMs);
    this.schedule(record, attempt.retryInMs, attemptNo + 1);
  }

  /** Exponential backoff, or the receiver's Retry-After when longer, spread by the jitter. */
  private retryDelay(attemptNo: number, retryAfterMs: number | undefined): number {
    const { backoffMs = 100, jitter = 1, honorRetryAfter = true, maxRetryAfterMs = 60_000, random = Math.random } = this.options;
    let delay = backoffMs * 2 ** (attemptNo - 1);
    if (honorRetryAfter && retryAfterMs !== undefined) delay = Math.max(delay, Math.min(retryAfterMs, maxRetryAfterMs));
    return Math.round(delay * (1 + jitter * random()));
  }
}

/** Retry-After as delta-seconds or an HTTP date, in milliseconds from `nowMs`; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | null, nowMs: number): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - nowMs);
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const cause = (err as Error & { cause?: { code?: string; message?: string } }).cause;
    return cause?.code ?? cause?.message ?? err.message;
  }
  return String(err);
}
