import type { Context } from 'koa';
import getRawBody from 'raw-body';
import createError from 'http-errors';

/** Why a signed request was refused, for the caller's metrics and log line. */
export type BodyRefusal<Problem extends string> =
  { reason: 'too_large' | 'unreadable'; status: number } | { reason: 'signature'; problem: Problem; bytes: number };

export interface SignedBodyOptions<Problem extends string> {
  /** Most the body may be (`64kb`): a larger one is refused before it is read whole. */
  limit: string;
  /** What is wrong with this body's signature, or undefined when it is good (Jobber's, Slack's). */
  verify: (rawBody: Buffer) => Problem | undefined;
  /** The 413 answer's message. */
  tooLargeMessage: string;
  /** Told of a refusal before it is answered; never given the body: it is unauthenticated and may carry personal data. */
  onRefused?: (refusal: BodyRefusal<Problem>) => void;
}

/**
 * The raw body of a request whose signature holds, read before anything parses it (signatures
 * are over the exact bytes). Refuses with 413 past the limit, with the read's status (400 when it
 * has none) when the body cannot be read, and with 401 `invalid signature` when `verify` names a
 * problem.
 */
export async function readSignedBody<Problem extends string>(ctx: Context, options: SignedBodyOptions<Problem>): Promise<Buffer> {
  let raw: Buffer;
  try {
    raw = await getRawBody(ctx.req, { limit: options.limit, length: ctx.get('content-length') || undefined });
  } catch (err) {
    const status = (err as { status?: number }).status ?? 400;
    options.onRefused?.({ reason: status === 413 ? 'too_large' : 'unreadable', status });
    throw createError(status, status === 413 ? options.tooLargeMessage : 'could not read the body');
  }
  const problem = options.verify(raw);
  if (problem) {
    options.onRefused?.({ reason: 'signature', problem, bytes: raw.length });
    throw createError(401, 'invalid signature');
  }
  return raw;
}
