/** The sandbox's time source: injectable `now` plus strictly increasing write timestamps. */
export class SandboxClock {
  private last = 0;

  /**
   * Record and webhook stamps in whole seconds, as Jobber gives them (the default): two changes
   * within one second share `updatedAt` and `occurredAt`. Off, they are strictly increasing
   * milliseconds, which is kinder than Jobber.
   */
  wholeSeconds = true;

  constructor(readonly now: () => Date) {}

  nowMs(): number {
    return this.now().getTime();
  }

  /**
   * A timestamp later than every one handed out before, even when several writes fall in one
   * millisecond, so `updatedAt` and webhook `occurredAt` values never tie.
   */
  tick(): Date {
    const t = Math.max(this.nowMs(), this.last + 1);
    this.last = t;
    return new Date(t);
  }

  /** A record's `updatedAt` or a webhook's `occurredAt`: see `wholeSeconds`. */
  stamp(): Date {
    if (!this.wholeSeconds) return this.tick();
    const t = Math.floor(Math.max(this.nowMs(), this.last) / 1000) * 1000;
    this.last = Math.max(this.last, t);
    return new Date(t);
  }
}

/** An error whose status and message the admin API may show to its caller. */
export class SandboxError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'SandboxError';
  }
}

export const notFound = (what: string, id: string): SandboxError => new SandboxError(404, `${what} ${id} not found`);
