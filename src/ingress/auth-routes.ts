import { randomBytes, timingSafeEqual } from 'node:crypto';
import Router from '@koa/router';
import type { Context } from 'koa';
import { ACCOUNT_QUERY } from '../jobber/queries';
import type { JobberGraphQL } from '../jobber/client';
import type { JobberOAuth } from '../accounts/oauth';
import type { TokenPair, TokenStore } from '../accounts/token-store';
import type { Logger } from '../logger';
import type { Sessions } from './sessions';

export const STATE_COOKIE = 'jobber_oauth_state';

export interface AuthDeps {
  oauth: JobberOAuth;
  tokens: TokenStore;
  /** Reads `account { id name }` and `user { id }` with the new token. */
  jobber: JobberGraphQL;
  /**
   * Hands a stored grant to the account's workflow (signal-with-start), which adopts it into the
   * connection. Until it succeeds nothing is connected: the callback fails visibly when it cannot.
   */
  onConnected: (account: { id: string; name: string; grantId: string }) => Promise<void>;
  /** How long the callback waits for the workflow to adopt the grant before showing the result. */
  adoptionWaitMs?: number;
  /** Renders the result pages; the Manage App module supplies a real one. */
  page?: (ctx: Context, page: { status: number; title: string; message: string }) => void;
  logger: Logger;
  /** Manage App sessions: one starts after a connect with `state`. */
  sessions: Sessions;
}

const cookieOptions = { httpOnly: true, signed: true, sameSite: 'lax' as const, overwrite: true };

function sameState(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

async function whoAmI(deps: AuthDeps, tokens: TokenPair): Promise<{ id: string; name: string; userId?: string }> {
  // The account is unknown until this answers: its cost is paced under a placeholder key.
  const { data } = await deps.jobber.request<{ account: { id: string; name: string }; user: { id: string } | null }>(
    { accountId: 'oauth-callback', accessToken: tokens.accessToken },
    ACCOUNT_QUERY,
  );
  return { id: data.account.id, name: data.account.name, userId: data.user?.id };
}

/**
 * Connect flow. `GET /auth/jobber` binds a random `state` to a signed httpOnly cookie; the callback
 * only proceeds when the two match, and the cookie dies on first use, so a replayed callback fails.
 * The Marketplace connect (no `state`): see docs/ARCHITECTURE.md "Connecting without state".
 */
export function createAuthRouter(deps: AuthDeps): Router {
  const router = new Router();
  const page =
    deps.page ??
    ((ctx: Context, p: { status: number; title: string; message: string }) => {
      ctx.status = p.status;
      ctx.type = 'text/plain';
      ctx.body = `${p.title}\n${p.message}\n`;
    });

  router.get('/auth/jobber', (ctx) => {
    const state = randomBytes(24).toString('base64url');
    ctx.cookies.set(STATE_COOKIE, state, { ...cookieOptions, maxAge: 10 * 60_000 });
    ctx.redirect(deps.oauth.authorizeUrl(state));
  });

  router.get('/auth/jobber/callback', async (ctx) => {
    const log = (ctx.state.log as Logger | undefined) ?? deps.logger;
    const code = typeof ctx.query.code === 'string' ? ctx.query.code : undefined;
    const state = typeof ctx.query.state === 'string' ? ctx.query.state : undefined;
    const expected = ctx.cookies.get(STATE_COOKIE, { signed: true });
    ctx.cookies.set(STATE_COOKIE, null, cookieOptions);

    if (!code) {
      // Jobber sends the user back with no parameters when they deny access.
      page(ctx, { status: 400, title: 'Not connected', message: 'Access to your Jobber account was not granted. Nothing was stored.' });
      return;
    }
    if (state !== undefined) {
      if (!expected || !sameState(state, expected)) {
        log.warn({ hasCookie: Boolean(expected) }, 'oauth callback rejected: state mismatch');
        page(ctx, {
          status: 400,
          title: 'Connection link expired',
          message: 'This sign-in link is no longer valid. Start again from Connect. Nothing was stored.',
        });
        return;
      }
    } else if (expected) {
      // We started a flow with state and the answer lost it: refuse rather than guess.
      page(ctx, { status: 400, title: 'Connection link invalid', message: 'The answer from Jobber did not match this sign-in. Start again from Connect.' });
      return;
    }

    let tokens: TokenPair;
    let account: { id: string; name: string; userId?: string };
    try {
      tokens = await deps.oauth.exchangeCode(code);
      account = await whoAmI(deps, tokens);
    } catch (err) {
      log.warn({ err: (err as Error).message }, 'oauth callback failed: code exchange');
      page(ctx, { status: 502, title: 'Could not connect', message: 'Jobber did not accept the sign-in. Try Connect again. Nothing was stored.' });
      return;
    }
    // The grant goes in a document of its own; the connection has one writer, the account workflow.
    const grantId = await deps.tokens.storeGrant(account, tokens);
    try {
      await deps.onConnected({ id: account.id, name: account.name, grantId });
    } catch (err) {
      // No workflow will adopt the grant, so nothing would refresh these tokens: forget them.
      log.error({ accountId: account.id, err: (err as Error).message }, 'oauth callback failed: account workflow not reachable');
      await deps.tokens.dropGrant(grantId).catch(() => undefined);
      page(ctx, {
        status: 503,
        title: 'Could not connect',
        message: 'Jobber Sync could not finish connecting your account just now. Nothing was stored. Try Connect again in a minute.',
      });
      return;
    }
    // The workflow has the grant durably; wait (bounded) so the page shows the new connection.
    const waitUntil = Date.now() + (deps.adoptionWaitMs ?? 10_000);
    while (!(await deps.tokens.adopted(account.id, grantId)) && Date.now() < waitUntil) await new Promise((r) => setTimeout(r, 100));
    log.info({ accountId: account.id, marketplace: state === undefined }, 'jobber account connected');
    if (state === undefined) {
      // Marketplace connect: the code proves the account's owner granted access, so storing the
      // connection is safe, but nothing ties this browser to that person. Grant no session: a
      // forged callback must not sign a victim into someone else's account (login CSRF).
      page(ctx, {
        status: 200,
        title: `Connected ${account.name}`,
        message: 'Your Jobber account is connected. To manage it here, sign in with Jobber from the Manage App page.',
      });
      return;
    }
    await deps.sessions.start(ctx, account.id);
    ctx.redirect('/manage');
  });

  return router;
}
