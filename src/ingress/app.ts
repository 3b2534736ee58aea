import { randomUUID } from 'node:crypto';
import Koa from 'koa';
import Router from '@koa/router';
import createError from 'http-errors';
import type { Logger } from '../logger';
import { createJobberWebhookRouter, type JobberWebhookDeps } from './jobber-webhook';

export interface IngressDeps extends JobberWebhookDeps {
  logger: Logger;
  /** Readiness checks for /readyz, by name. */
  readiness?: Record<string, () => Promise<void>>;
  /** Extra routes (OAuth, Manage App, Slack) mounted by other modules. */
  routers?: Router[];
  /** Marks every cookie Secure (PUBLIC_URL is https), even on the plain-HTTP hop behind a TLS proxy. */
  secureCookies?: boolean;
  /** Signs cookies (OAuth state, Manage App session). */
  sessionSecret?: string;
}

/**
 * The ingress app; listened on by src/bin/ingress.ts, driven by supertest in tests. This is the
 * frame (request id, errors, health, readiness, metrics, secure cookies); the routes come from
 * their modules: the Jobber webhook here, OAuth, Manage App and Slack through `routers`.
 */
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

  for (const routes of [router, createJobberWebhookRouter(deps), ...(deps.routers ?? [])]) app.use(routes.routes()).use(routes.allowedMethods());
  return app;
}
