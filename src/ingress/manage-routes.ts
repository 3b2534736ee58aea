import Router from '@koa/router';
import bodyParser from '@koa/bodyparser';
import type { Context } from 'koa';
import type { Models } from '../db/models';
import { connectionStatusLabel } from '../../workflows/definitions';
import type { AccountControl } from '../workflow-client/account-control';
import { counted } from '../slack/format';
import { ALERT_FACT_LABELS, ALERT_FACTS, parseAlertRulesForm, readAlertRules, saveAlertRules, type AlertRules } from '../slack/alert-rules';
import { RECORD_TYPES } from '../records';
import { modelFor } from '../db/records';
import { accountActivity } from '../accounts/activity';
import { SESSION_COOKIE, type Session, type Sessions } from './sessions';
import type { Logger } from '../logger';

export interface ManageDeps {
  models: Models;
  control: AccountControl;
  sessions: Sessions;
  /** The account's Slack section (src/ingress/slack-install-routes.ts). */
  slackSection?: (session: Session, log: Logger) => Promise<string>;
}

const esc = (s: unknown): string => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

const when = (d: Date | null | undefined): string => (d ? new Date(d).toISOString().replace('T', ' ').slice(0, 16) + ' UTC' : 'never');

const STYLE = `
body{font:15px/1.5 system-ui,-apple-system,Segoe UI,sans-serif;margin:0;background:#f4f6f8;color:#1f2a33}
main{max-width:640px;margin:48px auto;padding:32px;background:#fff;border-radius:12px;box-shadow:0 1px 3px rgba(0,0,0,.12)}
h1{font-size:22px;margin:0 0 4px}p.sub{color:#5b6b78;margin:0 0 24px}
dl{display:grid;grid-template-columns:180px 1fr;gap:8px 16px;margin:0 0 28px}dt{color:#5b6b78}dd{margin:0}
.ok{color:#1b7f3b;font-weight:600}.bad{color:#b42318;font-weight:600}.detail{color:#5b6b78;font-size:.9em;overflow-wrap:anywhere}
.actions{display:flex;gap:12px;flex-wrap:wrap}form{margin:0}
button,a.button{font:inherit;padding:9px 18px;border-radius:8px;border:1px solid #c5ced6;background:#fff;color:#1f2a33;cursor:pointer;text-decoration:none;display:inline-block}
.primary{background:#0b6e4f;border-color:#0b6e4f;color:#fff}.danger{color:#b42318;border-color:#e4a9a3}
#alert-rules{margin:0 0 28px}#alert-rules h2{font-size:17px;margin:0 0 4px}#alert-rules table{border-collapse:collapse;margin:8px 0 12px}
#alert-rules td{padding:4px 12px 4px 0}#alert-rules input[type=text]{font:inherit;padding:4px 8px;width:150px}`;

export function renderPage(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${esc(title)} · Jobber Sync</title><style>${STYLE}</style></head><body><main>${body}</main></body></html>`;
}

/** A page for the connect flow's outcomes (denied, expired link, failure, Marketplace connect). */
export function messagePage(ctx: Context, page: { status: number; title: string; message: string }): void {
  ctx.status = page.status;
  ctx.type = 'html';
  ctx.body = renderPage(
    page.title,
    `<h1>${esc(page.title)}</h1><p class="sub">${esc(page.message)}</p><div class="actions"><a class="button" href="/manage">Manage App</a><a class="button primary" href="/auth/jobber">Connect Jobber</a></div>`,
  );
}

/** The alert rules form: a checkbox and an optional channel id per fact (src/slack/alert-rules.ts). */
function alertRulesSection(rules: AlertRules, csrf: string): string {
  const rows = ALERT_FACTS.map((fact) => {
    const rule = rules[fact];
    return `<tr><td><label><input type="checkbox" name="on" value="${fact}"${rule.on ? ' checked' : ''}> ${esc(ALERT_FACT_LABELS[fact])}</label></td>
<td><input type="text" name="channel:${fact}" value="${esc(rule.channel)}" placeholder="account's channel" aria-label="${esc(ALERT_FACT_LABELS[fact])} channel id"></td></tr>`;
  }).join('\n');
  return `<section id="alert-rules"><h2>Slack alerts</h2><p class="detail">What posts to Slack, and where: a channel id (C…) sends that fact to its own channel.</p>
<form method="post" action="/alert-rules"><input type="hidden" name="csrf" value="${esc(csrf)}"><table>${rows}</table><button type="submit">Save alert rules</button></form></section>`;
}

/**
 * The Manage App page. The session is server-side (src/ingress/sessions.ts): the signed httpOnly
 * cookie holds a random id. Every state change is a POST carrying the session's own form token in
 * its body, never in a URL (SameSite=Lax keeps other sites' POSTs from carrying the cookie; the
 * token is the second lock).
 */
export function createManageRouter(deps: ManageDeps): Router {
  const router = new Router();
  const { sessions } = deps;
  const form = bodyParser({ enableTypes: ['form'], formLimit: '4kb' });
  /** The signed-in session whose form token the POST carries; otherwise answers 401 or 403. */
  const formSession = async (ctx: Context) => {
    const session = await sessions.current(ctx);
    if (!session) {
      messagePage(ctx, { status: 401, title: 'Not signed in', message: 'Your session has ended. Sign in with Connect Jobber.' });
      return undefined;
    }
    if (!sessions.validCsrf(session, (ctx.request.body as Record<string, unknown> | undefined)?.csrf)) ctx.throw(403, 'invalid form token; reload the page');
    return session;
  };

  router.get('/manage', async (ctx) => {
    const session = await sessions.current(ctx);
    const accountId = session?.accountId;
    const connection = session?.connection;
    if (!session || !accountId || !connection) {
      // A cookie that no longer signs in (signed out, expired, disconnected, connected again): say so.
      const ended = ctx.cookies.get(SESSION_COOKIE, { signed: true })
        ? '<p class="detail" id="session-ended">Your session has ended or is not active. Connect Jobber to sign in again.</p>'
        : '';
      ctx.type = 'html';
      ctx.body = renderPage(
        'Manage App',
        `<h1>Jobber Sync</h1><p class="sub">Sync your Jobber clients, jobs and invoices, with Slack alerts for new jobs and paid invoices.</p>
${ended}<div class="actions"><a class="button primary" href="/auth/jobber">Connect Jobber</a></div>`,
      );
      return;
    }
    const [counts, state, activity] = await Promise.all([
      Promise.all(
        RECORD_TYPES.map(async (t) => counted(await modelFor(deps.models, t.kind).countDocuments({ accountId, deletedAt: null }), t.label.one, t.label.many)),
      ),
      connection.status === 'connected' ? deps.control.state(accountId) : Promise.resolve(undefined),
      accountActivity(deps.models, accountId, connection),
    ]);
    const connected = connection.status === 'connected';
    // One fact per line: the status word, then its details, so a long reason wraps on its own.
    const health = connected
      ? `<span class="ok">Healthy</span><br><span class="detail">token valid until ${esc(when(connection.accessTokenExpiresAt))}${state ? ` · ${counted(state.refreshes, 'refresh', 'refreshes')}` : ''}</span>`
      : `<span class="bad">${connectionStatusLabel(connection.status)}</span>${connection.statusReason ? `<br><span class="detail">${esc(connection.statusReason)}</span>` : ''}`;
    const csrf = esc(session.csrf);
    const alertRules = alertRulesSection(await readAlertRules(deps.models, accountId), session.csrf);
    const actions = connected
      ? `<form method="post" action="/sync"><input type="hidden" name="csrf" value="${csrf}"><button type="submit">Sync now</button></form>
<form method="post" action="/disconnect"><input type="hidden" name="csrf" value="${csrf}"><button class="danger" type="submit">Disconnect</button></form>
<form method="post" action="/signout"><input type="hidden" name="csrf" value="${csrf}"><button type="submit">Sign out</button></form>`
      : `<a class="button primary" href="/auth/jobber">Connect Jobber</a>`;
    ctx.type = 'html';
    ctx.body = renderPage(
      connection.name || 'Manage App',
      `<h1>${esc(connection.name || accountId)}</h1><p class="sub">Jobber account connected to Jobber Sync</p>
<dl>
<dt>Status</dt><dd id="status" class="${connected ? 'ok' : 'bad'}">${connectionStatusLabel(connection.status)}</dd>
<dt>Connected since</dt><dd>${esc(when(connection.connectedAt))}</dd>
<dt>Token health</dt><dd>${health}</dd>
<dt>Last webhook</dt><dd>${esc(when(activity.lastWebhookAt))}</dd>
<dt>Last sync</dt><dd>${esc(when(activity.lastSyncAt))}</dd>
<dt>Records</dt><dd id="counts">${counts.join(' · ')}${state?.backfill === 'running' ? ' (initial sync running)' : ''}</dd>
</dl>${alertRules}<div class="actions">${actions}</div>${connected && deps.slackSection ? await deps.slackSection(session, ctx.state.log as Logger) : ''}`,
    );
  });

  router.post('/alert-rules', form, async (ctx) => {
    const session = await formSession(ctx);
    if (!session) return;
    const parsed = parseAlertRulesForm(ctx.request.body as Record<string, unknown>);
    if (!parsed.ok) {
      messagePage(ctx, { status: 400, title: 'Alert rules not saved', message: `Nothing was changed: ${parsed.errors.join('; ')}.` });
      return;
    }
    await saveAlertRules(deps.models, session.accountId, parsed.rules);
    ctx.redirect('/manage');
  });

  router.post('/disconnect', form, async (ctx) => {
    const session = await formSession(ctx);
    if (!session) return;
    await deps.control.disconnect(session.accountId, 'disconnected from the Manage App page');
    await sessions.endAll(ctx, session.accountId);
    messagePage(ctx, { status: 200, title: 'Disconnected', message: 'Jobber Sync no longer has access to your Jobber account, and its tokens are deleted.' });
  });

  // A link must never change state, and a form token must never sit in a URL (history, logs,
  // Referer): the seed apps' GET /disconnect?csrf= is refused, whatever it carries.
  router.get('/disconnect', (ctx) => {
    ctx.set('Allow', 'POST');
    messagePage(ctx, {
      status: 405,
      title: 'Not disconnected',
      message: 'Disconnect with the Disconnect button on the Manage App page; a link cannot disconnect.',
    });
  });

  router.post('/signout', form, async (ctx) => {
    if (!(await formSession(ctx))) return;
    await sessions.end(ctx);
    messagePage(ctx, { status: 200, title: 'Signed out', message: 'You are signed out of Jobber Sync. Your Jobber account stays connected.' });
  });

  router.post('/sync', form, async (ctx) => {
    const session = await formSession(ctx);
    if (!session) return;
    await deps.control.syncNow(session.accountId);
    ctx.redirect('/manage');
  });

  return router;
}
