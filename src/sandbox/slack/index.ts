import Koa from 'koa';
import Router from '@koa/router';
import { bodyParser } from '@koa/bodyparser';
import pino from 'pino';
import type { Logger } from '../../logger';
import { errorHandler, listen, publicHost, requestLogger, sleep } from '../jobber/http';
import { createMethods, runMethod, type SlackIdentity } from './methods';
import { SlackState, type SlackFault, type SlackFaultInput } from './state';

export type { SlackMessage, EphemeralMessage, SlackCall, SlackFault, SlackFaultInput } from './state';

export interface SlackStandInOptions {
  /** The bot token accepted (default 'xoxb-sandbox'). */
  botToken?: string;
  teamId?: string;
  teamName?: string;
  botUserId?: string;
  botId?: string;
  appId?: string;
  now?: () => Date;
  logger?: Logger;
}

export interface SlackStandIn {
  /** The Koa app (not listening): the Web API under /api/<method>, control under /admin. */
  app: Koa;
  state: SlackState;
  botToken: string;
  identity: SlackIdentity;
  addFault(fault: SlackFaultInput): SlackFault;
  reset(): void;
}

/** Argument names whose values are secrets; never kept in the call log. */
const SECRET_ARGS = new Set(['token', 'client_secret']);

/**
 * A stand-in for Slack's Web API: the methods the service uses, Slack's auth errors and
 * `{ ok, error }` answers (HTTP 200), rate limits as HTTP 429 with Retry-After.
 */
export function createSlackStandIn(options: SlackStandInOptions = {}): SlackStandIn {
  const logger = options.logger ?? pino({ level: 'silent' });
  const now = options.now ?? (() => new Date());
  const botToken = options.botToken ?? 'xoxb-sandbox';
  const identity: SlackIdentity = {
    teamId: options.teamId ?? 'T0SANDBOX',
    teamName: options.teamName ?? 'Sandbox',
    botUserId: options.botUserId ?? 'U0SANDBOXBOT',
    botId: options.botId ?? 'B0SANDBOX',
    appId: options.appId ?? 'A0SANDBOX',
  };
  const state = new SlackState(() => now().getTime());
  const methods = createMethods(state, identity);
  const router = new Router();

  const handleMethod = async (ctx: Koa.Context) => {
    const method = ctx.params.method!;
    const raw: Record<string, unknown> = { ...(ctx.query as Record<string, unknown>), ...((ctx.request.body as Record<string, unknown>) ?? {}) };
    const bearer = /^Bearer\s+(\S+)$/i.exec(ctx.get('authorization'))?.[1];
    const token = bearer ?? (typeof raw.token === 'string' ? raw.token : undefined);
    const args = Object.fromEntries(Object.entries(raw).filter(([k]) => !SECRET_ARGS.has(k)));
    const call = { at: now().toISOString(), method, args, status: 200, ok: false } as SlackState['calls'][number];
    state.calls.push(call);

    const fault = state.takeFault(method);
    if (fault?.delayMs && !fault.applied) await sleep(fault.delayMs);
    const answer = (body: Record<string, unknown> & { ok: boolean; error?: string }, status = 200) => {
      ctx.status = status;
      ctx.body = body;
      call.status = status;
      call.ok = body.ok;
      call.error = body.error;
    };
    if (fault?.rateLimited) {
      ctx.set('Retry-After', String(fault.rateLimited.retryAfterSeconds));
      return answer({ ok: false, error: 'ratelimited' }, 429);
    }
    // Slack checks the method before the token.
    const fn = methods[method];
    if (!fn) return answer({ ok: false, error: 'unknown_method', req_method: method });
    if (!token) return answer({ ok: false, error: 'not_authed' });
    if (token !== botToken) return answer({ ok: false, error: 'invalid_auth' });
    if (fault?.applied) {
      const result = runMethod(fn, args);
      if (fault.delayMs) await sleep(fault.delayMs);
      if (fault.status) return answer({ ok: false, error: 'internal_error' }, fault.status);
      return answer(fault.error ? { ok: false, error: fault.error } : result);
    }
    if (fault?.status) return answer({ ok: false, error: 'internal_error' }, fault.status);
    if (fault?.error) return answer({ ok: false, error: fault.error });
    answer(runMethod(fn, args));
  };
  router.post('/api/:method', handleMethod);
  router.get('/api/:method', handleMethod);

  router.get('/admin/messages', (ctx) => {
    ctx.body = {
      messages: state.messages.map((m) => ({ ...m, channelName: state.channelName(m.channel) })),
      ephemeral: state.ephemeral,
    };
  });
  router.delete('/admin/messages', (ctx) => {
    state.clearMessages();
    ctx.status = 204;
  });
  router.get('/admin/calls', (ctx) => {
    ctx.body = state.calls;
  });
  router.post('/admin/faults', (ctx) => {
    ctx.status = 201;
    ctx.body = state.addFault(ctx.request.body as SlackFaultInput);
  });
  router.get('/admin/faults', (ctx) => {
    ctx.body = state.faults;
  });
  router.delete('/admin/faults', (ctx) => {
    state.faults = [];
    ctx.status = 204;
  });
  router.post('/admin/reset', (ctx) => {
    state.reset();
    ctx.body = { ok: true };
  });

  const app = new Koa();
  app.use(errorHandler(logger));
  app.use(requestLogger(logger));
  app.use(bodyParser({ enableTypes: ['json', 'form'] }));
  app.use(router.routes());
  app.use(router.allowedMethods());

  return { app, state, botToken, identity, addFault: (f) => state.addFault(f), reset: () => state.reset() };
}

export interface StartedSlackStandIn {
  /** Web API base with trailing slash: pass as WebClient's `slackApiUrl`. */
  url: string;
  adminUrl: string;
  port: number;
  standIn: SlackStandIn;
  close(): Promise<void>;
}

export async function startSlackStandIn(options: SlackStandInOptions & { port?: number; host?: string } = {}): Promise<StartedSlackStandIn> {
  const { port = 0, host = '127.0.0.1', ...rest } = options;
  const standIn = createSlackStandIn(rest);
  const server = await listen(standIn.app, port, host);
  const origin = `http://${publicHost(host)}:${server.port}`;
  return { url: `${origin}/api/`, adminUrl: `${origin}/admin`, port: server.port, standIn, close: () => server.close() };
}
