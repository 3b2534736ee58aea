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
import { Context } from '@temporalio/activity';
import { slackForAccounts } from '../slack/alert-targets';
import { createSlackOAuth, InstallationStore, SlackInstallations } from '../slack/installations';
import { SlackInstallationControl } from '../workflow-client/slack-installation';
import { mainTaskQueueOf } from '../../workflows/definitions';

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
  const cipher = createTokenCipher(config);
  const slackStore = new InstallationStore(models, cipher, config.slack.apiUrl, createSlackOAuth(config));
  // An alert reads its workspace's installation and asks that installation's workflow for every
  // change (a refresh, a refusal): the workflow's activities (slackStore) are its only writer.
  // Without Temporal (activities called alone in a test) this process is the only writer.
  const installations = parts.temporal
    ? new SlackInstallations(
        models,
        cipher,
        config.slack.apiUrl,
        new SlackInstallationControl(parts.temporal, () => mainTaskQueueOf(Context.current().info.taskQueue)),
      )
    : slackStore.asWriterReader();
  return {
    models,
    tokens: new TokenStore(models, createTokenCipher(config)),
    jobber: createJobberClient(config, { ...parts.jobber, metrics }),
    oauth: createOAuth(config),
    metrics,
    slack: createSlackClient(config),
    alertChannel: config.slack.alertChannel ?? '',
    slackFor: slackForAccounts(models, installations, config.slack.apiUrl, config.slack),
    slackStore,
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
  const stopSampling = metrics.sampleProcess();
  const deps = buildActivityDeps(config, { models, temporal, metrics });
  return {
    deps,
    connection,
    close: () => {
      stopSampling();
      return connection.close();
    },
  };
}
