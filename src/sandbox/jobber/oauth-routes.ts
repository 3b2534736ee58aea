import { STATUS_CODES } from 'node:http';
import type Koa from 'koa';
import type Router from '@koa/router';
import type { SandboxDeps } from './deps';
import { escapeHtml, sleep } from './http';
import { OAuthError } from './oauth';

type Params = Record<string, string | undefined>;

function stringParams(...sources: unknown[]): Params {
  const out: Params = {};
  for (const source of sources) {
    if (!source || typeof source !== 'object') continue;
    for (const [key, value] of Object.entries(source)) {
      if (typeof value === 'string' && out[key] === undefined) out[key] = value;
    }
  }
  return out;
}

function withParams(uri: string, params: Params): string {
  const url = new URL(uri);
  for (const [key, value] of Object.entries(params)) if (value !== undefined) url.searchParams.set(key, value);
  return url.toString();
}

function page(title: string, body: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>
  body { font-family: system-ui, sans-serif; background: #f4f6f8; color: #1f2933; margin: 0; }
  main { max-width: 28rem; margin: 4rem auto; background: #fff; border-radius: 8px; padding: 2rem; box-shadow: 0 1px 4px rgba(0,0,0,.12); }
  h1 { font-size: 1.3rem; margin-top: 0; }
  label { display: block; font-weight: 600; margin: 1rem 0 .25rem; }
  select, input[type=text] { width: 100%; padding: .5rem; box-sizing: border-box; }
  .actions { display: flex; gap: .75rem; margin-top: 1.5rem; }
  button { padding: .6rem 1.2rem; border-radius: 4px; border: 1px solid #7b8794; background: #fff; cursor: pointer; font-size: 1rem; }
  button.allow { background: #0a7c3e; border-color: #0a7c3e; color: #fff; }
  .note { color: #52606d; font-size: .9rem; }
</style>
</head>
<body><main>${body}</main></body>
</html>`;
}

function errorPage(ctx: Koa.Context, message: string): void {
  ctx.status = 400;
  ctx.type = 'html';
  ctx.body = page('Jobber sandbox: authorization error', `<h1>Authorization error</h1><p role="alert">${escapeHtml(message)}</p>`);
}

/** Checks client_id, redirect_uri and response_type; returns an error message or undefined. */
function checkRequest(deps: SandboxDeps, params: Params): string | undefined {
  if (params.client_id !== deps.oauth.clientId) return 'Unknown client_id: no app is registered with this client id.';
  if (params.response_type !== 'code') return 'response_type must be "code".';
  const redirect = params.redirect_uri;
  if (!redirect) return 'redirect_uri is required.';
  try {
    if (!/^https?:$/.test(new URL(redirect).protocol)) return 'redirect_uri must be an http(s) URL.';
  } catch {
    return 'redirect_uri must be an absolute URL.';
  }
  if (deps.redirectUris && !deps.redirectUris.includes(redirect)) return "redirect_uri does not match the app's callback URL.";
  return undefined;
}

function approve(ctx: Koa.Context, deps: SandboxDeps, params: Params, accountId: number): void {
  const code = deps.oauth.createCode(accountId, params.client_id!, params.redirect_uri!);
  ctx.redirect(withParams(params.redirect_uri!, { code, state: params.state || undefined }));
}

function consentPage(deps: SandboxDeps, params: Params, fixedAccount: number | undefined): string {
  const hidden = ['response_type', 'client_id', 'redirect_uri', 'state']
    .filter((k) => params[k] !== undefined)
    .map((k) => `<input type="hidden" name="${k}" value="${escapeHtml(params[k]!)}">`)
    .join('\n');
  const accounts = deps.store.listAccounts();
  let picker: string;
  if (fixedAccount !== undefined) {
    const account = deps.store.accountView(deps.store.accountByNumber(fixedAccount)!);
    picker = `<p>Account: <strong id="account-name">${escapeHtml(account.name)}</strong></p>
<input type="hidden" name="account_id" value="${escapeHtml(account.id)}">`;
  } else {
    const options = accounts.map((a, i) => `<option value="${escapeHtml(a.id)}"${i === 0 ? ' selected' : ''}>${escapeHtml(a.name)}</option>`).join('\n');
    picker = `<label for="account_id">Jobber account</label>
<select id="account_id" name="account_id">
${options}
<option value="new"${accounts.length === 0 ? ' selected' : ''}>Create a new account…</option>
</select>
<label for="new_account_name">New account name (when creating one)</label>
<input type="text" id="new_account_name" name="new_account_name" value="Sandbox Account">`;
  }
  return page(
    `Jobber sandbox: connect ${deps.application.name}`,
    `<h1>Connect ${escapeHtml(deps.application.name)} to Jobber</h1>
<p><strong>${escapeHtml(deps.application.name)}</strong> by ${escapeHtml(deps.application.author)} wants to access your Jobber account:
read clients, jobs and invoices.</p>
<form method="post" action="/api/oauth/authorize">
${hidden}
${picker}
<div class="actions">
<button type="submit" class="allow" name="decision" value="allow">Allow access</button>
<button type="submit" name="decision" value="cancel">Cancel</button>
</div>
</form>
<p class="note">This is the Jobber sandbox, not Jobber.</p>`,
  );
}

/** GET/POST /api/oauth/authorize (consent page) and POST /api/oauth/token. */
export function registerOAuthRoutes(router: Router, deps: SandboxDeps): void {
  router.get('/api/oauth/authorize', (ctx) => {
    const params = stringParams(ctx.query);
    const problem = checkRequest(deps, params);
    if (problem) return errorPage(ctx, problem);
    let fixedAccount: number | undefined;
    if (params.account_id) {
      fixedAccount = deps.store.accountNumber(params.account_id);
      if (fixedAccount === undefined) return errorPage(ctx, `Unknown account_id ${params.account_id}.`);
    }
    if (params.auto_approve === '1' || params.auto_approve === 'true') {
      if (fixedAccount === undefined) return errorPage(ctx, 'auto_approve needs account_id.');
      return approve(ctx, deps, params, fixedAccount);
    }
    ctx.type = 'html';
    ctx.body = consentPage(deps, params, fixedAccount);
  });

  router.post('/api/oauth/authorize', (ctx) => {
    const params = stringParams(ctx.request.body);
    const problem = checkRequest(deps, params);
    if (problem) return errorPage(ctx, problem);
    // A user who denies access comes back with no parameters at all, as on Jobber.
    if (params.decision !== 'allow') return ctx.redirect(params.redirect_uri!);
    let accountId: number | undefined;
    if (!params.account_id || params.account_id === 'new') {
      const created = deps.store.createAccount({ name: params.new_account_name?.trim() || undefined });
      accountId = deps.store.accountNumber(created.id);
    } else {
      accountId = deps.store.accountNumber(params.account_id);
    }
    if (accountId === undefined) return errorPage(ctx, `Unknown account_id ${params.account_id}.`);
    approve(ctx, deps, params, accountId);
  });

  router.post('/api/oauth/token', async (ctx) => {
    // Jobber documents a form body; JSON and query parameters are accepted too (Rails merges them).
    const params = stringParams(ctx.request.body, ctx.query);
    // Faults can target an account: the one whose refresh token is presented.
    const account = params.refresh_token ? deps.oauth.refreshTokenAccount(params.refresh_token) : undefined;
    const fault = deps.faults.take('token', { accountId: account !== undefined ? deps.store.enc('Account', account) : undefined });
    if (fault?.delayMs) await sleep(fault.delayMs);
    if (fault && (fault.drop || fault.status || fault.error)) deps.oauth.recordInjected(params, fault.drop ? 'reset' : (fault.error ?? `HTTP ${fault.status}`));
    if (fault?.drop) {
      ctx.req.socket.destroy();
      ctx.respond = false;
      return;
    }
    if (fault?.error) {
      const refusal = deps.oauth.refusal(fault.error, params.refresh_token);
      ctx.status = refusal.status;
      ctx.body = refusal.body;
      return;
    }
    if (fault?.status) {
      // As a gateway or rate limiter in front of Jobber answers: no OAuth error code.
      ctx.status = fault.status;
      if (fault.status === 429) ctx.set('Retry-After', String(fault.retryAfterSeconds ?? 10));
      if (fault.status >= 502 && fault.status <= 504) {
        ctx.type = 'html';
        ctx.body = `<html><body><h1>${fault.status} ${STATUS_CODES[fault.status]}</h1></body></html>`;
      } else {
        ctx.body = { message: STATUS_CODES[fault.status] ?? 'Error' };
      }
      return;
    }
    try {
      ctx.body = await deps.oauth.grant(params);
      ctx.set('Cache-Control', 'no-store');
    } catch (err) {
      if (!(err instanceof OAuthError)) throw err;
      ctx.status = err.status;
      ctx.body = err.body;
    }
  });
}
