import { z } from 'zod';

const faultSpec = z
  .object({
    /** Answer with this HTTP status instead of doing the work. */
    status: z.number().int().min(400).max(599).optional(),
    /** Wait this long first (then answer normally, or with `status`). */
    delayMs: z.number().int().min(0).max(120_000).optional(),
    /** GraphQL only: answer THROTTLED as if the cost bucket were empty. */
    throttle: z.boolean().optional(),
    /** Close the connection without an answer (a network error for the caller). */
    drop: z.boolean().optional(),
    /**
     * Token endpoint only: refuse as Jobber does. `invalid_client` (401) consumes nothing;
     * `invalid_grant` (401, "The provided refresh token is not valid") kills the presented
     * refresh token, so the answer is true.
     */
    error: z.enum(['invalid_client', 'invalid_grant']).optional(),
    /** Retry-After seconds sent with status 429 (default 10). */
    retryAfterSeconds: z.number().int().min(0).optional(),
    /** How many matching requests this fault applies to (default 1). */
    times: z.number().int().min(1).default(1),
    /** Only requests of this account (EncodedId). */
    accountId: z.string().optional(),
    /** GraphQL only: only operations with this name. */
    operationName: z.string().optional(),
  })
  .strict();

export const faultRequestSchema = z
  .object({ graphql: faultSpec.optional(), token: faultSpec.optional(), accountId: z.string().optional() })
  .strict()
  .refine((v) => v.graphql || v.token, { message: 'give "graphql" and/or "token"' })
  .refine((v) => !v.graphql?.error, { message: '"error" is for the token endpoint only' })
  .refine((v) => [v.graphql, v.token].every((f) => !f || [f.status, f.drop, f.error].filter((x) => x !== undefined).length <= 1), {
    message: 'give at most one of "status", "drop" and "error" per fault',
  });

export type FaultSpec = z.infer<typeof faultSpec>;
export type FaultTarget = 'graphql' | 'token';
export interface Fault extends FaultSpec {
  id: string;
  target: FaultTarget;
  remaining: number;
}

/** Injected failures, consumed in the order they were added. */
export class FaultList {
  private faults: Fault[] = [];
  private seq = 0;

  add(input: unknown): Fault[] {
    const parsed = faultRequestSchema.parse(input);
    const added: Fault[] = [];
    for (const target of ['graphql', 'token'] as const) {
      const spec = parsed[target];
      if (!spec) continue;
      this.seq += 1;
      const fault: Fault = { ...spec, accountId: spec.accountId ?? parsed.accountId, id: `fault_${this.seq}`, target, remaining: spec.times };
      this.faults.push(fault);
      added.push(fault);
    }
    return added;
  }

  /** The first fault matching the request, with one use consumed. */
  take(target: FaultTarget, request: { accountId?: string; operationName?: string | null }): Fault | undefined {
    const fault = this.faults.find(
      (f) =>
        f.target === target &&
        f.remaining > 0 &&
        (!f.accountId || f.accountId === request.accountId) &&
        (!f.operationName || f.operationName === request.operationName),
    );
    if (!fault) return undefined;
    fault.remaining -= 1;
    if (fault.remaining === 0) this.faults = this.faults.filter((f) => f !== fault);
    return fault;
  }

  list(): Fault[] {
    return [...this.faults];
  }

  clear(): void {
    this.faults = [];
  }
}
