import { createHmac, timingSafeEqual } from 'node:crypto';

export type SlackSignatureProblem = 'missing' | 'malformed' | 'stale' | 'mismatch';

/** Slack's replay window: a request signed longer ago (or further ahead) than this is refused. */
export const MAX_SKEW_SECONDS = 5 * 60;

const VERSION = 'v0';
const SIGNATURE = /^v0=[0-9a-f]{64}$/;
const TIMESTAMP = /^\d{1,12}$/;

/** `v0=` + hex HMAC-SHA256 of `v0:{timestamp}:{body}`, as Slack signs its requests. */
export function signSlackRequest(rawBody: string | Buffer, timestamp: number | string, signingSecret: string): string {
  const hmac = createHmac('sha256', signingSecret);
  hmac.update(`${VERSION}:${timestamp}:`);
  hmac.update(rawBody);
  return `${VERSION}=${hmac.digest('hex')}`;
}

/**
 * Checks `X-Slack-Signature` against the raw body and `X-Slack-Request-Timestamp`: the timestamp
 * first (replay), then the length, then the digests in constant time. Returns what is wrong, or
 * undefined when the request is Slack's.
 */
export function verifySlackSignature(input: {
  rawBody: Buffer;
  timestamp: string | undefined;
  signature: string | undefined;
  signingSecret: string;
  now: Date;
}): SlackSignatureProblem | undefined {
  const { timestamp, signature } = input;
  if (!timestamp || !signature) return 'missing';
  if (!TIMESTAMP.test(timestamp)) return 'malformed';
  if (Math.abs(Math.floor(input.now.getTime() / 1000) - Number(timestamp)) > MAX_SKEW_SECONDS) return 'stale';
  const given = Buffer.from(signature.trim(), 'utf8');
  const expected = Buffer.from(signSlackRequest(input.rawBody, timestamp, input.signingSecret), 'utf8');
  // timingSafeEqual throws on unequal lengths; the length of a signature is no secret.
  if (given.length !== expected.length || !SIGNATURE.test(signature.trim())) return 'malformed';
  return timingSafeEqual(given, expected) ? undefined : 'mismatch';
}
