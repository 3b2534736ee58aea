import type mongoose from 'mongoose';
import type Koa from 'koa';
import request from 'supertest';
import { LogLevel, WebClient } from '@slack/web-api';
import { createModels, type Models } from '../../src/db/models';
import { upsertRecord } from '../../src/db/records';
import { createApp } from '../../src/ingress/app';
import { createSlackRouter, type SlackRouter, type SlackRouterDeps } from '../../src/ingress/slack-routes';
import { startSlackStandIn, type StartedSlackStandIn } from '../../src/sandbox/slack';
import type { JobberClientRecord } from '../../src/records/types/client';
import type { JobberInvoiceRecord } from '../../src/records/types/invoice';
import type { JobberJobRecord } from '../../src/records/types/job';
import type { JobberPaymentRecord } from '../../src/records/types/payment';
import type { JobberPropertyRecord } from '../../src/records/types/property';
import type { JobberQuoteRecord } from '../../src/records/types/quote';
import type { JobberRequestRecord } from '../../src/records/types/request';
import type { JobberVisitRecord } from '../../src/records/types/visit';
import { signSlackRequest } from '../../src/slack/verify';
import { connectMongo, connectTemporal, uniqueTaskQueue } from '../helpers/env';
import { memoryLogger } from '../helpers/ingress';

export const SIGNING_SECRET = 'test-slack-signing-secret';

export interface SlackEnv {
  mongo: mongoose.Connection;
  models: Models;
  slack: StartedSlackStandIn;
  web: WebClient;
  temporal: Awaited<ReturnType<typeof connectTemporal>>;
  /** Builds an app around a Slack router with these deps (the rest are the env's real ones). */
  app(overrides?: Partial<SlackRouterDeps>): { app: Koa; router: SlackRouter; lines: string[]; syncs: string[] };
  close(): Promise<void>;
}

/** Real MongoDB, the Slack stand-in over HTTP with a real WebClient, a real Temporal client. */
export async function startSlackEnv(name: string): Promise<SlackEnv> {
  const mongo = await connectMongo(name);
  const models = await createModels(mongo);
  const slack = await startSlackStandIn();
  const web = new WebClient(slack.standIn.botToken, { slackApiUrl: slack.url, retryConfig: { retries: 0 }, logLevel: LogLevel.ERROR });
  const temporal = await connectTemporal();
  const taskQueue = uniqueTaskQueue(name);
  return {
    mongo,
    models,
    slack,
    web,
    temporal,
    app(overrides = {}) {
      const { logger, lines } = memoryLogger();
      const syncs: string[] = [];
      const router = createSlackRouter({
        models,
        slack: web,
        signingSecret: SIGNING_SECRET,
        control: {
          syncNow: async (accountId) => {
            syncs.push(accountId);
          },
        },
        logger,
        ...overrides,
      });
      // The Temporal client is the ingress's own (webhooks); the Slack routes do not use it.
      const app = createApp({ temporal: { client: temporal.client, taskQueue }, jobberClientSecret: 'unused', logger, routers: [router] });
      return { app, router, lines, syncs };
    },
    async close() {
      await slack.close();
      await temporal.connection.close();
      await mongo.dropDatabase();
      await mongo.close();
    },
  };
}

/** A POST as Slack sends it: form body, signed with the signing secret at `timestamp` (seconds). */
export function slackPost(app: Koa, path: string, body: string, options: { timestamp?: number; secret?: string; signature?: string | null; now?: Date } = {}) {
  const timestamp = options.timestamp ?? Math.floor((options.now ?? new Date()).getTime() / 1000);
  const req = request(app.callback()).post(path).type('form').set('X-Slack-Request-Timestamp', String(timestamp));
  const signature = options.signature === undefined ? signSlackRequest(body, timestamp, options.secret ?? SIGNING_SECRET) : options.signature;
  if (signature !== null) req.set('X-Slack-Signature', signature);
  return req.send(body);
}

export function commandBody(teamId: string, text: string, userId = 'U0ALICE'): string {
  return new URLSearchParams({
    token: 'deprecated-verification-token',
    team_id: teamId,
    team_domain: 'sandbox',
    channel_id: 'C0GENERAL',
    channel_name: 'general',
    user_id: userId,
    user_name: userId.toLowerCase(),
    command: '/jobber',
    text,
    api_app_id: 'A0SANDBOX',
    response_url: 'https://hooks.slack.com/commands/T0/1/x',
    trigger_id: '1.2.3',
  }).toString();
}

export const interactionBody = (payload: unknown): string => new URLSearchParams({ payload: JSON.stringify(payload) }).toString();

/** Everything a user reads in an answer: the blocks' text (mrkdwn, escaped as Slack receives it). */
export function visible(answer: { blocks?: unknown[] }): string {
  const texts: string[] = [];
  const walk = (node: unknown) => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (node && typeof node === 'object') {
      for (const [k, v] of Object.entries(node)) {
        if (k === 'text' && typeof v === 'string') texts.push(v);
        else walk(v);
      }
    }
  };
  walk(answer.blocks ?? []);
  return texts.join('\n');
}

const iso = (d: string) => new Date(d).toISOString();

export async function seedClient(models: Models, accountId: string, c: Partial<JobberClientRecord> & { id: string }): Promise<void> {
  await upsertRecord(models, 'client', accountId, {
    firstName: '',
    lastName: '',
    companyName: null,
    isCompany: false,
    isArchived: false,
    isLead: false,
    emails: [],
    phones: [],
    billingAddress: null,
    jobberWebUri: `https://secure.getjobber.com/clients/${c.id}`,
    createdAt: iso('2025-01-01T00:00:00Z'),
    updatedAt: iso('2025-01-01T00:00:00Z'),
    ...c,
  });
}

export async function seedJob(models: Models, accountId: string, j: Partial<JobberJobRecord> & { id: string }): Promise<void> {
  await upsertRecord(models, 'job', accountId, {
    jobNumber: 1,
    title: 'Job',
    jobStatus: 'upcoming',
    total: 100,
    startAt: null,
    endAt: null,
    completedAt: null,
    client: { id: 'client-none', name: 'Nobody' },
    jobberWebUri: `https://secure.getjobber.com/work_orders/${j.id}`,
    createdAt: iso('2025-05-01T00:00:00Z'),
    updatedAt: iso('2025-05-01T00:00:00Z'),
    ...j,
  });
}

export async function seedInvoice(
  models: Models,
  accountId: string,
  i: Partial<Omit<JobberInvoiceRecord, 'amounts'>> & { id: string; amounts?: Partial<NonNullable<JobberInvoiceRecord['amounts']>> },
): Promise<void> {
  const { amounts, ...rest } = i;
  await upsertRecord(models, 'invoice', accountId, {
    invoiceNumber: '1',
    invoiceStatus: 'awaiting_payment',
    subject: 'For services rendered',
    issuedDate: iso('2025-04-01T00:00:00Z'),
    dueDate: null,
    receivedDate: null,
    client: { id: 'client-none', name: 'Nobody' },
    jobs: { nodes: [] },
    jobberWebUri: `https://secure.getjobber.com/invoices/${i.id}`,
    createdAt: iso('2025-04-01T00:00:00Z'),
    updatedAt: iso('2025-04-01T00:00:00Z'),
    ...rest,
    amounts: { total: 0, subtotal: 0, invoiceBalance: 0, paymentsTotal: 0, ...amounts },
  });
}

export async function seedRequest(models: Models, accountId: string, r: Partial<JobberRequestRecord> & { id: string }): Promise<void> {
  await upsertRecord(models, 'request', accountId, {
    title: 'Request',
    requestStatus: 'new',
    contactName: null,
    companyName: null,
    email: null,
    phone: null,
    source: 'online_booking',
    client: { id: 'client-none', name: 'Nobody' },
    jobberWebUri: `https://secure.getjobber.com/requests/${r.id}`,
    createdAt: iso('2025-05-01T00:00:00Z'),
    updatedAt: iso('2025-05-01T00:00:00Z'),
    ...r,
  });
}

export async function seedQuote(
  models: Models,
  accountId: string,
  q: Partial<Omit<JobberQuoteRecord, 'amounts'>> & { id: string; amounts?: Partial<JobberQuoteRecord['amounts']> },
): Promise<void> {
  const { amounts, ...rest } = q;
  await upsertRecord(models, 'quote', accountId, {
    quoteNumber: '1',
    quoteStatus: 'awaiting_response',
    title: null,
    client: { id: 'client-none', name: 'Nobody' },
    request: null,
    property: null,
    jobs: { nodes: [] },
    sentAt: null,
    transitionedAt: iso('2025-05-01T00:00:00Z'),
    jobberWebUri: `https://secure.getjobber.com/quotes/${q.id}`,
    createdAt: iso('2025-05-01T00:00:00Z'),
    updatedAt: iso('2025-05-01T00:00:00Z'),
    ...rest,
    amounts: { subtotal: 0, total: 0, ...amounts },
  });
}

export async function seedVisit(models: Models, accountId: string, v: Partial<JobberVisitRecord> & { id: string }): Promise<void> {
  await upsertRecord(models, 'visit', accountId, {
    title: 'Visit',
    visitStatus: 'UPCOMING',
    startAt: null,
    endAt: null,
    completedAt: null,
    isComplete: false,
    job: { id: 'job-none', jobNumber: 1 },
    client: { id: 'client-none', name: 'Nobody' },
    invoice: null,
    property: null,
    createdAt: iso('2025-05-01T00:00:00Z'),
    ...v,
  });
}

export async function seedProperty(models: Models, accountId: string, p: Partial<JobberPropertyRecord> & { id: string }): Promise<void> {
  await upsertRecord(models, 'property', accountId, {
    street: '',
    city: '',
    province: '',
    postalCode: '',
    country: '',
    isBillingAddress: false,
    client: null,
    jobberWebUri: `https://secure.getjobber.com/properties/${p.id}`,
    ...p,
  });
}

export async function seedPayment(models: Models, accountId: string, p: Partial<JobberPaymentRecord> & { id: string }): Promise<void> {
  await upsertRecord(models, 'payment', accountId, {
    __typename: 'CashPaymentRecord',
    amount: 0,
    entryDate: iso('2025-05-01T00:00:00Z'),
    paymentType: null,
    adjustmentType: 'PAYMENT',
    details: null,
    client: null,
    invoice: null,
    ...p,
  });
}
