import { createHash } from 'node:crypto';
import { isDuplicateKey, type Models } from '../db/models';

/** Jobber's webhook bodies are a few hundred bytes of ids; anything past this is not kept. */
export const MAX_KEPT_BODY_BYTES = 2048;

export const MALFORMED_WEBHOOK = 'MalformedWebhook';

export interface MalformedWebhook {
  rawBody: Buffer;
  contentType: string | undefined;
  reason: string;
}

/** Keeps a signed but malformed webhook as a dead letter; returns its id. */
export type KeepMalformedWebhook = (webhook: MalformedWebhook) => Promise<string>;

/**
 * One dead letter per distinct body (a resend of the same body finds it kept), written only here
 * and by the ops replay that resolves it.
 */
export function malformedWebhookKeeper(models: Models): KeepMalformedWebhook {
  return async ({ rawBody, contentType, reason }) => {
    const id = `jobber-webhook/malformed/${createHash('sha256').update(rawBody).digest('hex').slice(0, 32)}`;
    const truncated = rawBody.length > MAX_KEPT_BODY_BYTES;
    try {
      await models.DeadLetter.updateOne(
        { _id: id },
        {
          $setOnInsert: {
            webhook: {
              contentType: (contentType ?? '').slice(0, 200),
              body: rawBody.subarray(0, MAX_KEPT_BODY_BYTES).toString('utf8'),
              bytes: rawBody.length,
              truncated,
            },
            error: `malformed webhook: ${reason}`,
            errorType: MALFORMED_WEBHOOK,
            status: 'open',
            failedAt: new Date(),
          },
        },
        { upsert: true },
      );
    } catch (err) {
      // Two ingress processes got the same body at once: it is kept either way.
      if (!isDuplicateKey(err)) throw err;
    }
    return id;
  };
}
