import { randomUUID } from 'node:crypto';
import Koa from 'koa';
import Router from '@koa/router';
import getRawBody from 'raw-body';
import createError from 'http-errors';
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import type { Logger } from '../logger';
import { eventWorkflowId, type JobberEvent } from '../../workflows/definitions';
import { startEventWorkflow } from '../workflow-client/event-workflow';
import { parseJobberWebhook, verifyJobberSignature, WebhookPayloadError } from './jobber-webhook';
import type { IngressMetrics } from './metrics';
import type { KeepMalformedWebhook } from './dead-letters';

export interface IngressDeps {
  temporal: { client: Client; taskQueue: string };
  jobberClientSecret: string;
  logger: Logger;
  metrics?: IngressMetrics;
  /** Readiness checks for /readyz, by name. */
  readiness?: Record<string, () => Promise<void>>;
  /** Extra routes (OAuth, Manage App, Slack) mounted by other modules. */
  routers?: Router[];
  /** Most a webhook body may be; Jobber's are a few hundred bytes. */
  webhookBodyLimit?: string;
  /** Jobber wants an answer within a second: give Temporal this long, then answer 503. */
  temporalDeadlineMs?: number;
  /** Marks every cookie Secure (PUBLIC_URL is https), even on the plain-HTTP hop behind a TLS proxy. */
  secureCookies?: boolean;
  /** Signs cookies (OAuth state, Manage App session). */
  sessionSecret?: string;
  /**
   * Keeps a signed webhook whose body is malformed as a dead letter, so it is acknowledged and
   * not lost; without it such a webhook is answered 400.
   */
  keepMalformedWebhook?: KeepMalformedWebhook;
}

/** The ingress app; listened on by src/bin/ingress.ts, driven by supertest in tests. */
export function createApp(deps: IngressDeps): Koa {
  const app = new Koa({ proxy: true });
  if (deps.sessionSecret) app.keys = [deps.sessionSecret];
  const { logger } = deps;

  // Koa takes a request as secure only when it came over TLS or a trusted proxy said so
  // (X-Forwarded-Proto, app.proxy), and refuses to set a Secure cookie otherwise. The public URL is
  // the authority here: a proxy that terminates TLS without that header must not drop the flag.
  if (deps.secureCookies) {
    app.use(async (ctx, next) => {
      ctx.cookies.secure = true;
      await next();
    });
  }

  // Request id and one central error handler: 4xx say what is wrong, 5xx say nothing internal.
  app.use(async (ctx, next) => {
    const requestId = ctx.get('x-request-id') || randomUUID();
    ctx.state.requestId = requestId;
    ctx.state.log = logger.child({ requestId });
    ctx.set('X-Request-Id', requestId);
    try {
      await next();
    } catch (err) {
      const status = (err as { status?: number; statusCode?: number }).status ?? (err as { statusCode?: number }).statusCode ?? 500;
      const expose = status < 500 && (err as { expose?: boolean }).expose !== false;
      ctx.status = status;
      ctx.body = { error: expose ? (err as Error).message : 'internal error', requestId };
      if (status >= 500) ctx.state.log.error({ err, path: ctx.path }, 'request failed');
    }
  });

  const router = new Router();

  router.get('/healthz', (ctx) => {
    ctx.body = { status: 'ok' };
  });

  router.get('/readyz', async (ctx) => {
    const checks: Record<string, string> = {};
    await Promise.all(
      Object.entries(deps.readiness ?? {}).map(async ([name, check]) => {
        try {
          await check();
          checks[name] = 'ok';
        } catch (err) {
          checks[name] = `unavailable: ${(err as Error).message}`;
        }
      }),
    );
    const ready = Object.values(checks).every((v) => v === 'ok');
    ctx.status = ready ? 200 : 503;
    ctx.body = { status: ready ? 'ready' : 'not ready', checks };
  });

  router.get('/metrics', async (ctx) => {
    if (!deps.metrics) throw createError(404, 'metrics are off');
    ctx.type = deps.metrics.registry.contentType;
    ctx.body = await deps.metrics.registry.metrics();
  });

  router.post('/webhooks/jobber', async (ctx) => {
    const started = process.hrtime.bigint();
    const log = ctx.state.log as Logger;
    const observe = (outcome: string) => deps.metrics?.observeWebhook(outcome, Number(process.hrtime.bigint() - started) / 1e9);

    let raw: Buffer;
    try {
      raw = await getRawBody(ctx.req, { limit: deps.webhookBodyLimit ?? '64kb', length: ctx.get('content-length') || undefined });
    } catch (err) {
      const status = (err as { status?: number }).status ?? 400;
      observe(status === 413 ? 'too_large' : 'unreadable');
      throw createError(status, status === 413 ? 'webhook body too large' : 'could not read the body');
    }

    const problem = verifyJobberSignature(raw, ctx.get('x-jobber-hmac-sha256') || undefined, deps.jobberClientSecret);
    if (problem) {
      // Never the body: it is unauthenticated and may carry personal data.
      log.warn({ reason: problem, bytes: raw.length, ip: ctx.ip }, 'webhook rejected: bad signature');
      observe(`signature_${problem}`);
      throw createError(401, 'invalid signature');
    }

    let event: JobberEvent;
    try {
      event = parseJobberWebhook(raw, ctx.get('content-type'));
    } catch (err) {
      if (!(err instanceof WebhookPayloadError)) throw err;
      if (!deps.keepMalformedWebhook) {
        log.warn({ reason: err.message }, 'webhook rejected: malformed payload');
        observe('malformed_rejected');
        throw createError(400, `malformed webhook: ${err.message}`);
      }
      // Signed, so Jobber sent it: answering errors is how an app gets its webhooks disabled.
      // Keep it for an operator to see and replay (npm run ops -- dead-letters list).
      let id: string;
      try {
        id = await deps.keepMalformedWebhook({ rawBody: raw, contentType: ctx.get('content-type') || undefined, reason: err.message });
      } catch (storeErr) {
        observe('malformed_unrecorded');
        log.error({ reason: err.message, err: (storeErr as Error).message }, 'malformed webhook not kept: store unavailable');
        ctx.set('Retry-After', '5');
        ctx.status = 503;
        ctx.body = { error: 'temporarily unavailable, retry later' };
        return;
      }
      observe('malformed');
      log.warn({ reason: err.message, deadLetter: id, bytes: raw.length }, 'malformed webhook kept as a dead letter');
      ctx.status = 202;
      ctx.body = { status: 'dead-lettered', reason: err.message, deadLetter: id };
      return;
    }

    const workflowId = eventWorkflowId(event);
    const { client, taskQueue } = deps.temporal;
    try {
      await client.connection.withDeadline(Date.now() + (deps.temporalDeadlineMs ?? 700), () =>
        startEventWorkflow(client, taskQueue, { event }, `${event.topic} ${event.itemId}`),
      );
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) {
        observe('duplicate');
        log.info({ workflowId, topic: event.topic }, 'webhook duplicate');
        ctx.status = 200;
        ctx.body = { status: 'duplicate', workflowId };
        return;
      }
      // Not accepted: Jobber must retry, so say so quickly and lose nothing.
      observe('temporal_unavailable');
      log.error({ workflowId, err: (err as Error).message }, 'webhook not accepted: Temporal unavailable');
      ctx.set('Retry-After', '5');
      ctx.status = 503;
      ctx.body = { error: 'temporarily unavailable, retry later' };
      return;
    }
    observe('accepted');
    log.info({ workflowId, topic: event.topic }, 'webhook accepted');
    ctx.status = 202;
    ctx.body = { status: 'accepted', workflowId };
  });

  app.use(router.routes()).use(router.allowedMethods());
  for (const extra of deps.routers ?? []) app.use(extra.routes()).use(extra.allowedMethods());
  return app;
}
