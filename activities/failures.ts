/**
 * Failure classification: what a Jobber, Slack or token-endpoint error means for Temporal's
 * retries, as an ApplicationFailure whose `type` is one of FailureType (the workflows branch on it).
 */
import { ApplicationFailure, Context } from '@temporalio/activity';
import { ErrorCode, type WebAPIPlatformError, type WebAPIRateLimitedError } from '@slack/web-api';
import { JobberApiError } from '../src/jobber/client';
import type { OAuthError } from '../src/accounts/oauth';
import { AccountNotConnectedError } from '../src/accounts/token-store';
import { AlertInFlightError } from '../src/slack/alerts';
import { FailureType } from '../workflows/definitions';

function attempt(): number {
  try {
    return Context.current().info.attempt;
  } catch {
    return 1;
  }
}

/** Turns a classified Jobber error into the ApplicationFailure that tells Temporal how to retry. */
export function jobberFailure(err: unknown): unknown {
  const details = [{ attempt: attempt() }];
  if (err instanceof AccountNotConnectedError) {
    return ApplicationFailure.create({ type: FailureType.disconnected, message: err.message, nonRetryable: true, details });
  }
  if (!(err instanceof JobberApiError)) return err;
  const { message } = err;
  switch (err.kind) {
    case 'throttled':
      return ApplicationFailure.create({ type: FailureType.throttled, message, nextRetryDelay: err.details.retryAfterMs, details });
    case 'rate_limited':
      return ApplicationFailure.create({ type: FailureType.rateLimited, message, nextRetryDelay: err.details.retryAfterMs ?? 30_000, details });
    case 'network':
    case 'server':
      return ApplicationFailure.create({ type: FailureType.unavailable, message, details });
    case 'unauthorized':
      return ApplicationFailure.create({ type: FailureType.unauthorized, message, nonRetryable: true, details });
    case 'disconnected':
      return ApplicationFailure.create({ type: FailureType.disconnected, message, nonRetryable: true, details });
    case 'invalid_query':
      return ApplicationFailure.create({ type: FailureType.invalidQuery, message, nonRetryable: true, details });
    case 'too_expensive':
      return ApplicationFailure.create({ type: FailureType.tooExpensive, message, nonRetryable: true, details });
    case 'graphql':
      return ApplicationFailure.create({ type: FailureType.graphql, message, nonRetryable: true, details });
  }
}

const PERMANENT_SLACK_ERRORS = new Set([
  'channel_not_found',
  'not_in_channel',
  'is_archived',
  'invalid_auth',
  'not_authed',
  'account_inactive',
  'token_revoked',
  'missing_scope',
  'invalid_blocks',
  'msg_too_long',
  'no_text',
  'invalid_metadata_format',
]);

/** Turns a Slack error into the ApplicationFailure that tells Temporal how to retry. */
export function slackFailure(err: unknown): unknown {
  const details = [{ attempt: attempt() }];
  if (err instanceof AlertInFlightError) {
    return ApplicationFailure.create({ type: FailureType.alertInFlight, message: err.message, nextRetryDelay: err.retryAfterMs, details });
  }
  const code = (err as { code?: string }).code;
  if (code === ErrorCode.RateLimitedError) {
    const retryAfter = (err as WebAPIRateLimitedError).retryAfter;
    return ApplicationFailure.create({
      type: FailureType.slackRateLimited,
      message: 'Slack rate limited the post',
      nextRetryDelay: retryAfter * 1000,
      details,
    });
  }
  if (code === ErrorCode.PlatformError) {
    const slackError = (err as WebAPIPlatformError).data.error;
    return ApplicationFailure.create({
      type: FailureType.slack,
      message: `Slack refused the post: ${slackError}`,
      nonRetryable: PERMANENT_SLACK_ERRORS.has(slackError),
      details,
    });
  }
  return err;
}

/**
 * A refused or failed token refresh, retried: invalid_client (the app's own credentials) and
 * anything not permanent (429, 408, 5xx, no answer; Retry-After honoured). Undefined when Jobber
 * refused the refresh token for good: the account breaks, which is no failure of the activity.
 */
export function tokenEndpointFailure(err: OAuthError): ApplicationFailure | undefined {
  if (err.kind === 'invalid_client') return ApplicationFailure.create({ type: FailureType.appCredentialsRejected, message: err.message });
  if (!err.permanent) return ApplicationFailure.create({ type: FailureType.tokenEndpointUnavailable, message: err.message, nextRetryDelay: err.retryAfterMs });
  return undefined;
}

/** The account workflow did not refresh the token for us (Temporal busy or unreachable, the workflow between runs): retried. */
export function refreshUnavailableFailure(err: unknown): ApplicationFailure {
  return ApplicationFailure.create({
    type: FailureType.refreshUnavailable,
    message: `the account workflow did not refresh the access token: ${(err as Error).message}`,
  });
}
