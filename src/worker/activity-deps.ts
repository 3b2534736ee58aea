import type { Client } from '@temporalio/client';
import { Runtime } from '@temporalio/worker';
import type mongoose from 'mongoose';
import type { ActivityDeps } from '../../activities';
import { TokenStore } from '../accounts/token-store';
import type { Config } from '../config';
import { connectDatabase, type Models } from '../db/models';
import type { JobberGraphQLOptions } from '../jobber/client';
import { WorkerMetrics } from '../metrics/worker-metrics';
import { createJobberClient, createOAuth, createSlackClient, createTokenCipher } from '../services';
import { slackForAccounts } from '../slack/alert-targets';
import { createSlackOAuth } from '../slack/installations';

export type ActivityConfig = Pick<Config, 'jobber' | 'slack' | 'publicUrl' | 'tokenEncryptionKey' | 'tokenEncryptionPreviousKeys'>;

/** The activities' dependencies from config, over a database already open (the tests' way in). */
export function buildActivityDeps(
  config: ActivityConfig,
  parts: {
    models: Models;
    /** To ask an account's workflow for a refresh when Jobber answers 401. */
    temporal?: Client;
    metrics?: WorkerMetrics;
    jobber?: Pick<JobberGraphQLOptions, 'timeoutMs' | 'sleep'>;
  },
): ActivityDeps {
  const { models, metrics } = parts;
  return {
    models,
    tokens: new TokenStore(models, createTokenCipher(config)),
    jobber: createJobberClient(config, { ...parts.jobber, metrics }),
    oauth: createOAuth(config),
    metrics,
    slack: createSlackClient(config),
    alertChannel: config.slack.alertChannel ?? '',
    slackFor: slackForAccounts(models, createTokenCipher(config), config.slack.apiUrl, config.slack, createSlackOAuth(config)),
    temporal: parts.temporal,
  };
}

/** The long-lived clients the activities close over, built once per worker process. */
export async function createActivityDeps(
  config: Config,
  temporal: Client,
): Promise<{ deps: ActivityDeps; connection: mongoose.Connection; close(): Promise<void> }> {
  const { connection, models } = await connectDatabase(config.mongoUrl, { writeConcern: config.mongoWriteConcern });
  // The runtime installed by the worker's start-up exports these with the SDK's metrics.
  const metrics = new WorkerMetrics(Runtime.instance().metricMeter);
  const deps = buildActivityDeps(config, { models, temporal, metrics });
  return { deps, connection, close: () => connection.close() };
}
