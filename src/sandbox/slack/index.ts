import { randomBytes } from 'node:crypto';
import Koa from 'koa';
import Router from '@koa/router';
import { bodyParser } from '@koa/bodyparser';
import pino from 'pino';
import type { Logger } from '../../logger';
import { errorHandler, listen, publicHost, requestLogger, sleep } from '../jobber/http';
import { signSlackRequest } from '../../slack/verify';
import { escapeHtml } from '../jobber/http';
import { createMethods, runMethod, type SlackIdentity } from './methods';
import { SlackState, type SlackFault, type SlackFaultInput } from './state';
import { OAuthApiError, Workspaces, type SlackApp, type SlackTeam } from './workspaces';

export type { SlackMessage, EphemeralMessage, SlackCall, SlackFault, SlackFaultInput } from './state';
export type { SlackApp, SlackTeam, SlackChannel } from './workspaces';

/** The app the stand-in knows unless told otherwise (the local run and the tests install it). */
export const DEFAULT_SLACK_APP = {
  appId: 'A0SANDBOX',
  clientId: '1000000000.2000000000',
  clientSecret: 'sandbox-slack-client-secret',
  signingSecret: 'sandbox-slack-signing-secret',
} as const;

/** An Events API delivery as the stand-in sent it. */
export interface EventDelivery {
  type: string;
  teamId: string;
  status: number;
  body: unknown;
}

export interface SlackStandInOptions {
  /** The bot token accepted (default 'xoxb-sandbox'). */
  botToken?: string;
  teamId?: string;
  teamName?: string;
  botUserId?: string;
  botId?: string;
  appId?: string;
  /** The app's OAuth credentials (default DEFAULT_SLACK_APP), its redirect URLs and token rotation. */
  app?: Partial<Omit<SlackApp, 'appId'>>;
  /** Signs Events API callbacks (default DEFAULT_SLACK_APP.signingSecret). */
  signingSecret?: string;
  /** Where Events API callbacks go (the app's Request URL); settable later with setEventsUrl. */
  eventsUrl?: string;
  now?: () => Date;
  logger?: Logger;
}

export interface SlackStandIn {
  /** The Koa app (not listening): the Web API under /api/<method>, control under /admin. */
  app: Koa;
  state: SlackState;
  botToken: string;
  identity: SlackIdentity;
  workspaces: Workspaces;
  /** The app the OAuth flow installs. */
  slackApp: SlackApp;
  signingSecret: string;
  /** Events API callbacks sent, in order. */
  deliveries: EventDelivery[];
  addFault(fault: SlackFaultInput): SlackFault;
  /** Another workspace the app can be installed into (via the consent page or `install`). */
  addTeam(team: Parameters<Workspaces['addTeam']>[0]): SlackTeam;
  setEventsUrl(url: string | undefined): void;
  /** Sends a signed Events API callback for the team, as Slack does. */
  sendEvent(teamId: string, event: Record<string, unknown>, options?: { timestamp?: number; signingSecret?: string }): Promise<EventDelivery>;
  /** The user removes the app from the workspace in Slack: its tokens die and `app_uninstalled` is sent. */
  uninstallFromSlack(teamId: string): Promise<EventDelivery | undefined>;
  /** An admin revokes the bot's tokens: they die and `tokens_revoked` is sent. */
  revokeTokens(teamId: string): Promise<EventDelivery | undefined>;
  reset(): void;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/** Argument names whose values are secrets; never kept in the call log. */
const SECRET_ARGS = new Set(['token', 'client_secret', 'code', 'refresh_token']);

/** Methods that authenticate the app (client id and secret), not a token. */
const OAUTH_METHODS = new Set(['oauth.v2.access']);

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
  const methods = createMethods(state);
  const workspaces = new Workspaces(() => now().getTime());
  const slackApp = workspaces.addApp({
    appId: identity.appId,
    clientId: options.app?.clientId ?? DEFAULT_SLACK_APP.clientId,
    clientSecret: options.app?.clientSecret ?? DEFAULT_SLACK_APP.clientSecret,
    tokenRotation: options.app?.tokenRotation,
    redirectUrls: options.app?.redirectUrls,
  });
  // The first workspace, with the operator's token, as before OAuth: any channel name goes.
  workspaces.addTeam({ id: identity.teamId, name: identity.teamName, botUserId: identity.botUserId, botId: identity.botId, channels: [], anyChannel: true });
  workspaces.tokens.set(botToken, { teamId: identity.teamId, appId: identity.appId });
  const signingSecret = options.signingSecret ?? DEFAULT_SLACK_APP.signingSecret;
  let eventsUrl = options.eventsUrl;
  const deliveries: EventDelivery[] = [];
  const router = new Router();

  const sendEvent: SlackStandIn['sendEvent'] = async (teamId, event, opts = {}) => {
    if (!eventsUrl) throw new Error('no events URL: call setEventsUrl first');
    const eventTime = Math.floor(now().getTime() / 1000);
    const body = JSON.stringify({
      token: 'deprecated-verification-token',
      team_id: teamId,
      api_app_id: slackApp.appId,
      event: { ...event, event_ts: `${eventTime}.000000` },
      type: 'event_callback',
      event_id: `Ev${randomBytes(5).toString('hex').toUpperCase()}`,
      event_time: eventTime,
    });
    const timestamp = opts.timestamp ?? eventTime;
    const res = await fetch(eventsUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-slack-request-timestamp': String(timestamp),
        'x-slack-signature': signSlackRequest(body, timestamp, opts.signingSecret ?? signingSecret),
      },
      body,
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // Not JSON: kept as text.
    }
    const delivery = { type: String(event.type), teamId, status: res.status, body: parsed };
    deliveries.push(delivery);
    return delivery;
  };
  const uninstallFromSlack = async (teamId: string) => {
    workspaces.uninstall(slackApp.appId, teamId);
    return eventsUrl ? sendEvent(teamId, { type: 'app_uninstalled' }) : undefined;
  };
  const revokeTokens = async (teamId: string) => {
    const team = workspaces.teams.get(teamId);
    if (!team) throw new Error(`no team ${teamId}`);
    workspaces.uninstall(slackApp.appId, teamId);
    return eventsUrl ? sendEvent(teamId, { type: 'tokens_revoked', tokens: { oauth: [], bot: [team.botUserId] } }) : undefined;
  };

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
    if (OAUTH_METHODS.has(method)) {
      if (fault?.status) return answer({ ok: false, error: 'internal_error' }, fault.status);
      if (fault?.error) return answer({ ok: false, error: fault.error });
      return answer(oauthAccess(ctx, raw));
    }
    // Slack checks the method before the token.
    const fn = methods[method];
    if (!fn && method !== 'apps.uninstall') return answer({ ok: false, error: 'unknown_method', req_method: method });
    if (!token) return answer({ ok: false, error: 'not_authed' });
    const checked = workspaces.check(token);
    if ('error' in checked) return answer({ ok: false, error: checked.error });
    // A token works in its own workspace only.
    if (typeof args.team_id === 'string' && args.team_id !== '' && args.team_id !== checked.team.id) return answer({ ok: false, error: 'invalid_auth' });
    const callContext = { team: checked.team, appId: checked.issued.appId, scopes: checked.issued.scopes };
    if (method === 'apps.uninstall') {
      try {
        const app = workspaces.authenticateApp(str(raw.client_id), str(raw.client_secret));
        if (app.appId !== checked.issued.appId) return answer({ ok: false, error: 'invalid_client_id' });
        workspaces.uninstall(app.appId, checked.team.id);
        // Slack tells the app's Request URL too, after answering.
        if (eventsUrl)
          setImmediate(() => void sendEvent(checked.team.id, { type: 'app_uninstalled' }).catch((err: Error) => logger.warn({ err }, 'event not delivered')));
        return answer({ ok: true });
      } catch (err) {
        if (err instanceof OAuthApiError) return answer({ ok: false, error: err.code });
        throw err;
      }
    }
    if (fault?.applied) {
      const result = runMethod(fn!, args, callContext);
      if (fault.delayMs) await sleep(fault.delayMs);
      if (fault.status) return answer({ ok: false, error: 'internal_error' }, fault.status);
      return answer(fault.error ? { ok: false, error: fault.error } : result);
    }
    if (fault?.status) return answer({ ok: false, error: 'internal_error' }, fault.status);
    if (fault?.error) return answer({ ok: false, error: fault.error });
    answer(runMethod(fn!, args, callContext));
  };

  /** oauth.v2.access: the app's credentials (form fields or HTTP Basic), then the code or refresh token. */
  const oauthAccess = (ctx: Koa.Context, raw: Record<string, unknown>): { ok: boolean; error?: string } & Record<string, unknown> => {
    let clientId = str(raw.client_id);
    let clientSecret = str(raw.client_secret);
    const basic = /^Basic\s+(\S+)$/i.exec(ctx.get('authorization'))?.[1];
    if (basic) {
      const decoded = Buffer.from(basic, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon > 0) [clientId, clientSecret] = [decoded.slice(0, colon), decoded.slice(colon + 1)];
    }
    try {
      const app = workspaces.authenticateApp(clientId, clientSecret);
      const grantType = str(raw.grant_type);
      if (grantType === 'refresh_token') return workspaces.refresh(app, str(raw.refresh_token)) as { ok: true };
      if (grantType !== undefined && grantType !== 'authorization_code') return { ok: false, error: 'invalid_grant_type' };
      return workspaces.exchangeCode(app, str(raw.code), str(raw.redirect_uri)) as { ok: true };
    } catch (err) {
      if (err instanceof OAuthApiError) return { ok: false, error: err.code };
      throw err;
    }
  };

  /** Slack's error page for a bad authorize link: the user stays at Slack, nothing is redirected. */
  const oauthErrorPage = (ctx: Koa.Context, error: string) => {
    ctx.status = 400;
    ctx.type = 'html';
    ctx.body = `<!doctype html><html><head><title>Slack</title></head><body><h1>Something went wrong when authorizing this app.</h1><p id="error">${escapeHtml(error)}</p></body></html>`;
  };

  router.get('/oauth/v2/authorize', (ctx) => {
    const q = ctx.query as Record<string, string | undefined>;
    const problem = workspaces.authorizeProblem(str(q.client_id), str(q.redirect_uri), str(q.scope));
    if (problem) return oauthErrorPage(ctx, problem);
    const teams = [...workspaces.teams.values()];
    const hidden = (['client_id', 'redirect_uri', 'scope', 'state'] as const)
      .filter((k) => typeof q[k] === 'string')
      .map((k) => `<input type="hidden" name="${k}" value="${escapeHtml(q[k]!)}">`)
      .join('');
    ctx.type = 'html';
    ctx.body = `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Install app · Slack (stand-in)</title></head><body>
<h1>Jobber Sync is requesting permission to access a Slack workspace</h1>
<p>It will be able to: <span id="scopes">${escapeHtml(q.scope!)}</span></p>
<form method="post" action="/oauth/v2/authorize">${hidden}
<label>Workspace <select name="team">${teams.map((t) => `<option value="${escapeHtml(t.id)}">${escapeHtml(t.name)}</option>`).join('')}</select></label>
<button type="submit" name="decision" value="deny">Cancel</button>
<button type="submit" name="decision" value="allow">Allow</button>
</form></body></html>`;
  });

  router.post('/oauth/v2/authorize', (ctx) => {
    const b = (ctx.request.body ?? {}) as Record<string, string | undefined>;
    const clientId = str(b.client_id);
    const redirectUri = str(b.redirect_uri);
    const problem = workspaces.authorizeProblem(clientId, redirectUri, str(b.scope));
    if (problem) return oauthErrorPage(ctx, problem);
    const team = str(b.team);
    if (!team || !workspaces.teams.has(team)) return oauthErrorPage(ctx, 'team_not_found');
    const target = new URL(redirectUri ?? workspaces.apps.get(clientId!)!.redirectUrls![0]!);
    if (b.decision === 'allow') {
      const code = workspaces.issueCode({ clientId: clientId!, redirectUri, teamId: team, scopes: str(b.scope)!.split(','), userId: 'U0INSTALLER' });
      target.searchParams.set('code', code);
    } else {
      target.searchParams.set('error', 'access_denied');
    }
    if (b.state !== undefined) target.searchParams.set('state', b.state);
    ctx.redirect(target.toString());
  });
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
  router.get('/admin/teams', (ctx) => {
    ctx.body = [...workspaces.teams.values()];
  });
  router.post('/admin/teams', (ctx) => {
    const body = ctx.request.body as Parameters<Workspaces['addTeam']>[0];
    try {
      ctx.body = workspaces.addTeam(body);
      ctx.status = 201;
    } catch (err) {
      ctx.status = 400;
      ctx.body = { message: (err as Error).message };
    }
  });
  router.put('/admin/events-url', (ctx) => {
    eventsUrl = str((ctx.request.body as { url?: unknown }).url);
    ctx.status = 204;
  });
  router.get('/admin/deliveries', (ctx) => {
    ctx.body = deliveries;
  });
  router.post('/admin/teams/:teamId/uninstall', async (ctx) => {
    ctx.body = { ok: true, delivery: await uninstallFromSlack(ctx.params.teamId!) };
  });
  router.post('/admin/teams/:teamId/revoke-tokens', async (ctx) => {
    ctx.body = { ok: true, delivery: await revokeTokens(ctx.params.teamId!) };
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

  return {
    app,
    state,
    botToken,
    identity,
    workspaces,
    slackApp,
    signingSecret,
    deliveries,
    addFault: (f) => state.addFault(f),
    addTeam: (t) => workspaces.addTeam(t),
    setEventsUrl: (url) => {
      eventsUrl = url;
    },
    sendEvent,
    uninstallFromSlack,
    revokeTokens,
    reset: () => state.reset(),
  };
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
