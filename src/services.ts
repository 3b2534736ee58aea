import { WebClient } from '@slack/web-api';
import type { Config } from './config';
import { TokenCipher } from './crypto/tokens';
import { connectDatabase } from './db/models';
import { CostPacer, JobberGraphQL } from './jobber/client';
import { TokenStore } from './accounts/token-store';
import type { ActivityDeps } from '../activities';

/** Slack Web API client; rate limits come back to us as errors so Temporal schedules the retry. */
export function createSlackClient(config: Pick<Config, 'slack'>): WebClient {
  return new WebClient(config.slack.botToken, {
    slackApiUrl: config.slack.apiUrl,
    rejectRateLimitedCalls: true,
    retryConfig: { retries: 2, minTimeout: 200, maxTimeout: 2000 },
    timeout: 10_000,
  });
}

export function createJobberClient(config: Pick<Config, 'jobber'>, pacer = new CostPacer()): JobberGraphQL {
  return new JobberGraphQL({ apiUrl: config.jobber.apiUrl, version: config.jobber.graphqlVersion, pacer });
}

/** The long-lived clients the activities close over, built once per worker process. */
export async function createActivityDeps(config: Config): Promise<{ deps: ActivityDeps; close(): Promise<void> }> {
  const { connection, models } = await connectDatabase(config.mongoUrl);
  const deps: ActivityDeps = {
    models,
    tokens: new TokenStore(models, new TokenCipher(config.tokenEncryptionKey)),
    jobber: createJobberClient(config),
    slack: createSlackClient(config),
    alertChannel: config.slack.alertChannel,
  };
  return { deps, close: () => connection.close() };
}
