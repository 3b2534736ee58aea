import type { Server } from 'node:http';
import { Client, Connection } from '@temporalio/client';
import type mongoose from 'mongoose';
import type { Config } from '../config';
import type { Logger } from '../logger';
import type { Models } from '../db/models';
import { TokenStore } from '../accounts/token-store';
import { AccountControl } from '../accounts/control';
import { createJobberClient, createOAuth, createSlackClient, createTokenCipher } from '../services';
import { slackLinkModel } from '../db/slack-links';
import { refreshRecordThroughWorkflow } from '../accounts/refresh-record';
import { createSlackRouter } from './slack-routes';
import type { AccountTiming } from '../../workflows/definitions';
import { createApp } from './app';
import { createAuthRouter } from './auth-routes';
import { createManageRouter, messagePage } from './manage-routes';
import { Sessions } from './sessions';
import { IngressMetrics } from './metrics';
import { malformedWebhookKeeper } from './dead-letters';
import { temporalConnectionOptions } from '../temporal-connection';

export interface RunningIngress {
  server: Server;
  client: Client;
  control: AccountControl;
  /** Stops accepting, lets in-flight requests finish, then closes the Temporal connection. */
  close(): Promise<void>;
}

/**
 * Listens on config.port. The Temporal connection is lazy: the ingress comes up even while
 * Temporal is down and answers webhooks 503 until it is back, so Jobber retries and nothing is lost.
 */
export async function startIngress(
  config: Config,
  logger: Logger,
  options: { mongo: mongoose.Connection; models: Models; accountTiming?: AccountTiming },
): Promise<RunningIngress> {
  const connection = Connection.lazy(temporalConnectionOptions(config.temporal, 2000));
  const client = new Client({ connection, namespace: config.temporal.namespace });
  const control = new AccountControl(client, config.temporal.taskQueue, options.accountTiming);
  const tokens = new TokenStore(options.models, createTokenCipher(config));
  const metrics = new IngressMetrics({ processMetrics: true });
  const sessions = new Sessions(options.models);
  const slack = createSlackRouter({
    models: options.models,
    links: slackLinkModel(options.mongo),
    slack: createSlackClient(config),
    signingSecret: config.slack.signingSecret,
    control,
    refreshRecord: refreshRecordThroughWorkflow(client, config.temporal.taskQueue),
    logger,
  });
  const app = createApp({
    temporal: { client, taskQueue: config.temporal.taskQueue },
    jobberClientSecret: config.jobber.clientSecret,
    sessionSecret: config.sessionSecret,
    secureCookies: config.secureCookies,
    logger,
    metrics,
    keepMalformedWebhook: malformedWebhookKeeper(options.models),
    routers: [
      createAuthRouter({
        oauth: createOAuth(config),
        tokens,
        jobber: createJobberClient(config),
        onConnected: (account) => control.connected(account.id, account.grantId),
        page: messagePage,
        logger,
        sessions,
      }),
      createManageRouter({ models: options.models, control, sessions }),
      slack,
    ],
    readiness: {
      temporal: () =>
        connection.withDeadline(Date.now() + 1000, async () => {
          await connection.workflowService.getSystemInfo({});
        }),
      mongodb: async () => {
        await options.mongo.db!.admin().ping();
      },
    },
  });
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(config.port, () => resolve(s));
    s.once('error', reject);
  });
  server.keepAliveTimeout = 5000;
  logger.info({ port: config.port }, 'ingress listening');
  return {
    server,
    client,
    control,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      // Slack message updates started after answering a click finish before we go.
      await slack.drain();
      await connection.close();
    },
  };
}
