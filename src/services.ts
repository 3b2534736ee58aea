/**
 * The long-lived clients built from config, shared by the ingress, the worker and the tests. Loads
 * no Temporal worker code: the ingress imports it.
 */
import { WebClient } from '@slack/web-api';
import type { Config } from './config';
import { TokenCipher } from './crypto/tokens';
import { CostPacer, JobberGraphQL, type JobberGraphQLOptions } from './jobber/client';
import { JobberOAuth } from './accounts/oauth';
import type { WorkerMetrics } from './metrics/worker-metrics';

export function createTokenCipher(config: Pick<Config, 'tokenEncryptionKey' | 'tokenEncryptionPreviousKeys'>): TokenCipher {
  return new TokenCipher(config.tokenEncryptionKey, config.tokenEncryptionPreviousKeys);
}

export function createOAuth(config: Pick<Config, 'jobber' | 'publicUrl'>): JobberOAuth {
  return new JobberOAuth({
    apiUrl: config.jobber.apiUrl,
    clientId: config.jobber.clientId,
    clientSecret: config.jobber.clientSecret,
    redirectUri: `${config.publicUrl}/auth/jobber/callback`,
  });
}

/**
 * Slack Web API client; rate limits and failures come back to us as errors so Temporal schedules
 * the retry. The client never retries itself: a post Slack took but answered slowly or with an
 * error would go out again, past sendAlertOnce's look at the channel history.
 */
export function createSlackClient(config: Pick<Config, 'slack'>): WebClient {
  return new WebClient(config.slack.botToken, {
    slackApiUrl: config.slack.apiUrl,
    rejectRateLimitedCalls: true,
    retryConfig: { retries: 0 },
    timeout: 10_000,
  });
}

/** Jobber's GraphQL API, cost-paced; the tests shorten `timeoutMs` and drive `sleep`. */
export function createJobberClient(
  config: Pick<Config, 'jobber'>,
  options: { metrics?: WorkerMetrics } & Pick<JobberGraphQLOptions, 'timeoutMs' | 'sleep'> = {},
): JobberGraphQL {
  const { metrics } = options;
  return new JobberGraphQL({
    apiUrl: config.jobber.apiUrl,
    version: config.jobber.graphqlVersion,
    pacer: new CostPacer(),
    timeoutMs: options.timeoutMs,
    sleep: options.sleep,
    onResponse: ({ operation, cost, error }) => {
      metrics?.jobberRequests.add(1, { operation, outcome: error ?? 'ok' });
      if (cost) metrics?.jobberQueryCost.record(cost.actualQueryCost, { operation });
    },
    onPacingWait: (ms) => metrics?.jobberThrottleWaitMs.record(Math.round(ms)),
  });
}
