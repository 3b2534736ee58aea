import { createHmac, timingSafeEqual } from 'node:crypto';
import Router from '@koa/router';
import createError from 'http-errors';
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import type { Logger } from '../logger';
import { eventWorkflowId, type JobberEvent } from '../../workflows/definitions';
import { deliverEvent } from '../workflow-client/event-workflow';
import type { IngressMetrics } from './metrics';
import type { KeepMalformedWebhook } from './dead-letters';
import { readSignedBody } from './signed-body';

export interface JobberWebhookDeps {
  temporal: { client: Client; taskQueue: string };
  jobberClientSecret: string;
  metrics?: IngressMetrics;
  /** Most a webhook body may be; Jobber's are a few hundred bytes. */
  webhookBodyLimit?: string;
  /** Jobber wants an answer within a second: give Temporal this long, then answer 503. */
  temporalDeadlineMs?: number;
  /**
   * Keeps a signed webhook whose body is malformed as a dead letter, so it is acknowledged and
   * not lost; without it such a webhook is answered 400.
   */
  keepMalformedWebhook?: KeepMalformedWebhook;
}

export type SignatureProblem = 'missing' | 'malformed' | 'mismatch';

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
const SHA256_BYTES = 32;

/**
 * Checks `X-Jobber-Hmac-SHA256`: base64 HMAC-SHA256 of the raw body keyed by the app's client
 * secret. Length is checked first, then the digests compared in constant time.
 */
export function verifyJobberSignature(rawBody: Buffer, header: string | undefined, secret: string): SignatureProblem | undefined {
  if (!header) return 'missing';
  const value = header.trim();
  if (!BASE64.test(value)) return 'malformed';
  const given = Buffer.from(value, 'base64');
  if (given.length !== SHA256_BYTES) return 'malformed';
  const expected = createHmac('sha256', secret).update(rawBody).digest();
  return timingSafeEqual(given, expected) ? undefined : 'mismatch';
}

export function signJobberBody(rawBody: string | Buffer, secret: string): string {
  return createHmac('sha256', secret).update(rawBody).digest('base64');
}

export class WebhookPayloadError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'WebhookPayloadError';
  }
}

const FIELDS = ['topic', 'appId', 'accountId', 'itemId', 'occurredAt', 'occuredAt'] as const;
type Field = (typeof FIELDS)[number];

function fromJson(text: string): Partial<Record<Field, unknown>> {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new WebhookPayloadError('body is not valid JSON');
  }
  const event = (body as { data?: { webHookEvent?: unknown } } | null)?.data?.webHookEvent;
  if (!event || typeof event !== 'object') throw new WebhookPayloadError('body has no data.webHookEvent object');
  return event as Partial<Record<Field, unknown>>;
}

/** Older apps get the same fields form-encoded; nested (`data[webHookEvent][topic]`) or flat keys. */
function fromForm(text: string): Partial<Record<Field, unknown>> {
  const params = new URLSearchParams(text);
  const event: Partial<Record<Field, unknown>> = {};
  for (const field of FIELDS) {
    const value = params.get(`data[webHookEvent][${field}]`) ?? params.get(`webHookEvent[${field}]`) ?? params.get(field);
    if (value !== null) event[field] = value;
  }
  return event;
}

function text(event: Partial<Record<Field, unknown>>, field: Field, pattern: RegExp, max = 200): string {
  const value = event[field];
  if (typeof value !== 'string' || value.length === 0) throw new WebhookPayloadError(`${field} is missing`);
  if (value.length > max || !pattern.test(value)) throw new WebhookPayloadError(`${field} is not valid`);
  return value;
}

/** Reads the event from a signed body; a malformed one throws WebhookPayloadError with the reason. */
export function parseJobberWebhook(rawBody: Buffer, contentType: string | undefined): JobberEvent {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  const body = rawBody.toString('utf8');
  let event: Partial<Record<Field, unknown>>;
  if (type === 'application/json' || type.endsWith('+json')) event = fromJson(body);
  else if (type === 'application/x-www-form-urlencoded') event = fromForm(body);
  else throw new WebhookPayloadError(`unsupported content type ${type || '(none)'}: send application/json or application/x-www-form-urlencoded`);

  const topic = text(event, 'topic', /^[A-Z][A-Z0-9_]*$/, 64);
  const id = /^[A-Za-z0-9+/=_:.-]+$/;
  const accountId = text(event, 'accountId', id);
  const itemId = text(event, 'itemId', id);
  // Apps created before 2023-12-08 get Jobber's original spelling.
  const when = event.occurredAt !== undefined ? 'occurredAt' : 'occuredAt';
  const occurred = text(event, when, /^\d{4}-\d{2}-\d{2}T[\d:.]+(Z|[+-]\d{2}:?\d{2})$/, 64);
  const instant = new Date(occurred);
  if (Number.isNaN(instant.getTime())) throw new WebhookPayloadError(`${when} is not a valid timestamp`);
  const appId = typeof event.appId === 'string' && event.appId.length <= 100 ? event.appId : undefined;
  return { topic, accountId, itemId, occurredAt: instant.toISOString(), appId };
}

/**
 * `POST /webhooks/jobber`: checks the signature over the raw body, reads the event, and hands it to
 * its workflow within Jobber's one second (deliverEvent: a record's event to that record's
 * workflow, which takes each natural key once; any other to an event workflow under its natural
 * key). 202 accepted (200 for a resend of an event workflow's event), 503 with Retry-After when
 * Temporal does not answer in time, so Jobber retries.
 */
export function createJobberWebhookRouter(deps: JobberWebhookDeps): Router {
  const router = new Router();

  router.post('/webhooks/jobber', async (ctx) => {
    const started = process.hrtime.bigint();
    const log = ctx.state.log as Logger;
    const observe = (outcome: string) => deps.metrics?.observeWebhook(outcome, Number(process.hrtime.bigint() - started) / 1e9);

    const raw = await readSignedBody(ctx, {
      limit: deps.webhookBodyLimit ?? '64kb',
      verify: (body) => verifyJobberSignature(body, ctx.get('x-jobber-hmac-sha256') || undefined, deps.jobberClientSecret),
      tooLargeMessage: 'webhook body too large',
      onRefused: (refusal) => {
        if (refusal.reason === 'signature') {
          log.warn({ reason: refusal.problem, bytes: refusal.bytes, ip: ctx.ip }, 'webhook rejected: bad signature');
          observe(`signature_${refusal.problem}`);
        } else observe(refusal.reason);
      },
    });

    let event: JobberEvent;
    try {
      event = parseJobberWebhook(raw, ctx.get('content-type'));
    } catch (err) {
      if (!(err instanceof WebhookPayloadError)) throw err;
      if (!deps.keepMalformedWebhook) {
        log.warn({ reason: err.message }, 'webhook rejected: malformed payload');
        observe('malformed_rejected');
        throw createError(400, `malformed webhook: ${err.message}`);
      }
      // Signed, so Jobber sent it: answering errors is how an app gets its webhooks disabled.
      // Keep it for an operator to see and replay (npm run ops -- dead-letters list).
      let id: string;
      try {
        id = await deps.keepMalformedWebhook({ rawBody: raw, contentType: ctx.get('content-type') || undefined, reason: err.message });
      } catch (storeErr) {
        observe('malformed_unrecorded');
        log.error({ reason: err.message, err: (storeErr as Error).message }, 'malformed webhook not kept: store unavailable');
        ctx.set('Retry-After', '5');
        ctx.status = 503;
        ctx.body = { error: 'temporarily unavailable, retry later' };
        return;
      }
      observe('malformed');
      log.warn({ reason: err.message, deadLetter: id, bytes: raw.length }, 'malformed webhook kept as a dead letter');
      ctx.status = 202;
      ctx.body = { status: 'dead-lettered', reason: err.message, deadLetter: id };
      return;
    }

    const eventId = eventWorkflowId(event);
    const { client, taskQueue } = deps.temporal;
    let workflowId: string;
    try {
      ({ workflowId } = await client.connection.withDeadline(Date.now() + (deps.temporalDeadlineMs ?? 700), () =>
        deliverEvent(client, taskQueue, { event }, `${event.topic} ${event.itemId}`),
      ));
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) {
        // An event workflow (not a record's) under this natural key exists: a resend.
        observe('duplicate');
        log.info({ eventId, topic: event.topic }, 'webhook duplicate');
        ctx.status = 200;
        ctx.body = { status: 'duplicate', eventId, workflowId: eventId };
        return;
      }
      // Not accepted: Jobber must retry, so say so quickly and lose nothing.
      observe('temporal_unavailable');
      log.error({ eventId, err: (err as Error).message }, 'webhook not accepted: Temporal unavailable');
      ctx.set('Retry-After', '5');
      ctx.status = 503;
      ctx.body = { error: 'temporarily unavailable, retry later' };
      return;
    }
    observe('accepted');
    log.info({ eventId, workflowId, topic: event.topic }, 'webhook accepted');
    ctx.status = 202;
    ctx.body = { status: 'accepted', eventId, workflowId };
  });

  return router;
}
