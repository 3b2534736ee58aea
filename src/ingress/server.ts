import type { Server } from 'node:http';
import type { Client } from '@temporalio/client';
import type Koa from 'koa';
import type mongoose from 'mongoose';
import type { Config } from '../config';
import type { Logger } from '../logger';
import type { Models } from '../db/models';
import { TokenStore } from '../accounts/token-store';
import { AccountControl } from '../workflow-client/account-control';
import { createJobberClient, createOAuth, createSlackClient, createTokenCipher } from '../services';
import type { JobberGraphQL } from '../jobber/client';
import type { JobberOAuth } from '../accounts/oauth';
import { connectClient } from '../workflow-client/connection';
import type { Tracing } from '../telemetry/tracing';
import { workflowClientInterceptors } from '../telemetry/temporal';
import { refreshRecordThroughWorkflow } from '../workflow-client/refresh-record';
import { createSlackRouter } from './slack-routes';
import type { AccountTiming } from '../../workflows/definitions';
import { createApp, type IngressDeps } from './app';
import { createAuthRouter } from './auth-routes';
import { createManageRouter, messagePage } from './manage-routes';
import { Sessions } from './sessions';
import { createSlackInstallRouter, renderSlackSection } from './slack-install-routes';
import { createSlackOAuth, SlackInstallations } from '../slack/installations';
import { SlackInstallationControl } from '../workflow-client/slack-installation';
import { IngressMetrics } from './metrics';
import { malformedWebhookKeeper } from './dead-letters';

export interface IngressApp {
  app: Koa;
  control: AccountControl;
  /** The OAuth client of the connect flow (its redirect URI names PUBLIC_URL). */
  oauth: JobberOAuth;
  /** Waits for the Slack message updates started after answering a click. */
  drain(): Promise<void>;
}

/** The ingress app with every route, wired from config: startIngress listens on it, the tests serve it. */
export function createIngressApp(
  config: Config,
  logger: Logger,
  options: {
    mongo: mongoose.Connection;
    models: Models;
    client: Client;
    accountTiming?: AccountTiming;
    /** For the connect flow's account query; one of its own unless given (the tests give their worker's). */
    jobber?: JobberGraphQL;
    metrics?: IngressMetrics;
    readiness?: IngressDeps['readiness'];
    /** The Manage App sessions' clock (tests let one expire without waiting). */
    sessionClock?: () => Date;
  },
): IngressApp {
  const { client } = options;
  const control = new AccountControl(client, config.temporal.taskQueue, options.accountTiming);
  const tokens = new TokenStore(options.models, createTokenCipher(config));
  const oauth = createOAuth(config);
  const sessions = new Sessions(options.models, { now: options.sessionClock });
  const slackOAuth = createSlackOAuth(config);
  const slackInstall = {
    models: options.models,
    sessions,
    // The ingress reads installations and asks each one's workflow for every change (the one writer).
    installations: new SlackInstallations(
      options.models,
      createTokenCipher(config),
      config.slack.apiUrl,
      new SlackInstallationControl(client, config.temporal.taskQueue),
    ),
    oauth: slackOAuth,
    logger,
    page: messagePage,
  };
  const slack = createSlackRouter({
    installations: slackInstall.installations,
    installUrl: `${config.publicUrl}/manage`,
    models: options.models,
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
    metrics: options.metrics,
    keepMalformedWebhook: malformedWebhookKeeper(options.models),
    routers: [
      createAuthRouter({
        oauth,
        tokens,
        jobber: options.jobber ?? createJobberClient(config),
        onConnected: (account) => control.connected(account.id, account.grantId),
        page: messagePage,
        logger,
        sessions,
      }),
      createManageRouter({ models: options.models, control, sessions, slackSection: (session, log) => renderSlackSection(slackInstall, session, log) }),
      createSlackInstallRouter(slackInstall),
      slack,
    ],
    readiness: options.readiness,
  });
  return { app, control, oauth, drain: () => slack.drain() };
}

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
  options: { mongo: mongoose.Connection; models: Models; accountTiming?: AccountTiming; tracing?: Tracing },
): Promise<RunningIngress> {
  const { client, connection } = await connectClient(config.temporal, {
    lazy: true,
    connectTimeout: 2000,
    interceptors: workflowClientInterceptors(options.tracing),
  });
  const { app, control, drain } = createIngressApp(config, logger, {
    ...options,
    client,
    metrics: new IngressMetrics({ processMetrics: true }),
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
      await drain();
      await connection.close();
    },
  };
}
