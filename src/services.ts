import { WebClient } from '@slack/web-api';
import type { Config } from './config';
import { TokenCipher } from './crypto/tokens';
import { connectDatabase } from './db/models';
import type mongoose from 'mongoose';
import { CostPacer, JobberGraphQL } from './jobber/client';
import { TokenStore } from './accounts/token-store';
import { JobberOAuth } from './accounts/oauth';
import type { Client } from '@temporalio/client';
import type { ActivityDeps } from '../activities';
import { Runtime } from '@temporalio/worker';
import { WorkerMetrics } from './metrics/worker-metrics';

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

export function createJobberClient(config: Pick<Config, 'jobber'>, metrics?: WorkerMetrics, pacer = new CostPacer()): JobberGraphQL {
  return new JobberGraphQL({
    apiUrl: config.jobber.apiUrl,
    version: config.jobber.graphqlVersion,
    pacer,
    onResponse: ({ operation, cost, error }) => {
      metrics?.jobberRequests.add(1, { operation, outcome: error ?? 'ok' });
      if (cost) metrics?.jobberQueryCost.record(cost.actualQueryCost, { operation });
    },
    onPacingWait: (ms) => metrics?.jobberThrottleWaitMs.record(Math.round(ms)),
  });
}

/** The long-lived clients the activities close over, built once per worker process. */
export async function createActivityDeps(
  config: Config,
  temporal: Client,
): Promise<{ deps: ActivityDeps; connection: mongoose.Connection; close(): Promise<void> }> {
  const { connection, models } = await connectDatabase(config.mongoUrl);
  // The runtime installed by the worker's entry point exports these with the SDK's metrics.
  const metrics = new WorkerMetrics(Runtime.instance().metricMeter);
  const deps: ActivityDeps = {
    models,
    tokens: new TokenStore(models, createTokenCipher(config)),
    jobber: createJobberClient(config, metrics),
    oauth: createOAuth(config),
    metrics,
    slack: createSlackClient(config),
    alertChannel: config.slack.alertChannel,
    temporal,
  };
  return { deps, connection, close: () => connection.close() };
}
