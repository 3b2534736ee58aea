import { WebClient } from '@slack/web-api';
import type { Config } from './config';
import { TokenCipher } from './crypto/tokens';
import { connectDatabase } from './db/models';
import { CostPacer, JobberGraphQL } from './jobber/client';
import { TokenStore } from './accounts/token-store';
import { JobberOAuth } from './accounts/oauth';
import type { Client } from '@temporalio/client';
import type { ActivityDeps } from '../activities';

export function createOAuth(config: Pick<Config, 'jobber' | 'publicUrl'>): JobberOAuth {
  return new JobberOAuth({
    apiUrl: config.jobber.apiUrl,
    clientId: config.jobber.clientId,
    clientSecret: config.jobber.clientSecret,
    redirectUri: `${config.publicUrl}/auth/jobber/callback`,
  });
}

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
export async function createActivityDeps(config: Config, temporal?: Client): Promise<{ deps: ActivityDeps; close(): Promise<void> }> {
  const { connection, models } = await connectDatabase(config.mongoUrl);
  const deps: ActivityDeps = {
    models,
    tokens: new TokenStore(models, new TokenCipher(config.tokenEncryptionKey)),
    jobber: createJobberClient(config),
    oauth: createOAuth(config),
    slack: createSlackClient(config),
    alertChannel: config.slack.alertChannel,
    temporal,
  };
  return { deps, close: () => connection.close() };
}
