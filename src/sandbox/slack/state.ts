import { createHash } from 'node:crypto';
import { z } from 'zod';

/** A message as the stand-in keeps it (and as conversations.history returns it). */
export interface SlackMessage {
  type: 'message';
  channel: string;
  ts: string;
  text: string;
  user: string;
  bot_id: string;
  app_id: string;
  team: string;
  blocks?: unknown[];
  metadata?: { event_type: string; event_payload: Record<string, unknown> };
  thread_ts?: string;
  edited?: { user: string; ts: string };
}

export interface EphemeralMessage {
  channel: string;
  user: string;
  message_ts: string;
  text: string;
  blocks?: unknown[];
}

/** One Web API call as received (the token is never kept). */
export interface SlackCall {
  at: string;
  method: string;
  args: Record<string, unknown>;
  status: number;
  ok: boolean;
  error?: string;
}

export const slackFaultSchema = z
  .object({
    /** Only calls of this method (e.g. chat.postMessage); default every method. */
    method: z.string().optional(),
    /** Answer HTTP 429 with Retry-After, as Slack does. */
    rateLimited: z
      .object({ retryAfterSeconds: z.number().int().min(0), times: z.number().int().min(1).optional() })
      .strict()
      .optional(),
    /** Answer HTTP 200 `{ ok: false, error }`. */
    error: z.string().min(1).optional(),
    /** Uses before the fault is gone (default 1; rateLimited.times wins when given). */
    times: z.number().int().min(1).optional(),
    /** Wait this long first (with `applied`: after the method ran, before answering). */
    delayMs: z.number().int().min(0).max(120_000).optional(),
    /** Answer this bare HTTP 5xx, as Slack's edge does when it fails. */
    status: z.number().int().min(500).max(599).optional(),
    /**
     * Run the method first, then fault only the answer (late, an error, a 5xx): Slack took the
     * call (a message is posted) but the caller cannot know.
     */
    applied: z.boolean().optional(),
  })
  .strict()
  .refine((f) => f.rateLimited || f.error || f.status || f.delayMs !== undefined, { message: 'give rateLimited, error, status and/or delayMs' });

export type SlackFaultInput = z.input<typeof slackFaultSchema>;
export type SlackFault = z.infer<typeof slackFaultSchema> & { id: string; remaining: number };

const CHANNEL_ID = /^[CGD][A-Z0-9]{2,}$/;

/** Messages, channels, calls and faults of the Slack stand-in. */
export class SlackState {
  messages: SlackMessage[] = [];
  ephemeral: EphemeralMessage[] = [];
  calls: SlackCall[] = [];
  faults: SlackFault[] = [];
  private readonly channelNames = new Map<string, string>();
  private lastMicros = 0;
  private faultSeq = 0;

  constructor(private readonly nowMs: () => number) {}

  /** A channel id for an id or a (#)name; names map to a stable made-up id. */
  channelId(channel: string): string {
    if (CHANNEL_ID.test(channel)) return channel;
    const name = channel.replace(/^#/, '');
    const id = `C${createHash('sha1').update(name).digest('hex').slice(0, 10).toUpperCase()}`;
    this.channelNames.set(id, name);
    return id;
  }

  /** Channels named so far, as [id, name]. */
  knownChannels(): [string, string][] {
    return [...this.channelNames.entries()];
  }

  channelName(id: string): string | undefined {
    return this.channelNames.get(id);
  }

  /** Slack-style `seconds.micros` timestamps, strictly increasing. */
  nextTs(): string {
    const micros = Math.max(this.nowMs() * 1000, this.lastMicros + 1);
    this.lastMicros = micros;
    return `${Math.floor(micros / 1e6)}.${String(micros % 1e6).padStart(6, '0')}`;
  }

  addFault(input: SlackFaultInput): SlackFault {
    const parsed = slackFaultSchema.parse(input);
    this.faultSeq += 1;
    const fault: SlackFault = { ...parsed, id: `fault_${this.faultSeq}`, remaining: parsed.rateLimited?.times ?? parsed.times ?? 1 };
    this.faults.push(fault);
    return fault;
  }

  takeFault(method: string): SlackFault | undefined {
    const fault = this.faults.find((f) => f.remaining > 0 && (!f.method || f.method === method));
    if (!fault) return undefined;
    fault.remaining -= 1;
    if (fault.remaining === 0) this.faults = this.faults.filter((f) => f !== fault);
    return fault;
  }

  clearMessages(): void {
    this.messages = [];
    this.ephemeral = [];
    this.calls = [];
  }

  reset(): void {
    this.clearMessages();
    this.faults = [];
  }
}

export const tsToMicros = (ts: string): number => {
  const [sec, frac = ''] = ts.split('.');
  return Number(sec) * 1e6 + Number(frac.padEnd(6, '0').slice(0, 6));
};
