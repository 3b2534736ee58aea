import { ActivityFailure, ApplicationFailure } from '@temporalio/workflow';

/** The failure type (FailureType) an activity raised, through Temporal's ActivityFailure wrapper. */
export function failureType(err: unknown): string | undefined {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  return cause instanceof ApplicationFailure ? (cause.type ?? undefined) : undefined;
}

/** The attempt at which the activity gave up, as activities/failures.ts puts it in the details. */
export function failureAttempts(err: unknown): number | undefined {
  const cause = err instanceof ActivityFailure ? err.cause : err;
  const details = cause instanceof ApplicationFailure ? (cause.details as { attempt?: number }[] | undefined) : undefined;
  return details?.[0]?.attempt;
}

/** What an event's dead letter and outcome say: the activity's own message, not Temporal's wrapper. */
export function failureMessage(err: unknown): string {
  return err instanceof ActivityFailure && err.cause ? err.cause.message : err instanceof Error ? err.message : String(err);
}
