import { randomBytes, randomUUID } from 'node:crypto';
import Koa from 'koa';
import Router from '@koa/router';
import { bodyParser } from '@koa/bodyparser';
import pino from 'pino';
import type { Logger } from '../../logger';
import { SandboxClock, SandboxError } from './clock';
import { CostBuckets, RequestLimiter } from './cost';
import type { GraphQLRequestRecord, SandboxDeps } from './deps';
import { FaultList } from './faults';
import { registerAdminRoutes } from './admin-routes';
import { registerGraphQLRoute } from './graphql-route';
import { errorHandler, listen, publicHost, requestLogger } from './http';
import type { DeliveryOptions } from './inputs';
import { OAuthService, type TokenResponse } from './oauth';
import { registerOAuthRoutes } from './oauth-routes';
import { createSandboxSchema } from './resolvers';
import { JobberStore } from './store';
import { WebhookSender, type TimestampField, type WebhookEncoding } from './webhooks';

export { JOBBER_SANDBOX_SDL } from './schema';
export { MAX_PAGE_SIZE } from './resolvers';
export { signWebhook, encodeWebhookBody } from './webhooks';
export { tokenFingerprint, DISCONNECTED_MESSAGE, INVALID_REFRESH_TOKEN_MESSAGE } from './oauth';
export { SandboxError } from './clock';
export type {
  JobberStore,
  AccountView,
  ClientView,
  JobView,
  InvoiceView,
  RequestView,
  QuoteView,
  VisitView,
  PropertyView,
  DeletedView,
  ChangeEvent,
} from './store';
export type { WebhookDelivery, WebhookEvent, DeliveryAttempt, WebhookSender } from './webhooks';
export type { OAuthService, OAuthLogEntry, TokenResponse } from './oauth';
export type { Fault, FaultList } from './faults';
export type { GraphQLRequestRecord } from './deps';
export type { DeliveryOptions, WriteOptions, JobStatus, InvoiceStatus } from './inputs';

export interface JobberSandboxOptions {
  /** OAuth client id of the one app the sandbox knows (default 'sandbox-client-id'). */
  clientId?: string;
  /** OAuth client secret; also keys the webhook HMAC (default 'sandbox-client-secret'). */
  clientSecret?: string;
  /** Where webhooks are POSTed; without one they are recorded as 'skipped'. Changeable later. */
  webhookUrl?: string;
  /** Access token lifetime (default 3600, as on Jobber). */
  accessTokenTtlSeconds?: number;
  /** Leaky bucket per account and app (default 10,000 points, 500 per second). */
  costBucket?: { maximumAvailable?: number; restoreRate?: number };
  /** Requests per account and app per window before HTTP 429 (default 2,500 per 5 minutes). */
  requestLimit?: { max?: number; windowMs?: number };
  /** HS256 key for access tokens (default: random per sandbox). */
  jwtSecret?: string;
  /** The app's UUID, sent as `appId` in webhooks and `app_id` in tokens (default: random). */
  appId?: string;
  appName?: string;
  appAuthor?: string;
  /** Allowed OAuth redirect URIs; default any http(s) URL. */
  redirectUris?: string[];
  /** Webhook defaults; Jobber's retry schedule is undocumented, these are the sandbox's. */
  webhooks?: {
    encoding?: WebhookEncoding;
    timestampField?: TimestampField;
    maxAttempts?: number;
    backoffMs?: number;
    timeoutMs?: number;
    jitter?: number;
    honorRetryAfter?: boolean;
    maxRetryAfterMs?: number;
  };
  now?: () => Date;
  /**
   * Stamp records and webhooks in whole seconds, as Jobber does (the default). `false` gives strictly
   * increasing milliseconds, kinder than Jobber: only for a test that says why it needs it.
   */
  wholeSecondStamps?: boolean;
  logger?: Logger;
  /**
   * Record ids start after this number (default 0). Sandboxes that share one Temporal server (the
   * test suite) each take their own range, so their accounts' workflow ids never collide.
   */
  idBase?: number;
}

export interface JobberSandbox {
  /** The Koa app (not listening): `/api/...` as on Jobber, `/admin/...` for control. */
  app: Koa;
  store: JobberStore;
  oauth: OAuthService;
  webhooks: WebhookSender;
  faults: FaultList;
  /** Every GraphQL request received, oldest first. */
  requests: GraphQLRequestRecord[];
  clientId: string;
  appId: string;
  /** The current client secret (changes when rolled). */
  readonly clientSecret: string;
  /** Tokens for an account without the browser consent (marks it connected). */
  connect(accountId: string): Promise<TokenResponse>;
  /** Marketplace "Disconnect": revokes every token, sends APP_DISCONNECT; returns webhook ids. */
  disconnect(accountId: string, delivery?: DeliveryOptions): string[];
  setWebhookUrl(url: string | undefined): void;
  /** Whole-second stamps on or off from now on (see JobberSandboxOptions.wholeSecondStamps). */
  setWholeSecondStamps(on: boolean): void;
  /** Forgets all data, tokens, logs and faults; restores the original client secret. */
  reset(): void;
  /** Stops pending webhook deliveries. */
  close(): Promise<void>;
}

/** Builds the Jobber sandbox: an HTTP stand-in for Jobber's GraphQL API, OAuth and webhooks. */
export function createJobberSandbox(options: JobberSandboxOptions = {}): JobberSandbox {
  const logger = options.logger ?? pino({ level: 'silent' });
  const clock = new SandboxClock(options.now ?? (() => new Date()));
  clock.wholeSeconds = options.wholeSecondStamps ?? true;
  const clientId = options.clientId ?? 'sandbox-client-id';
  const initialSecret = options.clientSecret ?? 'sandbox-client-secret';
  const appId = options.appId ?? randomUUID();
  const store = new JobberStore(clock, options.idBase ?? 0);
  const oauth = new OAuthService(
    {
      clientId,
      clientSecret: initialSecret,
      appId,
      accessTokenTtlSeconds: options.accessTokenTtlSeconds ?? 3600,
      jwtSecret: options.jwtSecret ?? randomBytes(32).toString('hex'),
    },
    clock,
    store,
  );
  const webhooks = new WebhookSender({
    url: options.webhookUrl,
    appId,
    clientSecret: () => oauth.clientSecret,
    clock,
    logger,
    ...options.webhooks,
  });
  store.onChange((events, delivery) => {
    for (const event of events) webhooks.enqueue(event, delivery);
  });
  const faults = new FaultList();
  const buckets = new CostBuckets(
    { maximumAvailable: options.costBucket?.maximumAvailable ?? 10_000, restoreRate: options.costBucket?.restoreRate ?? 500 },
    () => clock.nowMs(),
  );
  const limiter = new RequestLimiter({ max: options.requestLimit?.max ?? 2500, windowMs: options.requestLimit?.windowMs ?? 300_000 }, () => clock.nowMs());
  const requests: GraphQLRequestRecord[] = [];

  const disconnect = (accountId: number, detail: string, delivery?: DeliveryOptions): string[] => {
    oauth.disconnect(accountId, detail);
    const account = store.enc('Account', accountId);
    return webhooks.enqueue({ topic: 'APP_DISCONNECT', accountId: account, itemId: account, occurredAt: clock.stamp().toISOString() }, delivery);
  };

  const deps: SandboxDeps = {
    store,
    oauth,
    webhooks,
    faults,
    clock,
    logger,
    schema: createSandboxSchema(),
    buckets,
    limiter,
    requests,
    application: { id: 1, name: options.appName ?? 'Sandbox App', author: options.appAuthor ?? 'Sandbox Developer' },
    redirectUris: options.redirectUris,
    disconnect,
  };

  const reset = () => {
    store.reset();
    oauth.reset();
    webhooks.clear();
    faults.clear();
    buckets.reset();
    limiter.reset();
    requests.length = 0;
  };

  const router = new Router();
  router.get('/', (ctx) => {
    ctx.body = {
      name: 'Jobber sandbox',
      graphql: '/api/graphql',
      authorize: '/api/oauth/authorize',
      token: '/api/oauth/token',
      admin: '/admin (see docs/SANDBOX.md)',
    };
  });
  registerGraphQLRoute(router, deps);
  registerOAuthRoutes(router, deps);
  registerAdminRoutes(router, deps, reset);

  const app = new Koa();
  app.use(errorHandler(logger));
  app.use(requestLogger(logger));
  app.use(bodyParser({ enableTypes: ['json', 'form'], parsedMethods: ['POST', 'PUT', 'PATCH', 'DELETE'] }));
  app.use(router.routes());
  app.use(router.allowedMethods());

  const requireAccount = (accountId: string): number => {
    const n = store.accountNumber(accountId);
    if (n === undefined) throw new SandboxError(404, `account ${accountId} not found`);
    return n;
  };

  return {
    app,
    store,
    oauth,
    webhooks,
    faults,
    requests,
    clientId,
    appId,
    get clientSecret() {
      return oauth.clientSecret;
    },
    connect: (accountId) => oauth.connect(requireAccount(accountId)),
    disconnect: (accountId, delivery) => disconnect(requireAccount(accountId), 'marketplace disconnect', delivery),
    setWebhookUrl: (url) => webhooks.setUrl(url),
    setWholeSecondStamps: (on) => {
      clock.wholeSeconds = on;
    },
    reset,
    close: () => webhooks.close(),
  };
}

export interface StartedJobberSandbox {
  /** Base URL, like Jobber's https://api.getjobber.com/api: GraphQL at `${url}/graphql`. */
  url: string;
  /** Where the admin API lives (`${origin}/admin`). */
  adminUrl: string;
  port: number;
  sandbox: JobberSandbox;
  close(): Promise<void>;
}

/** Starts the sandbox on host:port (defaults 127.0.0.1 and 0, a free port). */
export async function startJobberSandbox(options: JobberSandboxOptions & { port?: number; host?: string } = {}): Promise<StartedJobberSandbox> {
  const { port = 0, host = '127.0.0.1', ...rest } = options;
  const sandbox = createJobberSandbox(rest);
  const server = await listen(sandbox.app, port, host);
  const origin = `http://${publicHost(host)}:${server.port}`;
  return {
    url: `${origin}/api`,
    adminUrl: `${origin}/admin`,
    port: server.port,
    sandbox,
    close: async () => {
      await sandbox.close();
      await server.close();
    },
  };
}
