import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type Koa from 'koa';
import { ZodError } from 'zod';
import type { Logger } from '../../logger';
import { SandboxError } from './clock';

/**
 * One error handler for a sandbox app: caller mistakes keep their status and message, anything
 * else is a logged 500 whose body says nothing internal.
 */
export function errorHandler(logger: Logger): Koa.Middleware {
  return async (ctx, next) => {
    try {
      await next();
    } catch (err) {
      if (err instanceof SandboxError) {
        ctx.status = err.status;
        ctx.body = { message: err.message };
      } else if (err instanceof ZodError) {
        ctx.status = 400;
        ctx.body = { message: 'Invalid request body', issues: err.issues.map((i) => ({ path: i.path.join('.'), message: i.message })) };
      } else if (isHttpError(err) && err.status < 500) {
        ctx.status = err.status;
        ctx.body = { message: err.expose ? err.message : http.STATUS_CODES[err.status] };
      } else {
        logger.error({ err, method: ctx.method, path: ctx.path }, 'sandbox request failed');
        ctx.status = 500;
        ctx.body = { message: 'Internal Server Error' };
      }
    }
  };
}

/** Logs method, path (never the query string or body: they can carry codes and secrets), status, time. */
export function requestLogger(logger: Logger): Koa.Middleware {
  return async (ctx, next) => {
    const started = Date.now();
    try {
      await next();
    } finally {
      logger.debug({ method: ctx.method, path: ctx.path, status: ctx.status, ms: Date.now() - started }, 'sandbox request');
    }
  };
}

function isHttpError(err: unknown): err is { status: number; expose?: boolean; message: string } {
  return typeof err === 'object' && err !== null && typeof (err as { status?: unknown }).status === 'number';
}

export interface Listening {
  server: http.Server;
  port: number;
  close(): Promise<void>;
}

/** Listens on host:port (0 = a free port); close() also ends keep-alive connections. */
export async function listen(app: Koa, port: number, host: string): Promise<Listening> {
  const server = http.createServer(app.callback());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const actualPort = (server.address() as AddressInfo).port;
  return {
    server,
    port: actualPort,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Host for URLs printed or returned: 0.0.0.0 / :: are not reachable addresses. */
export function publicHost(host: string): string {
  if (host === '0.0.0.0' || host === '::' || host === '') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}
