import { createHmac, timingSafeEqual } from 'node:crypto';
import type { JobberEvent } from '../../workflows/definitions';

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
