import { randomInt } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type mongoose from 'mongoose';
import pino from 'pino';
import type { Client, Connection } from '@temporalio/client';
import type { WorkerOptions } from '@temporalio/worker';
import { loadConfig } from '../../src/config';
import { createModels, type Models } from '../../src/db/models';
import { createIngressApp } from '../../src/ingress/server';
import type { AccountControl } from '../../src/workflow-client/account-control';
import { startJobberSandbox, type JobberSandboxOptions, type StartedJobberSandbox, type WebhookDelivery } from '../../src/sandbox/jobber';
import { startSlackStandIn, type StartedSlackStandIn } from '../../src/sandbox/slack';
import { eventWorkflowId, parseRecordTopic, recordWorkflowId, type AccountTiming, type EventOutcome } from '../../workflows/definitions';
import { recordType } from '../../src/records';
import type { ActivityDeps } from '../../activities';
import { BOT_TOKEN, buildDeps, CLIENT_ID, TEST_KEY } from './deps';
import type { JobberOAuth } from '../../src/accounts/oauth';
import { connectMongo, connectTemporal, testTemporalAddress } from './env';
import { startWorker, type RunningWorker } from './worker';

export const SESSION_SECRET = 'test-session-secret-0123456789abcdef';
export const SLACK_SIGNING_SECRET = 'pipeline-slack-signing-secret';

/**
 * A random range per pipeline: jest gives every test file fresh module state, so a counter would
 * repeat across files run by the same worker. 900,000 ranges of 10,000 ids.
 */
export const nextIdBase = () => randomInt(1, 900_000) * 10_000;

export interface Pipeline {
  jobber: StartedJobberSandbox;
  slack: StartedSlackStandIn;
  models: Models;
  mongo: mongoose.Connection;
  temporal: { client: Client; connection: Connection };
  worker: RunningWorker;
  deps: ActivityDeps;
  control: AccountControl;
  ingressUrl: string;
  /** The OAuth client of the ingress (its redirect URI names the ingress). */
  oauth: JobberOAuth;
  /** A sandbox account with stored tokens, as after the OAuth callback (no account workflow). */
  connectAccount(name?: string): Promise<string>;
  /** Waits until Jobber delivered these webhooks, then for each event's workflow result. */
  outcomes(webhookIds: string[]): Promise<EventOutcome[]>;
  /** The event's natural key: the id of its outcome (`events`) and dead letter, and of its event workflow if it has one. */
  workflowIdOf(delivery: WebhookDelivery): string;
  /** The workflow that took the event: its record's workflow, or its own event workflow (APP_DISCONNECT, topics not synced). */
  workflowOf(delivery: WebhookDelivery): string;
  close(): Promise<void>;
}

/** Jobber sandbox → ingress (real HTTP) → real Temporal → worker → FerretDB and the Slack stand-in. */
export async function startPipeline(
  name: string,
  options: {
    sandbox?: JobberSandboxOptions;
    accountTiming?: AccountTiming;
    logger?: pino.Logger;
    /** As with an https PUBLIC_URL (the test still speaks plain HTTP, as behind a TLS proxy). */
    secureCookies?: boolean;
    /** The Manage App sessions' clock, to let one expire without waiting. */
    sessionClock?: () => Date;
    workerOptions?: Partial<WorkerOptions>;
  } = {},
): Promise<Pipeline> {
  const mongo = await connectMongo(name);
  const models = await createModels(mongo);
  const temporal = await connectTemporal();
  const slack = await startSlackStandIn({ signingSecret: SLACK_SIGNING_SECRET });
  // Test files share one Temporal namespace: each sandbox gets its own id range, so account
  // workflow ids (jobber-account/<n>) never collide between files.
  const jobber = await startJobberSandbox({ webhooks: { backoffMs: 100 }, idBase: nextIdBase(), ...options.sandbox });
  const deps = buildDeps({ models, jobberUrl: jobber.url, slackUrl: slack.url, temporal: temporal.client });
  const worker = await startWorker(deps, name, options.workerOptions);
  const logger = options.logger ?? pino({ level: 'silent' });
  // Listen first: the OAuth redirect URI must name the port.
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const ingressUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // The ingress as the product wires it, from the environment a deployment would give it.
  const config = loadConfig({
    PUBLIC_URL: ingressUrl,
    TEMPORAL_ADDRESS: testTemporalAddress(),
    TEMPORAL_TASK_QUEUE: worker.taskQueue,
    MONGO_URL: 'mongodb://unused-the-connection-is-given',
    JOBBER_CLIENT_ID: CLIENT_ID,
    JOBBER_CLIENT_SECRET: jobber.sandbox.clientSecret,
    JOBBER_API_URL: jobber.url,
    SLACK_BOT_TOKEN: BOT_TOKEN,
    SLACK_SIGNING_SECRET: SLACK_SIGNING_SECRET,
    SLACK_CLIENT_ID: slack.standIn.slackApp.clientId,
    SLACK_CLIENT_SECRET: slack.standIn.slackApp.clientSecret,
    SLACK_API_URL: slack.url,
    SLACK_ALERT_CHANNEL: deps.alertChannel,
    TOKEN_ENCRYPTION_KEY: TEST_KEY.toString('base64'),
    SESSION_SECRET,
  });
  const ingress = createIngressApp({ ...config, secureCookies: options.secureCookies ?? false }, logger, {
    mongo,
    models,
    client: temporal.client,
    accountTiming: options.accountTiming,
    jobber: deps.jobber,
    sessionClock: options.sessionClock,
  });
  const { app, control, oauth } = ingress;
  server.on('request', app.callback());
  jobber.sandbox.setWebhookUrl(`${ingressUrl}/webhooks/jobber`);
  slack.standIn.setEventsUrl(`${ingressUrl}/slack/events`);

  const workflowIdOf = (d: WebhookDelivery) =>
    eventWorkflowId({ topic: d.event.topic, accountId: d.event.accountId, itemId: d.event.itemId, occurredAt: new Date(d.event.occurredAt).toISOString() });

  return {
    jobber,
    slack,
    models,
    mongo,
    temporal,
    worker,
    deps,
    control,
    ingressUrl,
    oauth,
    workflowIdOf,
    workflowOf(d) {
      const parsed = parseRecordTopic(d.event.topic);
      return parsed && recordType(parsed.kind) ? recordWorkflowId(d.event.accountId, parsed.kind, d.event.itemId) : workflowIdOf(d);
    },
    async connectAccount(accountName = 'Green Thumb Landscaping') {
      const account = jobber.sandbox.store.createAccount({ name: accountName });
      const tokens = await jobber.sandbox.connect(account.id);
      await deps.tokens.connect({ id: account.id, name: accountName }, { accessToken: tokens.access_token, refreshToken: tokens.refresh_token });
      return account.id;
    },
    async outcomes(webhookIds) {
      const deliveries = await waitFor(() => {
        const all = webhookIds.map((id) => jobber.sandbox.webhooks.get(id));
        return all.every((d) => d && ['delivered', 'failed'].includes(d.status)) ? (all as WebhookDelivery[]) : undefined;
      }, 20_000);
      return Promise.all(
        deliveries.map(async (d) => {
          const id = workflowIdOf(d);
          const parsed = parseRecordTopic(d.event.topic);
          // Any other event has a workflow of its own, whose result is its outcome.
          if (!parsed || !recordType(parsed.kind)) return temporal.client.workflow.getHandle(id).result() as Promise<EventOutcome>;
          // A record's event: its record workflow keeps the outcome under the natural key.
          const outcome = await waitFor(
            async () => ((await models.Event.findById(id, { outcome: 1 }).lean()) as { outcome?: EventOutcome } | null)?.outcome,
            // Bounded only to stop a hung test: the test's own timeout is the limit, as it was for a workflow's result().
            600_000,
          );
          if (outcome.status === 'failed') throw new Error(`${d.event.topic} ${d.event.itemId} failed: ${outcome.reason}`);
          return outcome;
        }),
      );
    },
    async close() {
      // Account workflows outlive the test otherwise, polling a task queue no worker serves.
      for await (const wf of temporal.client.workflow.list({ query: `TaskQueue = "${worker.taskQueue}" AND ExecutionStatus = "Running"` })) {
        await temporal.client.workflow
          .getHandle(wf.workflowId, wf.runId)
          .terminate('test finished')
          .catch(() => undefined);
      }
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await ingress.drain();
      await worker.stop();
      await jobber.close();
      await slack.close();
      await temporal.connection.close();
      await mongo.dropDatabase();
      await mongo.close();
    },
  };
}

/** Polls until `probe` returns a value (not a timing assertion: the bound only stops a hung test). */
export async function waitFor<T>(probe: () => T | undefined | Promise<T | undefined>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Jobber's (the sandbox's) log of refresh-token grants for one account, accepted or rejected. */
export function refreshGrants(p: Pipeline, accountId: string) {
  const number = String(p.jobber.sandbox.store.accountNumber(accountId));
  return p.jobber.sandbox.oauth.log.filter((e) => e.grantType === 'refresh_token' && [accountId, number].includes(e.accountId ?? ''));
}

/** An alert posted exactly once, with its link to Jobber and its buttons. */
export const expectPostedOnce = (p: Pipeline, text: string, webUri: string) => {
  const posted = p.slack.standIn.state.messages.filter((m) => m.text.includes(text));
  expect(posted).toHaveLength(1);
  const blocks = JSON.stringify(posted[0]!.blocks);
  for (const label of ['Open in Jobber', 'Acknowledge', 'Refresh']) expect(blocks).toContain(label);
  expect(blocks).toContain(webUri);
  return posted[0]!;
};
