/**
 * "Add to Slack" for the signed-in account of the Manage App page: Slack's OAuth v2 flow, the
 * channel its alerts go to, and "Disconnect Slack". Tokens never reach a page or a log line.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import Router from '@koa/router';
import bodyParser from '@koa/bodyparser';
import type { Context } from 'koa';
import type { Models } from '../db/models';
import type { Logger } from '../logger';
import { postableChannels, SLACK_OAUTH_CALLBACK, type SlackInstallations, type SlackOAuth } from '../slack/installations';
import type { Session, Sessions } from './sessions';

export const SLACK_STATE_COOKIE = 'slack_oauth_state';
export const SLACK_INSTALL_PATH = '/slack/install';

export interface SlackInstallDeps {
  models: Models;
  sessions: Sessions;
  installations: SlackInstallations;
  /** Absent when SLACK_CLIENT_ID / SLACK_CLIENT_SECRET are not configured: no "Add to Slack". */
  oauth?: SlackOAuth;
  logger: Logger;
  /** The Manage App page's frame for results (messagePage). */
  page: (ctx: Context, page: { status: number; title: string; message: string }) => void;
}

const cookieOptions = { httpOnly: true, signed: true, sameSite: 'lax' as const, overwrite: true };
const esc = (s: unknown): string => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

/**
 * `state` = nonce + HMAC over it and the account, keyed by the session's own secret (its form
 * token): it holds only for the session that started the install, and the nonce is also kept in a
 * signed cookie that dies on first use, so a replayed or forged callback changes nothing.
 */
const stateMac = (session: Session, nonce: string) =>
  createHmac('sha256', session.csrf).update(`slack-install:${session.accountId}:${nonce}`).digest('base64url');

function stateHolds(session: Session, state: string | undefined, cookieNonce: string | undefined): boolean {
  if (!state || !cookieNonce) return false;
  const [nonce, mac] = state.split('.');
  if (!nonce || !mac || nonce !== cookieNonce) return false;
  const a = Buffer.from(mac);
  const b = Buffer.from(stateMac(session, nonce));
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The Slack section of the Manage App page for this session's account. */
export async function renderSlackSection(deps: SlackInstallDeps, session: Session, log: Logger): Promise<string> {
  const csrf = esc(session.csrf);
  const inst = await deps.installations.get(session.accountId);
  const undelivered = await deps.models.SlackUndelivered.countDocuments({ accountId: session.accountId });
  const kept = undelivered ? `<br><span class="detail" id="slack-undelivered">${undelivered} alert${undelivered === 1 ? '' : 's'} not delivered</span>` : '';
  const add = deps.oauth ? `<a class="button primary" href="${SLACK_INSTALL_PATH}">Add to Slack</a>` : '';
  if (!inst) {
    return `<h2>Slack</h2><p class="sub" id="slack-status">No Slack workspace: alerts go to the operator's workspace, if there is one.${kept}</p><div class="actions">${add}</div>`;
  }
  const disconnect = `<form method="post" action="/slack/disconnect"><input type="hidden" name="csrf" value="${csrf}"><button class="danger" type="submit">Disconnect Slack</button></form>`;
  if (inst.status !== 'active') {
    return `<h2>Slack</h2><p class="sub"><span class="bad" id="slack-status">Slack disconnected</span> · ${esc(inst.teamName)}<br><span class="detail">${esc(inst.statusReason)}</span>${kept}</p>
<div class="actions">${add.replace('Add to Slack', 'Reinstall Slack')}${disconnect}</div>`;
  }
  let picker = '';
  try {
    const channels = await postableChannels(deps.installations, inst);
    picker = `<form method="post" action="/slack/channel"><input type="hidden" name="csrf" value="${csrf}"><label>Alert channel <select name="channel">${channels
      .map((c) => `<option value="${esc(c.id)}"${c.id === inst.channel ? ' selected' : ''}>#${esc(c.name)}</option>`)
      .join('')}</select></label> <button type="submit">Use this channel</button></form>`;
  } catch (err) {
    log.warn({ accountId: session.accountId, slackError: (err as { data?: { error?: string } }).data?.error }, 'slack channels not listed');
    picker = '<p class="detail">Slack did not list the channels just now; reload to try again.</p>';
  }
  const where = inst.channel
    ? `alerts go to <strong id="slack-channel">#${esc(inst.channelName)}</strong>`
    : '<span class="bad" id="slack-channel">pick a channel for alerts</span>';
  return `<h2>Slack</h2><p class="sub"><span class="ok" id="slack-status">Connected</span> to <strong id="slack-team">${esc(inst.teamName)}</strong>: ${where}${kept}</p>
<div class="actions">${picker}${disconnect}</div>`;
}

export function createSlackInstallRouter(deps: SlackInstallDeps): Router {
  const router = new Router();
  const form = bodyParser({ enableTypes: ['form'], formLimit: '4kb' });
  const signedIn = async (ctx: Context): Promise<Session | undefined> => {
    const session = await deps.sessions.current(ctx);
    if (!session) deps.page(ctx, { status: 401, title: 'Not signed in', message: 'Sign in with Connect Jobber on the Manage App page first.' });
    return session;
  };
  const formSession = async (ctx: Context): Promise<Session | undefined> => {
    const session = await signedIn(ctx);
    if (session && !deps.sessions.validCsrf(session, (ctx.request.body as Record<string, unknown> | undefined)?.csrf))
      ctx.throw(403, 'invalid form token; reload the page');
    return session;
  };

  router.get(SLACK_INSTALL_PATH, async (ctx) => {
    const session = await signedIn(ctx);
    if (!session) return;
    if (!deps.oauth) return deps.page(ctx, { status: 404, title: 'Slack not available', message: 'This Jobber Sync is not set up to add Slack workspaces.' });
    const nonce = randomBytes(24).toString('base64url');
    ctx.cookies.set(SLACK_STATE_COOKIE, nonce, { ...cookieOptions, maxAge: 10 * 60_000 });
    ctx.redirect(deps.oauth.authorizeUrl(`${nonce}.${stateMac(session, nonce)}`));
  });

  router.get(SLACK_OAUTH_CALLBACK, async (ctx) => {
    const log = (ctx.state.log as Logger | undefined) ?? deps.logger;
    const cookieNonce = ctx.cookies.get(SLACK_STATE_COOKIE, { signed: true });
    ctx.cookies.set(SLACK_STATE_COOKIE, null, cookieOptions);
    const session = await signedIn(ctx);
    if (!session || !deps.oauth) return;
    const q = ctx.query as Record<string, unknown>;
    const state = typeof q.state === 'string' ? q.state : undefined;
    if (!stateHolds(session, state, cookieNonce)) {
      log.warn({ accountId: session.accountId, hasCookie: Boolean(cookieNonce) }, 'slack install rejected: state mismatch');
      return deps.page(ctx, {
        status: 400,
        title: 'Slack link expired',
        message: 'This Add to Slack link is no longer valid. Start again from Add to Slack. Nothing was changed.',
      });
    }
    if (typeof q.code !== 'string' || !q.code) {
      return deps.page(ctx, { status: 400, title: 'Slack not added', message: 'Slack access was not granted. Nothing was changed.' });
    }
    let grant;
    try {
      grant = await deps.oauth.exchangeCode(q.code);
    } catch (err) {
      log.warn(
        { accountId: session.accountId, slackError: (err as { data?: { error?: string } }).data?.error ?? (err as Error).message },
        'slack install failed: code exchange',
      );
      return deps.page(ctx, {
        status: 502,
        title: 'Slack not added',
        message: 'Slack did not accept this sign-in. Try Add to Slack again. Nothing was changed.',
      });
    }
    if (!(await deps.installations.install(session.accountId, grant))) {
      log.warn({ accountId: session.accountId, teamId: grant.teamId }, 'slack install not adopted');
      return deps.page(ctx, { status: 409, title: 'Slack not added', message: 'Slack was not added just now. Try Add to Slack again.' });
    }
    log.info({ accountId: session.accountId, teamId: grant.teamId }, 'slack workspace installed');
    ctx.redirect('/manage');
  });

  router.post('/slack/channel', form, async (ctx) => {
    const session = await formSession(ctx);
    if (!session) return;
    const channel = (ctx.request.body as Record<string, unknown>).channel;
    const inst = await deps.installations.get(session.accountId);
    if (!inst || inst.status !== 'active')
      return deps.page(ctx, { status: 409, title: 'Slack not connected', message: 'Add to Slack first. Nothing was changed.' });
    // Only a channel the bot can post to, as Slack lists it now: never a name typed by hand.
    const found = typeof channel === 'string' ? (await postableChannels(deps.installations, inst)).find((c) => c.id === channel) : undefined;
    if (!found) {
      return deps.page(ctx, {
        status: 400,
        title: 'Channel not available',
        message: 'Jobber Sync cannot post to that channel. Pick one from the list. Nothing was changed.',
      });
    }
    // The installation's writer checks the channel again (Slack's list as it is then) and keeps its name.
    if (!(await deps.installations.setChannel(session.accountId, found.id))) {
      return deps.page(ctx, {
        status: 400,
        title: 'Channel not available',
        message: 'Jobber Sync cannot post to that channel. Pick one from the list. Nothing was changed.',
      });
    }
    ctx.redirect('/manage');
  });

  router.post('/slack/disconnect', form, async (ctx) => {
    const session = await formSession(ctx);
    if (!session) return;
    await deps.installations.disconnect(session.accountId);
    ctx.redirect('/manage');
  });

  return router;
}
